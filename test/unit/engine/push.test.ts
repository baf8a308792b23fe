// pushImage against a fake registry and a store filled by hand: the
// orchestration (which blobs go how, events, records), not HTTP.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../../src/engine/context.js';
import { openStore } from '../../../src/engine/pull.js';
import { mountSources, pushImage, tagsToPush, type PushEvent, type PushRegistry } from '../../../src/engine/push.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { parseReference } from '../../../src/image/reference.js';
import { MediaType } from '../../../src/oci/image.js';
import type { ImageRecord } from '../../../src/store/index.js';

let ctx: EngineContext;
let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsrun-push-'));
  ctx = { root: join(tmp, 'root'), runroot: join(tmp, 'run') };
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** An image in the store: blobs, manifest (with odd spacing, so its bytes matter), record and canonical names. */
async function storeImage(layerTexts: string[], names: string[], foreign?: { urls: string[] }) {
  const store = openStore(ctx);
  const layers: { mediaType: string; digest: string; size: number; diffId: string; urls?: string[] }[] = layerTexts.map((t) => {
    const bytes = Buffer.from(t.repeat(500));
    return { mediaType: MediaType.OciLayerGzip, digest: store.content.putBytes(bytes), size: bytes.length, diffId: sha256Digest(`diff of ${t}`) };
  });
  // With `foreign`, the bottom layer is a foreign one with urls (its blob stays in the store).
  if (foreign) Object.assign(layers[0]!, { mediaType: MediaType.DockerForeignLayerGzip, urls: foreign.urls });
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  const configDigest = store.content.putBytes(configBytes);
  const manifest = Buffer.from(`{"schemaVersion":2,  "mediaType":"${MediaType.OciManifest}","config":${JSON.stringify({ mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length })},"layers":${JSON.stringify(layers.map(({ diffId: _d, ...l }) => l))}}`);
  const manifestDigest = store.content.putBytes(manifest);
  const record: ImageRecord = {
    id: configDigest, repoTags: [], repoDigests: [], manifestDigest, manifestMediaType: MediaType.OciManifest,
    layers: layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: l.diffId, chainId: l.diffId })),
    config: JSON.parse(configBytes.toString()), created: '2024-01-01T00:00:00Z', size: 1, pulledAt: '2024-01-01T00:00:00Z',
  };
  await store.images.put(record, names);
  return { store, record, manifest, manifestDigest, configDigest, configBytes, layers };
}

interface Calls {
  log: string[];
  exists: Set<string>;
  mountable: Map<string, string>;
  uploaded: Map<string, Buffer>;
  manifests: { ref: string; tag: string; bytes: Buffer; mediaType: string }[];
}

function fakeRegistry(calls: Calls): PushRegistry {
  return {
    async blobExists(ref, digest) {
      calls.log.push(`HEAD ${ref.path} ${digest.slice(7, 15)}`);
      return calls.exists.has(digest);
    },
    async mountBlob(ref, digest, from) {
      calls.log.push(`MOUNT ${ref.path} ${digest.slice(7, 15)} from ${from}`);
      if (calls.mountable.get(digest) === from) return { mounted: true };
      return { mounted: false, session: new URL(`http://x/session/${from}`) };
    },
    async cancelUpload(_ref, session) {
      calls.log.push(`CANCEL ${session.pathname}`);
    },
    async uploadBlob(ref, desc, source, opts) {
      calls.log.push(`UPLOAD ${ref.path} ${desc.digest.slice(7, 15)}${opts?.session ? ` via ${opts.session.pathname}` : ''}`);
      const { readFileSync } = await import('node:fs');
      const bytes = 'path' in source ? readFileSync(source.path) : source.bytes;
      opts?.onProgress?.(bytes.length, desc.size);
      calls.uploaded.set(desc.digest, bytes);
    },
    async putManifest(ref, tag, bytes, mediaType) {
      calls.log.push(`MANIFEST ${ref.path}:${tag}`);
      calls.manifests.push({ ref: ref.path, tag, bytes, mediaType });
      return sha256Digest(bytes);
    },
  };
}

const newCalls = (): Calls => ({ log: [], exists: new Set(), mountable: new Map(), uploaded: new Map(), manifests: [] });

describe('pushImage', () => {
  it('uploads layers (top first), then the config, then the stored manifest bytes under the tag', async () => {
    const img = await storeImage(['one', 'two'], ['127.0.0.1:5000/team/app:v1']);
    const calls = newCalls();
    const events: PushEvent[] = [];
    const results = await pushImage(ctx, '127.0.0.1:5000/team/app:v1', { onEvent: (e) => events.push(e), deps: { makeRegistry: () => fakeRegistry(calls) } });
    expect(results).toEqual([{ tag: 'v1', reference: '127.0.0.1:5000/team/app:v1', digest: img.manifestDigest, size: img.manifest.length }]);
    const [l1, l2] = img.layers.map((l) => l.digest.slice(7, 15));
    expect(calls.log.slice(0, 4).sort()).toEqual([`HEAD team/app ${l1}`, `HEAD team/app ${l2}`, `UPLOAD team/app ${l1}`, `UPLOAD team/app ${l2}`].sort());
    expect(calls.log.slice(4)).toEqual([`HEAD team/app ${img.configDigest.slice(7, 15)}`, `UPLOAD team/app ${img.configDigest.slice(7, 15)}`, 'MANIFEST team/app:v1']);
    expect(calls.uploaded.get(img.configDigest)!.equals(img.configBytes)).toBe(true);
    expect(calls.manifests[0]!.bytes.equals(img.manifest)).toBe(true);
    expect(calls.manifests[0]!.mediaType).toBe(MediaType.OciManifest);

    const ids = img.layers.map((l) => l.diffId.slice(7, 19));
    expect(events[0]).toEqual({ type: 'start', input: '127.0.0.1:5000/team/app:v1', repository: '127.0.0.1:5000/team/app', tags: ['v1'], defaultTag: false });
    expect(events[1]).toEqual({ type: 'tag', tag: 'v1' });
    // Docker lists the top layer first, by its diff ID.
    expect(events.slice(2, 4)).toEqual([{ type: 'layer', id: ids[1], status: 'Preparing' }, { type: 'layer', id: ids[0], status: 'Preparing' }]);
    const statuses = (id: string) => events.filter((e) => e.type === 'layer' && e.id === id).map((e) => (e as { status: string }).status);
    expect(statuses(ids[0]!)).toEqual(['Preparing', 'Pushing', 'Pushed']);
    expect(events[events.length - 1]).toEqual({ type: 'done', tag: 'v1', digest: img.manifestDigest, size: img.manifest.length, reference: '127.0.0.1:5000/team/app:v1' });
    // The registry now holds it: a repo digest, as after a pull.
    expect(openStore(ctx).images.get(img.record.id)!.repoDigests).toEqual([`127.0.0.1:5000/team/app@${img.manifestDigest}`]);
  });

  it('skips a foreign layer ("Skipped foreign layer") and sends the manifest unchanged', async () => {
    const img = await storeImage(['base', 'app'], ['127.0.0.1:5000/team/win:v1'], { urls: ['https://example.invalid/base'] });
    const calls = newCalls();
    const events: PushEvent[] = [];
    await pushImage(ctx, '127.0.0.1:5000/team/win:v1', { onEvent: (e) => events.push(e), deps: { makeRegistry: () => fakeRegistry(calls) } });
    const [fg, app] = img.layers.map((l) => l.digest.slice(7, 15));
    expect(calls.log.some((l) => l.includes(fg!))).toBe(false);
    expect(calls.log).toContain(`UPLOAD team/win ${app}`);
    const id = img.layers[0]!.diffId.slice(7, 19);
    expect(events.filter((e) => e.type === 'layer' && e.id === id).map((e) => (e as { status: string }).status)).toEqual(['Preparing', 'Skipped foreign layer']);
    expect(calls.manifests[0]!.bytes.equals(img.manifest)).toBe(true);
    expect(JSON.parse(img.manifest.toString()).layers[0].urls).toEqual(['https://example.invalid/base']);
  });

  it('uploads a foreign layer to a registry that allows non-distributable artifacts', async () => {
    const img = await storeImage(['base', 'app'], ['127.0.0.1:5000/team/win:v1'], { urls: ['https://example.invalid/base'] });
    const calls = newCalls();
    const events: PushEvent[] = [];
    await pushImage(ctx, '127.0.0.1:5000/team/win:v1', {
      onEvent: (e) => events.push(e),
      deps: { makeRegistry: () => ({ ...fakeRegistry(calls), allowsNondistributable: () => true }) },
    });
    expect(calls.log).toContain(`UPLOAD team/win ${img.layers[0]!.digest.slice(7, 15)}`);
    expect(events.some((e) => e.type === 'layer' && e.status === 'Skipped foreign layer')).toBe(false);
    expect(calls.manifests[0]!.bytes.equals(img.manifest)).toBe(true);
  });

  it('skips what the registry has and mounts what another repository of the same registry holds', async () => {
    const img = await storeImage(['one', 'two', 'three'], ['127.0.0.1:5000/team/app:v1']);
    const store = openStore(ctx);
    // Pulled from 127.0.0.1:5000/base (and from another registry, which is no mount source).
    await store.images.tag(img.record.id, `127.0.0.1:5000/base@${img.manifestDigest}`);
    await store.images.tag(img.record.id, `127.0.0.1:6000/elsewhere@${img.manifestDigest}`);
    const calls = newCalls();
    const [d1, d2, d3] = img.layers.map((l) => l.digest);
    calls.exists.add(d1!);
    calls.mountable.set(d2!, 'base');
    calls.exists.add(img.configDigest);
    const events: PushEvent[] = [];
    await pushImage(ctx, '127.0.0.1:5000/team/app:v1', { onEvent: (e) => events.push(e), deps: { makeRegistry: () => fakeRegistry(calls) } });
    const last = (d: string) => {
      const id = img.layers.find((l) => l.digest === d)!.diffId.slice(7, 19);
      return events.filter((e): e is Extract<PushEvent, { type: 'layer' }> => e.type === 'layer' && e.id === id).pop();
    };
    expect(last(d1!)!.status).toBe('Layer already exists');
    expect(last(d2!)).toEqual({ type: 'layer', id: img.layers[1]!.diffId.slice(7, 19), status: 'Mounted from', from: 'base' });
    expect(last(d3!)!.status).toBe('Pushed');
    // d3 could not be mounted: it went up through the session the mount attempt opened.
    expect(calls.log).toContain(`UPLOAD team/app ${d3!.slice(7, 15)} via /session/base`);
    expect(calls.log.filter((l) => l.startsWith('MOUNT')).every((l) => l.endsWith('from base'))).toBe(true);
    expect(calls.log.some((l) => l.startsWith(`UPLOAD team/app ${d1!.slice(7, 15)}`) || l.startsWith(`UPLOAD team/app ${d2!.slice(7, 15)}`))).toBe(false);
    expect(calls.log.filter((l) => l.startsWith(`UPLOAD team/app ${img.configDigest.slice(7, 15)}`))).toEqual([]);
  });

  it('shows Waiting for layers beyond the concurrency', async () => {
    await storeImage(['a', 'b', 'c'], ['127.0.0.1:5000/app:latest']);
    const events: PushEvent[] = [];
    await pushImage(ctx, '127.0.0.1:5000/app', { concurrency: 1, onEvent: (e) => events.push(e), deps: { makeRegistry: () => fakeRegistry(newCalls()) } });
    expect(events.filter((e) => e.type === 'layer' && e.status === 'Waiting')).toHaveLength(2);
    expect(events[0]).toMatchObject({ type: 'start', defaultTag: true, tags: ['latest'] });
  });

  it('pushes every local tag of the repository with allTags', async () => {
    await storeImage(['a'], ['127.0.0.1:5000/app:v2', '127.0.0.1:5000/app:v1', '127.0.0.1:5000/other:v3']);
    const calls = newCalls();
    const results = await pushImage(ctx, '127.0.0.1:5000/app', { allTags: true, deps: { makeRegistry: () => fakeRegistry(calls) } });
    expect(results.map((r) => r.reference)).toEqual(['127.0.0.1:5000/app:v1', '127.0.0.1:5000/app:v2']);
    expect(calls.manifests.map((m) => `${m.ref}:${m.tag}`)).toEqual(['app:v1', 'app:v2']);
  });

  it('refuses bad requests before sending anything', async () => {
    await storeImage(['a'], ['127.0.0.1:5000/app:v1']);
    const calls = newCalls();
    const deps = { makeRegistry: () => fakeRegistry(calls) };
    await expect(pushImage(ctx, '127.0.0.1:5000/app:v1', { allTags: true, deps })).rejects.toThrow("tag can't be used with --all-tags/-a");
    await expect(pushImage(ctx, `127.0.0.1:5000/app@sha256:${'a'.repeat(64)}`, { deps })).rejects.toThrow(/cannot push a digest reference/);
    await expect(pushImage(ctx, '127.0.0.1:5000/app:v9', { deps })).rejects.toThrow('An image does not exist locally with the tag: 127.0.0.1:5000/app:v9');
    await expect(pushImage(ctx, '127.0.0.1:5000/app', { deps })).rejects.toThrow(/^An image does not exist locally with the tag: 127.0.0.1:5000\/app$/);
    await expect(pushImage(ctx, '127.0.0.1:5000/nothing', { allTags: true, deps })).rejects.toThrow('An image does not exist locally with the tag: 127.0.0.1:5000/nothing');
    expect(calls.log).toEqual([]);
  });

  it('refuses to push a manifest whose stored bytes no longer match their digest', async () => {
    const img = await storeImage(['a'], ['127.0.0.1:5000/app:v1']);
    writeFileSync(img.store.content.blobPath(img.manifestDigest), Buffer.concat([img.manifest, Buffer.from(' ')]));
    const calls = newCalls();
    await expect(pushImage(ctx, '127.0.0.1:5000/app:v1', { deps: { makeRegistry: () => fakeRegistry(calls) } })).rejects.toThrow(/stored manifest of 127.0.0.1:5000\/app:v1 digest mismatch/);
    expect(calls.log).toEqual([]);
  });
});

describe('push pieces', () => {
  it('lists the tags of one repository only', () => {
    const names = {
      '127.0.0.1:5000/app:v1': 'sha256:1', '127.0.0.1:5000/app:latest': 'sha256:1', '127.0.0.1:5000/app/sub:v1': 'sha256:2',
      [`127.0.0.1:5000/app@sha256:${'a'.repeat(64)}`]: 'sha256:1', '127.0.0.1:5000/apple:v1': 'sha256:3',
    };
    expect(tagsToPush(names, parseReference('127.0.0.1:5000/app'), true)).toEqual(['latest', 'v1']);
    expect(tagsToPush(names, parseReference('127.0.0.1:5000/app:v7'), false)).toEqual(['v7']);
  });

  it('finds mount sources among the repo digests on the same registry', () => {
    const rec = (id: string, layers: string[], repoDigests: string[]) => ({ id, layers: layers.map((digest) => ({ digest })), repoDigests }) as unknown as ImageRecord;
    const d = (c: string) => `sha256:${c.repeat(64)}`;
    const m = mountSources([
      rec(d('1'), [d('a'), d('b')], [`reg:5000/base@${d('9')}`, `reg:5000/team/app@${d('9')}`, `other:5000/x@${d('9')}`]),
      rec(d('2'), [d('b')], [`reg:5000/alpha@${d('8')}`]),
      rec(d('3'), [d('c')], []),
    ], parseReference('reg:5000/team/app'));
    expect(m.get(d('a'))).toEqual(['base']);
    expect(m.get(d('b'))).toEqual(['alpha', 'base']);
    expect(m.get(d('c'))).toBeUndefined();
  });
});
