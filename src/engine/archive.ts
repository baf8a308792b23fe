// `save` and `load`: images to and from tar archives.
//
// save writes what `docker save` (25+) writes: one tar that is at once an OCI
// image layout (oci-layout, index.json, blobs/sha256/*) and a docker-archive
// (manifest.json pointing at the same blobs), so docker, podman, skopeo and
// tsrun can all read it. Blobs are written as stored (compressed layers),
// foreign layers included; manifest.json's LayerSources keeps their
// descriptors (urls and all), as docker save writes it. load reads either form, including the older docker-archive layout
// (<id>/layer.tar, <id>.json), plain or gzip-compressed.
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, normalize } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import { ArchiveError, InvalidManifestError, NotFoundError, UnsafeArchiveError } from '../errors.js';
import { digestHex, isValidDigest } from '../image/digest.js';
import { isForeignLayer } from '../image/foreign.js';
import { chainIds, hostPlatform, parseImageConfig, parseManifest, selectManifest } from '../image/manifest.js';
import { familiarString, parseReference } from '../image/reference.js';
import { MediaType, type Descriptor, type ImageManifest } from '../oci/image.js';
import { hashFile, nameKey, type ImageLayer, type ImageRecord, type Store } from '../store/index.js';
import { unpackLayer } from '../unpack/index.js';
import { TarParser, type TarEntry } from '../unpack/tar.js';
import type { EngineContext } from './context.js';
import { familiarName } from './images.js';
import { openStore } from './pull.js';

// ---------------------------------------------------------------- tar writing

function tarHeader(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 100) throw new ArchiveError(`tar entry name too long for ustar: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100, 8, 'ascii');
  h.write('0000000\0', 108, 8, 'ascii');
  h.write('0000000\0', 116, 8, 'ascii');
  if (size < 8 ** 11) {
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  } else {
    // GNU base-256 for sizes past 8 GiB.
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136, 12, 'ascii');
  h.fill(' ', 148, 156);
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\x0000', 257, 8, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

async function put(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

async function putFile(out: Writable, name: string, data: Buffer | string): Promise<void> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  await put(out, tarHeader(name, buf.length, '0', 0o644));
  await put(out, buf);
  if (buf.length % 512) await put(out, Buffer.alloc(512 - (buf.length % 512)));
}

async function putPath(out: Writable, name: string, path: string): Promise<void> {
  const size = statSync(path).size;
  await put(out, tarHeader(name, size, '0', 0o644));
  for await (const chunk of createReadStream(path)) await put(out, chunk as Buffer);
  if (size % 512) await put(out, Buffer.alloc(512 - (size % 512)));
}

// ---------------------------------------------------------------- save

/** One image of a docker-archive's manifest.json. */
interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
  /** Descriptors of foreign layers by diff ID, so a load keeps their media type and urls (as docker save writes them). */
  LayerSources?: Record<string, Descriptor>;
}

/** The foreign layers of an image's manifest, by diff ID; undefined when it has none. */
function foreignLayerSources(store: Store, rec: ImageRecord): Record<string, Descriptor> | undefined {
  if (!store.content.has(rec.manifestDigest)) return undefined;
  const parsed = parseManifest(store.content.read(rec.manifestDigest), rec.manifestMediaType);
  if (parsed.kind !== 'manifest') return undefined;
  const out: Record<string, Descriptor> = {};
  parsed.manifest.layers.forEach((desc, i) => {
    const diffId = rec.layers[i]?.diffId;
    if (diffId && isForeignLayer(desc)) out[diffId] = desc;
  });
  return Object.keys(out).length ? out : undefined;
}

/** Write `names` (names or IDs) to `out` as one tar; a name saves that tag, an ID the untagged image. */
export async function saveImages(ctx: EngineContext, names: string[], out: Writable): Promise<void> {
  const store = openStore(ctx);
  const chosen = new Map<string, { rec: ImageRecord; tags: string[] }>();
  for (const n of names) {
    const found = store.images.resolve(n);
    if (!found) throw new NotFoundError('image', n);
    const entry = chosen.get(found.record.id) ?? { rec: found.record, tags: [] };
    if (found.name && !found.name.includes('@') && !entry.tags.includes(found.name)) entry.tags.push(found.name);
    chosen.set(found.record.id, entry);
  }
  const blobs = new Set<string>();
  const indexEntries: Descriptor[] = [];
  const dockerManifest: DockerArchiveEntry[] = [];
  for (const { rec, tags } of chosen.values()) {
    for (const d of [rec.manifestDigest, rec.id, ...rec.layers.map((l) => l.digest)]) blobs.add(d);
    const desc: Descriptor = {
      mediaType: rec.manifestMediaType ?? MediaType.OciManifest,
      digest: rec.manifestDigest,
      size: store.content.size(rec.manifestDigest) ?? 0,
    };
    if (tags.length === 0) indexEntries.push(desc);
    for (const t of tags) {
      const ref = parseReference(t);
      indexEntries.push({ ...desc, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' } });
    }
    const sources = foreignLayerSources(store, rec);
    dockerManifest.push({
      Config: `blobs/sha256/${digestHex(rec.id)}`,
      RepoTags: tags.map(familiarName),
      Layers: rec.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
      ...(sources ? { LayerSources: sources } : {}),
    });
  }
  await put(out, tarHeader('blobs/', 0, '5', 0o755));
  await put(out, tarHeader('blobs/sha256/', 0, '5', 0o755));
  for (const d of blobs) await putPath(out, `blobs/sha256/${digestHex(d)}`, store.content.blobPath(d));
  await putFile(out, 'index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: indexEntries }));
  await putFile(out, 'manifest.json', JSON.stringify(dockerManifest));
  await putFile(out, 'oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await put(out, Buffer.alloc(1024));
  out.end();
  await once(out, 'finish');
}

/** saveImages into a file, atomically (temp + rename). */
export async function saveImagesToFile(ctx: EngineContext, names: string[], path: string): Promise<void> {
  const tmp = join(dirname(path), `.tmp-save-${randomBytes(4).toString('hex')}`);
  try {
    await saveImages(ctx, names, createWriteStream(tmp));
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

// ---------------------------------------------------------------- load

/** Extracts the regular files of a tar stream into `dir` (names checked; other entry types skipped). */
async function extractArchive(input: Readable, dir: string): Promise<void> {
  let fd: number | undefined;
  const parser = new TarParser({
    entry(e: TarEntry) {
      if (e.type !== 'file') return;
      const name = normalize(e.name).replace(/^\.\/+/, '');
      if (name.startsWith('/') || name === '..' || name.startsWith('../')) throw new UnsafeArchiveError(e.name, 'outside the archive');
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, 'w', 0o600);
    },
    data(chunk: Buffer) {
      if (fd === undefined) return;
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    },
    endEntry() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  });
  // gzip-compressed archives are accepted too (docker load does): sniff the first bytes.
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 2 && !done) {
    const r = await it.next();
    if (r.done) done = true;
    else head = Buffer.concat([head, r.value]);
  }
  const replay = Readable.from((async function* () {
    yield head;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  })());
  const source: Readable = head[0] === 0x1f && head[1] === 0x8b ? replay.pipe(createGunzip()) : replay;
  for await (const chunk of source) parser.write(chunk as Buffer);
  parser.end();
  if (fd !== undefined) closeSync(fd);
}

function layerMediaType(path: string): string {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0); // a short read leaves zeros: fine for sniffing
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return MediaType.DockerLayerGzip;
  if (head.readUInt32LE(0) === 0xfd2fb528) return MediaType.OciLayerZstd;
  return 'application/vnd.docker.image.rootfs.diff.tar';
}

/** Move a file of the extracted archive into the content store under its digest; returns the digest. */
async function ingestFile(store: Store, path: string, expected?: string): Promise<string> {
  const d = await hashFile(path);
  if (expected !== undefined && d !== expected) throw new ArchiveError(`archive file ${path} does not match its name: expected ${expected}, got ${d}`);
  const lock = await store.content.lockBlob(d);
  try {
    if (!store.content.has(d)) {
      renameSync(path, store.content.partialPath(d));
      await store.content.commitPartial(d);
    }
  } finally {
    lock.release();
  }
  return d;
}

interface PendingImage {
  manifestDigest: string;
  manifestMediaType: string;
  manifest: ImageManifest;
  names: string[];
}

export interface LoadResult {
  /** Familiar names loaded ("busybox:latest"), and the IDs of images loaded without a name. */
  names: string[];
  ids: string[];
}

export async function loadImages(ctx: EngineContext, input: Readable, opts: { onLayer?: (id: string) => void } = {}): Promise<LoadResult> {
  const store = openStore(ctx);
  const work = join(store.content.ingestDir, `load-${randomBytes(6).toString('hex')}`);
  mkdirSync(work, { recursive: true });
  try {
    return await store.withLease(async () => {
      await extractArchive(input, work);
      const pending: PendingImage[] = [];
      const file = (rel: string) => {
        const p = join(work, normalize(rel));
        if (!p.startsWith(work + '/') || !existsSync(p)) throw new ArchiveError(`the archive has no file "${rel}"`);
        return p;
      };
      if (existsSync(join(work, 'manifest.json'))) {
        // docker-archive (old and new layouts): build a schema2 manifest for each image.
        const entries = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8')) as DockerArchiveEntry[];
        if (!Array.isArray(entries)) throw new InvalidManifestError('manifest.json of the archive is not a list');
        const digestOf = new Map<string, { digest: string; size: number; mediaType: string }>();
        for (const e of entries) {
          const configBytes = readFileSync(file(e.Config));
          const configDigest = store.content.putBytes(configBytes);
          const diffIds = e.LayerSources ? parseImageConfig(configBytes).rootfs.diff_ids : [];
          const layers: Descriptor[] = [];
          for (const [i, l] of e.Layers.entries()) {
            let info = digestOf.get(l);
            if (!info) {
              const p = file(l);
              const size = statSync(p).size;
              const mediaType = layerMediaType(p);
              info = { digest: await ingestFile(store, p), size, mediaType };
              digestOf.set(l, info);
            }
            // A foreign layer keeps its descriptor (media type, urls) when the archive holds the very blob it names.
            const source = e.LayerSources?.[diffIds[i] ?? ''];
            const keep = source && source.digest === info.digest && source.size === info.size && typeof source.mediaType === 'string';
            layers.push({
              mediaType: keep ? source.mediaType : info.mediaType, digest: info.digest, size: info.size,
              ...(keep && source.urls ? { urls: source.urls } : {}),
              ...(keep && source.annotations ? { annotations: source.annotations } : {}),
            });
          }
          const manifest: ImageManifest = {
            schemaVersion: 2,
            mediaType: MediaType.DockerManifest,
            config: { mediaType: MediaType.DockerConfig, digest: configDigest, size: configBytes.length },
            layers,
          };
          const bytes = Buffer.from(JSON.stringify(manifest));
          pending.push({
            manifestDigest: store.content.putBytes(bytes), manifestMediaType: MediaType.DockerManifest, manifest,
            names: (e.RepoTags ?? []).map((t) => nameKey(parseReference(t))),
          });
        }
      } else if (existsSync(join(work, 'index.json'))) {
        // OCI image layout: every blob goes in (verified), then each manifest of the index.
        const blobDir = join(work, 'blobs', 'sha256');
        for (const hex of existsSync(blobDir) ? readdirSync(blobDir) : []) {
          if (!/^[a-f0-9]{64}$/.test(hex)) continue;
          await ingestFile(store, join(blobDir, hex), `sha256:${hex}`);
        }
        const index = parseManifest(readFileSync(join(work, 'index.json')), MediaType.OciIndex);
        if (index.kind !== 'index') throw new InvalidManifestError('index.json of the archive is not an image index');
        const byDigest = new Map<string, PendingImage>();
        for (const desc of index.index.manifests) {
          let d = desc;
          let parsed = parseManifest(store.content.read(d.digest), d.mediaType);
          if (parsed.kind === 'index') {
            d = selectManifest(parsed.index, hostPlatform());
            parsed = parseManifest(store.content.read(d.digest), d.mediaType);
          }
          if (parsed.kind !== 'manifest') throw new InvalidManifestError(`archive manifest ${d.digest} is a nested index`);
          const img = byDigest.get(d.digest) ?? { manifestDigest: d.digest, manifestMediaType: parsed.mediaType, manifest: parsed.manifest, names: [] };
          byDigest.set(d.digest, img);
          const full = desc.annotations?.['io.containerd.image.name'];
          const refName = desc.annotations?.['org.opencontainers.image.ref.name'];
          const name = full ?? (refName && /[/:]/.test(refName) ? refName : undefined);
          if (name) {
            try {
              img.names.push(nameKey(parseReference(name)));
            } catch {
              // a bare tag names no repository: load the image untagged
            }
          }
        }
        pending.push(...byDigest.values());
      } else {
        throw new ArchiveError('not an image archive: it has neither manifest.json (docker-archive) nor index.json (OCI layout)');
      }

      const result: LoadResult = { names: [], ids: [] };
      for (const img of pending) {
        const configDesc = img.manifest.config;
        const config = parseImageConfig(store.content.read(configDesc.digest));
        const diffIds = config.rootfs.diff_ids;
        if (diffIds.length !== img.manifest.layers.length) {
          throw new InvalidManifestError(`archive image ${configDesc.digest}: ${img.manifest.layers.length} layers but ${diffIds.length} diff IDs`);
        }
        const chains = chainIds(diffIds);
        const layers: ImageLayer[] = [];
        let size = 0;
        for (const [i, desc] of img.manifest.layers.entries()) {
          if (!isValidDigest(desc.digest) || !store.content.has(desc.digest)) throw new ArchiveError(`the archive lacks layer ${desc.digest}`);
          opts.onLayer?.(digestHex(desc.digest).slice(0, 12));
          const { meta } = await store.layers.ensure(
            chains[i]!,
            (tmp) => unpackLayer(store.content.blobPath(desc.digest), desc.mediaType, tmp, { expectedDiffId: diffIds[i] }),
            { parent: i > 0 ? chains[i - 1] : undefined },
          );
          size += meta.size;
          layers.push({ digest: desc.digest, mediaType: desc.mediaType, size: desc.size, diffId: diffIds[i]!, chainId: chains[i]! });
        }
        const existing = store.images.get(configDesc.digest);
        await store.images.put({
          id: configDesc.digest, repoTags: [], repoDigests: [], manifestDigest: img.manifestDigest, manifestMediaType: img.manifestMediaType,
          layers, config, created: config.created ?? new Date().toISOString(), size, pulledAt: existing?.pulledAt ?? new Date().toISOString(),
        }, img.names);
        if (img.names.length) result.names.push(...img.names.map((n) => familiarString(parseReference(n))));
        else result.ids.push(configDesc.digest);
      }
      return result;
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

