// `commit` and `import`: new images made locally.
//
// commit: the container's image's layers plus one layer made from the
// container's overlay upper dir. The upper dir is in overlayfs' form; the
// layer tar is in the OCI form, so whiteouts (char 0/0 devices) become
// `.wh.NAME` entries and opaque directories (trusted.overlay.opaque=y) get a
// `.wh..wh..opq` entry. The runtime's own mount points (/etc/hosts and
// friends, volume directories: empty, and absent from the image) are left out
// as `diff` leaves them out. import: one layer from a tarball (`export`'s).
//
// Both gzip the tar into a blob (its diffID hashed on the way), unpack that
// blob into the layer store with the unpacker a pull uses, store the config
// and an OCI manifest as blobs, and write the image record and its name last,
// all under the store's lease: nothing is visible before it is complete.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createWriteStream, lstatSync, openSync, readdirSync, readlinkSync, readSync, renameSync, rmSync, type BigIntStats } from 'node:fs';
import { posix } from 'node:path';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { NotFoundError, UsageError } from '../errors.js';
import { chainIds, hostPlatform } from '../image/manifest.js';
import { parseReference } from '../image/reference.js';
import { MediaType, type HistoryEntry, type ImageConfig, type ImageManifest, type ImageRunConfig } from '../oci/image.js';
import { nameKey, type ImageLayer, type ImageRecord, type Store } from '../store/index.js';
import { unpackLayer } from '../unpack/index.js';
import { encodeTarHeader, tarPadding, tarTrailer, type WritableEntry } from '../unpack/tar-writer.js';
import { ensureDir } from '../util/fs.js';
import { isOpaque, isWhiteout, LowerView } from './container-diff.js';
import { ContainerResources } from './container-resources.js';
import type { ContainerRecord } from './container-store.js';
import type { Containers } from './containers.js';
import type { EngineContext } from './context.js';
import { byteOrder, deviceNumbers, xattrsOf } from './fs-walk.js';
import { openStore } from './pull.js';
import { fdPath } from './rooted-fs.js';

// ---------------------------------------------------------------- -c CHANGE

const CHANGE_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL'];

/** Splits shell-like words: whitespace separates, "..." and '...' quote, a backslash escapes the next character. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`unterminated quote in "${text}"`);
  if (inWord) words.push(cur);
  return words;
}

/** The JSON form (["a","b"]) when `rest` is a JSON list of strings, else undefined. */
function jsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(rest) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: the shell form
  }
  return undefined;
}

/** KEY=VALUE pairs (quotes allowed), or the old form "KEY VALUE WITH SPACES". */
function keyValues(instr: string, rest: string): [string, string][] {
  const words = splitWords(rest);
  if (words.length === 0) throw new UsageError(`${instr} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m) throw new UsageError(`${instr} must have two arguments`);
    return [[m[1]!, m[2]!.trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new UsageError(`${instr} names can not be blank: "${w}"`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/**
 * Applies Dockerfile-instruction `changes` (commit's and import's -c) to a
 * copy of `config`: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME,
 * WORKDIR, STOPSIGNAL, in JSON or shell form. As in a Dockerfile, ENTRYPOINT
 * clears an inherited CMD unless a CMD comes in the same changes.
 */
export function applyChanges(config: ImageRunConfig, changes: string[]): ImageRunConfig {
  const out: ImageRunConfig = structuredClone(config);
  let cmdSet = false;
  for (const change of changes) {
    const m = /^\s*(\S+)(?:\s+([\s\S]*))?$/.exec(change);
    if (!m) continue; // an empty change is no change
    const instr = m[1]!.toUpperCase();
    const rest = (m[2] ?? '').trim();
    if (!CHANGE_INSTRUCTIONS.includes(instr)) {
      throw new UsageError(`dockerfile parse error: unknown or unsupported instruction "${m[1]}" (commit and import take ${CHANGE_INSTRUCTIONS.join(', ')})`);
    }
    const needArg = (): void => {
      if (rest === '') throw new UsageError(`${instr} requires at least one argument`);
    };
    switch (instr) {
      case 'CMD':
      case 'ENTRYPOINT': {
        needArg();
        const argv = jsonForm(rest) ?? ['/bin/sh', '-c', rest];
        if (instr === 'CMD') {
          out.Cmd = argv;
          cmdSet = true;
        } else {
          out.Entrypoint = argv;
          if (!cmdSet) out.Cmd = null;
        }
        break;
      }
      case 'ENV': {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of keyValues(instr, rest)) {
          const at = env.findIndex((e) => e === k || e.startsWith(`${k}=`));
          if (at >= 0) env[at] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case 'LABEL': {
        const labels = { ...(out.Labels ?? {}) };
        for (const [k, v] of keyValues(instr, rest)) labels[k] = v;
        out.Labels = labels;
        break;
      }
      case 'EXPOSE': {
        needArg();
        const ports = { ...(out.ExposedPorts ?? {}) };
        for (const word of splitWords(rest)) {
          const pm = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(word);
          if (!pm) throw new UsageError(`invalid port "${word}" in EXPOSE`);
          const first = Number(pm[1]);
          const last = pm[2] !== undefined ? Number(pm[2]) : first;
          if (first < 1 || last > 65535 || last < first) throw new UsageError(`invalid port range "${word}" in EXPOSE`);
          const proto = (pm[3] ?? 'tcp').toLowerCase();
          for (let p = first; p <= last; p++) ports[`${p}/${proto}`] = {};
        }
        out.ExposedPorts = ports;
        break;
      }
      case 'USER':
        needArg();
        out.User = rest;
        break;
      case 'VOLUME': {
        needArg();
        const volumes = { ...(out.Volumes ?? {}) };
        for (const v of jsonForm(rest) ?? splitWords(rest)) {
          if (v.trim() === '') throw new UsageError('VOLUME specified can not be an empty string');
          volumes[v] = {};
        }
        out.Volumes = volumes;
        break;
      }
      case 'WORKDIR': {
        needArg();
        const dir = splitWords(rest).join(' ');
        out.WorkingDir = posix.normalize(posix.isAbsolute(dir) ? dir : posix.join(out.WorkingDir || '/', dir));
        break;
      }
      case 'STOPSIGNAL':
        needArg();
        out.StopSignal = rest;
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the layer tar

export interface UpperLayerInput {
  upper: string;
  /** The image's layer trees, top layer first (to tell the runtime's mount points from the container's files). */
  lowerDirs: string[];
  /** Destinations of the container's mounts. */
  mountPoints?: Iterable<string>;
}

const CHUNK = 1024 * 1024;
const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const OPEN_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The upper dir as an OCI layer tar stream, in chunks: parents before their
 * children, names in byte order, whiteouts and opaque dirs in the OCI form,
 * hard links within the layer as link entries, sockets skipped.
 */
export async function* upperLayerTar(input: UpperLayerInput): AsyncGenerator<Buffer> {
  const lower = new LowerView(input.lowerDirs);
  const mountPoints = new Set(input.mountPoints ?? []);
  const links = new Map<string, string>();

  const meta = (name: string, st: BigIntStats) => ({
    name,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: Number(st.mtimeMs) / 1000,
    linkname: '',
    size: 0,
    xattrs: new Map<string, Buffer>(),
  });

  /** An empty file or directory at a mount's destination that the image lacks: the runtime made it. */
  const isMountPoint = (cpath: string, parts: string[], st: BigIntStats, path: string): boolean => {
    if (!mountPoints.has(cpath) || lower.stat(parts) !== undefined) return false;
    if (st.isFile()) return st.size === 0n;
    if (!st.isDirectory()) return false;
    try {
      return readdirSync(path).length === 0;
    } catch {
      return false;
    }
  };

  async function* dir(dirPath: string, parts: string[]): AsyncGenerator<Buffer> {
    const fd = openSync(dirPath, OPEN_DIR);
    try {
      const names = readdirSync(fdPath(fd)).sort(byteOrder);
      for (const name of names) {
        const childParts = [...parts, name];
        const rel = childParts.join('/');
        const path = fdPath(fd, name);
        let st: BigIntStats;
        try {
          st = lstatSync(path, { bigint: true });
        } catch {
          continue; // removed while we walked
        }
        if (isWhiteout(st)) {
          const wh = [...parts, `.wh.${name}`].join('/');
          yield encodeTarHeader({ ...meta(wh, st), mode: 0, type: 'file' });
          continue;
        }
        if (isMountPoint(`/${rel}`, childParts, st, path)) continue;
        if (st.isDirectory()) {
          yield encodeTarHeader({ ...meta(rel, st), type: 'dir', xattrs: xattrsOf(path) });
          if (isOpaque(path)) yield encodeTarHeader({ ...meta(`${rel}/.wh..wh..opq`, st), mode: 0, type: 'file' });
          yield* dir(path, childParts);
          continue;
        }
        if (st.nlink > 1n && !st.isSymbolicLink()) {
          const key = `${st.dev}:${st.ino}`;
          const first = links.get(key);
          if (first !== undefined) {
            yield encodeTarHeader({ ...meta(rel, st), type: 'link', linkname: first });
            continue;
          }
          links.set(key, rel);
        }
        if (st.isSymbolicLink()) {
          yield encodeTarHeader({ ...meta(rel, st), type: 'symlink', linkname: readlinkSync(path), xattrs: xattrsOf(path) });
        } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
          const { major, minor } = st.isFIFO() ? { major: 0, minor: 0 } : deviceNumbers(st.rdev);
          const type = st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : 'block';
          yield encodeTarHeader({ ...meta(rel, st), type, devmajor: major, devminor: minor, xattrs: xattrsOf(path) } as WritableEntry);
        } else if (st.isFile()) {
          yield* file(path, rel, st);
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  async function* file(path: string, rel: string, st: BigIntStats): AsyncGenerator<Buffer> {
    let fd: number;
    try {
      fd = openSync(path, OPEN_FILE);
    } catch {
      return; // removed or swapped meanwhile
    }
    try {
      const size = Number(st.size);
      yield encodeTarHeader({ ...meta(rel, st), type: 'file', size, xattrs: xattrsOf(path) });
      let left = size;
      while (left > 0) {
        const buf = Buffer.alloc(Math.min(left, CHUNK));
        const n = readSync(fd, buf, 0, buf.length, null);
        // A file that shrank since lstat is padded with zeros to the size announced.
        const out = n === 0 ? buf : buf.subarray(0, n);
        left -= out.length;
        yield out;
      }
      const pad = tarPadding(size);
      if (pad.length) yield pad;
    } finally {
      closeSync(fd);
    }
  }

  yield* dir(input.upper, []);
  yield tarTrailer();
}

// ---------------------------------------------------------------- storing

/** `input` as a plain tar stream: gzip-compressed input is inflated (sniffed from its first bytes). */
export async function* plainTar(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 2 && !done) {
    const r = await it.next();
    if (r.done) done = true;
    else head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  const replay = Readable.from((async function* () {
    if (head.length) yield head;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
  })());
  if (head[0] === 0x1f && head[1] === 0x8b) {
    for await (const chunk of replay.pipe(createGunzip())) yield chunk as Buffer;
  } else {
    for await (const chunk of replay) yield chunk as Buffer;
  }
}

interface StoredLayer {
  digest: string;
  size: number;
  diffId: string;
}

function hashing(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onChunk(chunk);
      cb(null, chunk);
    },
  });
}

/** Gzips a tar stream into a blob of the content store; the diffID is hashed from the tar on the way. */
async function storeLayerBlob(store: Store, tar: AsyncIterable<Buffer>): Promise<StoredLayer> {
  const tmp = join(ensureDir(store.content.ingestDir), `commit-${randomBytes(6).toString('hex')}.tmp`);
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      Readable.from(tar),
      hashing((c) => diffHash.update(c)),
      createGzip(),
      hashing((c) => {
        blobHash.update(c);
        size += c.length;
      }),
      createWriteStream(tmp),
    );
    const digest = `sha256:${blobHash.digest('hex')}`;
    const lock = await store.content.lockBlob(digest);
    try {
      if (!store.content.has(digest)) {
        renameSync(tmp, store.content.partialPath(digest));
        await store.content.commitPartial(digest, { expectedSize: size });
      }
    } finally {
      lock.release();
    }
    return { digest, size, diffId: `sha256:${diffHash.digest('hex')}` };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The OCI media type of a layer blob that a Docker manifest named (same bytes). */
function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return MediaType.OciLayer;
  return mediaType;
}

interface NewImage {
  /** The layers below the new one (the parent image's). */
  base: ImageLayer[];
  /** The config, without the new layer's diffID (added here). */
  config: ImageConfig & Record<string, unknown>;
  tar: AsyncIterable<Buffer>;
  /** A name for the image (REPO[:TAG]); none leaves it untagged. */
  reference?: string;
}

/** Checks REPO[:TAG] before any work: returns its index key. */
function nameFor(reference: string | undefined): string | undefined {
  if (reference === undefined || reference === '') return undefined;
  const ref = parseReference(reference);
  if (ref.digest) throw new UsageError(`refusing to create a tag with a digest reference: "${reference}"`);
  return nameKey(ref);
}

/** Stores the new layer, the config, the manifest, then the image record and its name. Caller holds the lease. */
async function writeImage(store: Store, img: NewImage): Promise<string> {
  const name = nameFor(img.reference);
  const blob = await storeLayerBlob(store, img.tar);
  const diffIds = [...img.base.map((l) => l.diffId), blob.diffId];
  const chains = chainIds(diffIds);
  const chainId = chains[chains.length - 1]!;
  const mediaType = MediaType.OciLayerGzip;
  const { meta } = await store.layers.ensure(
    chainId,
    (tmp) => unpackLayer(store.content.blobPath(blob.digest), mediaType, tmp, { expectedDiffId: blob.diffId }),
    { parent: chains.length > 1 ? chains[chains.length - 2] : undefined },
  );
  const layers: ImageLayer[] = [
    ...img.base.map((l) => ({ ...l, mediaType: ociLayerType(l.mediaType) })),
    { digest: blob.digest, mediaType, size: blob.size, diffId: blob.diffId, chainId },
  ];
  const config = { ...img.config, rootfs: { type: 'layers' as const, diff_ids: diffIds } };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = store.content.putBytes(configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestDigest = store.content.putBytes(Buffer.from(JSON.stringify(manifest)));
  let size = meta.size;
  for (const l of img.base) size += store.layers.meta(l.chainId)?.size ?? 0;
  const existing = store.images.get(configDigest);
  const record: ImageRecord = {
    id: configDigest, repoTags: [], repoDigests: [], manifestDigest, manifestMediaType: MediaType.OciManifest,
    layers, config, created: config.created ?? new Date().toISOString(), size, pulledAt: existing?.pulledAt ?? new Date().toISOString(),
  };
  await store.images.put(record, name ? [name] : []);
  return configDigest;
}

// ---------------------------------------------------------------- commit

export interface CommitOptions {
  author?: string;
  message?: string;
  changes?: string[];
  /** Freeze a running container while its layer is read (default true). */
  pause?: boolean;
  /** REPO[:TAG] for the new image. */
  reference?: string;
}

/** Docker's history line for a container: its command. */
function commandLine(record: ContainerRecord): string {
  return [record.path, ...record.args].filter((s) => s !== '').join(' ');
}

/** The mount destinations of a container (its bundle's, else its record's). */
function mountPointsOf(containers: Containers, record: ContainerRecord): string[] {
  const clean = (p: string) => posix.normalize(`/${p}`).replace(/(.)\/$/, '$1');
  try {
    return (containers.spec(record).mounts ?? []).map((m) => clean(m.destination));
  } catch {
    return (record.mounts ?? []).map((m) => clean(m.destination));
  }
}

/**
 * The image config a commit starts from, as Docker's: the container's own command, entrypoint,
 * env (-e included), working dir, user, labels and stop signal over the image's config.
 */
export function containerRunConfig(record: ContainerRecord, image: ImageRunConfig): ImageRunConfig {
  const c = record.config;
  const out: ImageRunConfig = { ...image, Env: [...c.env], WorkingDir: c.workingDir, User: c.user, Labels: { ...c.labels } };
  if (c.cmd) out.Cmd = [...c.cmd];
  else delete out.Cmd;
  if (c.entrypoint) out.Entrypoint = [...c.entrypoint];
  else delete out.Entrypoint;
  if (c.stopSignal !== 'SIGTERM' || image.StopSignal) out.StopSignal = c.stopSignal;
  if (out.User === '') delete out.User;
  if (out.WorkingDir === '/' && !image.WorkingDir) delete out.WorkingDir;
  if (Object.keys(out.Labels ?? {}).length === 0) delete out.Labels;
  return out;
}

/** `commit`: a new image from the container's changes; returns its ID. */
export async function commitContainer(containers: Containers, record: ContainerRecord, opts: CommitOptions = {}): Promise<string> {
  const store = openStore(containers.ctx);
  nameFor(opts.reference);
  const changes = opts.changes ?? [];
  const parent = store.images.get(record.imageId);
  if (!parent) throw new NotFoundError('image', record.imageId);
  const parentConfig = JSON.parse(store.content.read(parent.id).toString('utf8')) as ImageConfig & Record<string, unknown>;
  const runConfig = applyChanges(containerRunConfig(record, parentConfig.config ?? {}), changes);

  const resources = new ContainerResources(containers);
  const state = containers.state(record);
  const freeze = opts.pause !== false && state.status === 'running' && !resources.isPaused(record);
  if (freeze) await resources.pause(record);
  try {
    return await store.withLease(async () => {
      const created = new Date().toISOString();
      const entry: HistoryEntry = { created, created_by: commandLine(record) };
      if (opts.author) entry.author = opts.author;
      if (opts.message) entry.comment = opts.message;
      const config: ImageConfig & Record<string, unknown> = {
        ...parentConfig,
        created,
        config: runConfig,
        history: [...(parentConfig.history ?? []), entry],
      };
      if (opts.author) config.author = opts.author;
      else delete config.author;
      const paths = containers.store.paths(record.id);
      const tar = upperLayerTar({ upper: paths.upper, lowerDirs: record.lowerDirs, mountPoints: mountPointsOf(containers, record) });
      return writeImage(store, { base: parent.layers, config, tar, reference: opts.reference });
    });
  } finally {
    if (freeze) await resources.unpause(record).catch(() => undefined);
  }
}

// ---------------------------------------------------------------- import

export interface ImportOptions {
  message?: string;
  changes?: string[];
  reference?: string;
}

/** `import`: a one-layer image from a tar stream (plain or gzip); returns its ID. */
export async function importImage(ctx: EngineContext, input: AsyncIterable<Buffer>, opts: ImportOptions = {}): Promise<string> {
  const store = openStore(ctx);
  nameFor(opts.reference);
  const runConfig = applyChanges({}, opts.changes ?? []);
  return store.withLease(async () => {
    const created = new Date().toISOString();
    const platform = hostPlatform();
    const entry: HistoryEntry = { created };
    if (opts.message) entry.comment = opts.message;
    const config: ImageConfig & Record<string, unknown> = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: [] },
      history: [entry],
    };
    return writeImage(store, { base: [], config, tar: plainTar(input), reference: opts.reference });
  });
}
