// pullImage against an in-memory registry and a fake unpacker: the
// orchestration (events, locking, resume, records), not HTTP or tar.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { MediaType, type Descriptor } from '../../../src/oci/image.js';
import { openStore, pullImage, type PullDeps, type PullEvent, type PullRegistry } from '../../../src/engine/pull.js';
import type { EngineContext } from '../../../src/engine/context.js';

let ctx: EngineContext;
let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsrun-pull-'));
  ctx = { root: join(tmp, 'root'), runroot: join(tmp, 'run') };
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

interface FakeImage {
  blobs: Map<string, Buffer>;
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  tags: Map<string, string>;
  diffOf: Map<string, string>;
  configDigest: string;
  layerDigests: string[];
}

function makeImage(layerTexts: string[], arch = 'amd64', into?: FakeImage): FakeImage {
  const img: FakeImage = into ?? { blobs: new Map(), manifests: new Map(), tags: new Map(), diffOf: new Map(), configDigest: '', layerDigests: [] };
  const layers: Descriptor[] = layerTexts.map((t) => {
    const bytes = Buffer.from(t.repeat(2000));
    const digest = sha256Digest(bytes);
    img.blobs.set(digest, bytes);
    img.diffOf.set(digest, sha256Digest(`diff of ${t}`));
    return { mediaType: MediaType.OciLayerGzip, digest, size: bytes.length };
  });
  const config = Buffer.from(JSON.stringify({
    architecture: arch, os: 'linux', created: '2024-05-01T10:00:00Z', config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => img.diffOf.get(l.digest)) },
  }));
  const configDigest = sha256Digest(config);
  img.blobs.set(configDigest, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length }, layers,
  }));
  const md = sha256Digest(manifest);
  img.manifests.set(md, { bytes: manifest, mediaType: MediaType.OciManifest });
  img.tags.set('latest', md);
  img.configDigest = configDigest;
  img.layerDigests = layers.map((l) => l.digest);
  return img;
}

function fakeDeps(img: FakeImage, calls: { fetchBlob: string[]; head: number; failBlob?: string; chunkDelayMs?: number }): PullDeps {
  const registry: PullRegistry = {
    async resolve(ref) {
      calls.head++;
      const d = ref.digest ?? img.tags.get(ref.tag ?? 'latest');
      const m = d && img.manifests.get(d);
      if (!d || !m) throw new Error(`manifest unknown: ${ref.tag}`);
      return { digest: d, mediaType: m.mediaType, size: m.bytes.length };
    },
    async getManifest(_ref, d) {
      const m = img.manifests.get(d!)!;
      return { bytes: m.bytes, mediaType: m.mediaType, digest: d! };
    },
    async getBlob(_ref, desc) {
      return img.blobs.get(desc.digest)!;
    },
    async fetchBlob(_ref, desc, partial, opts) {
      calls.fetchBlob.push(desc.digest);
      const data = img.blobs.get(desc.digest)!;
      let have = existsSync(partial) ? statSync(partial).size : 0;
      while (have < data.length) {
        if (opts?.signal?.aborted) throw new Error('aborted');
        const next = Math.min(data.length, have + 1000);
        appendFileSync(partial, data.subarray(have, next));
        have = next;
        opts?.onProgress?.(have, data.length);
        if (calls.chunkDelayMs) await sleep(calls.chunkDelayMs);
      }
      if (desc.digest === calls.failBlob) {
        rmSync(partial, { force: true });
        throw new DigestMismatchError(desc.digest, sha256Digest('x'), 'blob');
      }
    },
  };
  return {
    makeRegistry: () => registry,
    unpack: async (blobPath, _mt, dest, opts) => {
      // Like the real unpacker, a blob still downloading is read once it is whole.
      while (opts?.growing && !opts.growing.growth.state().finished) await opts.growing.growth.next();
      if (opts?.growing?.growth.state().error) throw opts.growing.growth.state().error;
      const digest = sha256Digest(readFileSync(blobPath));
      mkdirSync(dest);
      writeFileSync(join(dest, digest.slice(7, 19)), 'x');
      opts?.onProgress?.(10, 10);
      const diffId = img.diffOf.get(digest)!;
      if (opts?.expectedDiffId && opts.expectedDiffId !== diffId) throw new DigestMismatchError(opts.expectedDiffId, diffId, 'layer');
      return { diffId, size: 5000 };
    },
  };
}

describe('pullImage', () => {
  it('downloads, unpacks and records an image, with Docker-shaped events', async () => {
    const img = makeImage(['a', 'b']);
    const calls = { fetchBlob: [] as string[], head: 0 };
    const events: PullEvent[] = [];
    const rec = await pullImage(ctx, 'localhost:5000/lib/app', { deps: fakeDeps(img, calls), onEvent: (e) => events.push(e) });
    expect(rec.id).toBe(img.configDigest);
    expect(rec.repoTags).toEqual(['localhost:5000/lib/app:latest']);
    expect(rec.repoDigests).toEqual([`localhost:5000/lib/app@${img.tags.get('latest')}`]);
    expect(rec.size).toBe(10000);
    expect(rec.created).toBe('2024-05-01T10:00:00Z');
    expect(calls.fetchBlob.sort()).toEqual([...img.layerDigests].sort());
    expect(events[0]).toMatchObject({ type: 'start', defaultTag: true, path: 'lib/app', tag: 'latest', familiar: 'localhost:5000/lib/app:latest' });
    const id0 = img.layerDigests[0]!.slice(7, 19);
    const statuses = events.filter((e) => e.type === 'layer' && e.id === id0).map((e) => (e as { status: string }).status);
    expect(statuses[0]).toBe('Pulling fs layer');
    expect(statuses).toContain('Downloading');
    expect(statuses.indexOf('Verifying Checksum')).toBeLessThan(statuses.indexOf('Download complete'));
    expect(statuses.indexOf('Download complete')).toBeLessThan(statuses.indexOf('Extracting'));
    expect(statuses[statuses.length - 1]).toBe('Pull complete');
    expect(events[events.length - 1]).toMatchObject({ type: 'done', upToDate: false, digest: img.tags.get('latest') });
    const store = openStore(ctx);
    for (const l of rec.layers) expect(store.layers.has(l.chainId)).toBe(true);
    expect(readdirSync(join(ctx.root, 'content', 'ingest')).filter((n) => n.endsWith('.partial'))).toEqual([]);

    // Again: up to date, only the HEAD goes out.
    const again: PullEvent[] = [];
    const calls2 = { fetchBlob: [] as string[], head: 0 };
    await pullImage(ctx, 'localhost:5000/lib/app:latest', { deps: fakeDeps(img, calls2), onEvent: (e) => again.push(e) });
    expect(calls2).toEqual({ fetchBlob: [], head: 1 });
    expect(again[0]).toMatchObject({ defaultTag: false });
    expect(again.filter((e) => e.type === 'layer').map((e) => (e as { status: string }).status)).toEqual(['Already exists', 'Already exists']);
    expect(again[again.length - 1]).toMatchObject({ type: 'done', upToDate: true });

    // Pinned by a digest we hold: no request at all.
    const calls3 = { fetchBlob: [] as string[], head: 0 };
    const pinned = await pullImage(ctx, `localhost:5000/lib/app@${img.tags.get('latest')}`, { deps: fakeDeps(img, calls3) });
    expect(calls3).toEqual({ fetchBlob: [], head: 0 });
    expect(pinned.id).toBe(rec.id);
  });

  it('two concurrent pulls of one image download each blob once and both succeed', async () => {
    const img = makeImage(['x', 'y', 'z']);
    const calls = { fetchBlob: [] as string[], head: 0, chunkDelayMs: 2 };
    const ev1: PullEvent[] = [];
    const ev2: PullEvent[] = [];
    const [a, b] = await Promise.all([
      pullImage(ctx, 'localhost:5000/app', { deps: fakeDeps(img, calls), onEvent: (e) => ev1.push(e) }),
      pullImage(ctx, 'localhost:5000/app', { deps: fakeDeps(img, calls), onEvent: (e) => ev2.push(e) }),
    ]);
    expect(a.id).toBe(b.id);
    expect(calls.fetchBlob.sort()).toEqual([...img.layerDigests].sort());
    const waits = [...ev1, ...ev2].filter((e) => e.type === 'layer' && e.status === 'Waiting');
    expect(waits.length).toBeGreaterThan(0);
  });

  it('limits parallel downloads and marks the queued layers Waiting', async () => {
    const img = makeImage(['1', '2', '3', '4', '5']);
    const calls = { fetchBlob: [] as string[], head: 0 };
    const events: PullEvent[] = [];
    await pullImage(ctx, 'localhost:5000/five', { deps: fakeDeps(img, calls), onEvent: (e) => events.push(e), concurrency: 2 });
    const waiting = events.filter((e) => e.type === 'layer' && e.status === 'Waiting').map((e) => (e as { id: string }).id);
    expect(waiting).toEqual(img.layerDigests.slice(2).map((d) => d.slice(7, 19)));
  });

  it('resumes from a partial left by a killed pull', async () => {
    const img = makeImage(['resume']);
    const d = img.layerDigests[0]!;
    mkdirSync(join(ctx.root, 'content', 'ingest'), { recursive: true });
    writeFileSync(join(ctx.root, 'content', 'ingest', `${d.slice(7)}.partial`), img.blobs.get(d)!.subarray(0, 5000));
    const calls = { fetchBlob: [] as string[], head: 0 };
    const events: PullEvent[] = [];
    await pullImage(ctx, 'localhost:5000/r', { deps: fakeDeps(img, calls), onEvent: (e) => events.push(e) });
    const first = events.find((e) => e.type === 'layer' && e.status === 'Downloading') as { current: number };
    expect(first.current).toBe(6000);
  });

  it('a failing layer fails the pull and leaves no image, layer dir or blob of it', async () => {
    const img = makeImage(['good', 'bad']);
    const calls = { fetchBlob: [] as string[], head: 0, failBlob: '' };
    calls.failBlob = img.layerDigests[1]!;
    await expect(pullImage(ctx, 'localhost:5000/f', { deps: fakeDeps(img, calls) })).rejects.toThrow(DigestMismatchError);
    const store = openStore(ctx);
    expect(store.images.list()).toEqual([]);
    expect(store.content.has(img.layerDigests[1]!)).toBe(false);
    expect(readdirSync(join(ctx.root, 'layers')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('picks the platform from an index and records the index digest', async () => {
    const img = makeImage(['amd'], 'amd64');
    const amdManifest = img.tags.get('latest')!;
    makeImage(['arm'], 'arm64', img);
    const armManifest = img.tags.get('latest')!;
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: MediaType.OciManifest, digest: amdManifest, size: img.manifests.get(amdManifest)!.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: MediaType.OciManifest, digest: armManifest, size: img.manifests.get(armManifest)!.bytes.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }));
    const indexDigest = sha256Digest(index);
    img.manifests.set(indexDigest, { bytes: index, mediaType: MediaType.OciIndex });
    img.tags.set('multi', indexDigest);
    const calls = { fetchBlob: [] as string[], head: 0 };
    const rec = await pullImage(ctx, 'localhost:5000/m:multi', { deps: fakeDeps(img, calls), platform: 'linux/arm64' });
    expect(rec.config.architecture).toBe('arm64');
    expect(rec.indexDigest).toBe(indexDigest);
    expect(rec.manifestDigest).toBe(armManifest);
    expect(rec.repoDigests).toEqual([`localhost:5000/m@${indexDigest}`]);
    await expect(pullImage(ctx, 'localhost:5000/m:multi', { deps: fakeDeps(img, calls), platform: 'linux/s390x' })).rejects.toThrow(/amd64.*arm64/);
  });
});
