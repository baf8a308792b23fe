import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, InvalidReferenceError, NotFoundError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { Store, type ImageRecord } from '../../../src/store/index.js';

let root: string;
let store: Store;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tsrun-images-'));
  store = new Store({ content: join(root, 'content'), layers: join(root, 'layers'), metadata: join(root, 'metadata') });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** An image with the given layer contents, stored with blobs and layer dirs. */
async function addImage(name: string, layerContents: string[], names: string[]): Promise<ImageRecord> {
  const layers = [];
  let parent: string | undefined;
  for (const c of layerContents) {
    const digest = store.content.putBytes(`blob:${c}`);
    const diffId = sha256Digest(`diff:${c}`);
    const chainId = parent ? sha256Digest(`${parent} ${diffId}`) : diffId;
    await store.layers.ensure(chainId, async (tmp) => {
      mkdirSync(tmp);
      writeFileSync(join(tmp, c), c);
      return { diffId, size: 100 };
    });
    layers.push({ digest, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 10, diffId, chainId });
    parent = chainId;
  }
  const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: layers.map((l) => l.diffId) }, created: name };
  const id = store.content.putBytes(JSON.stringify(config));
  const manifestDigest = store.content.putBytes(`manifest:${name}`);
  const rec: ImageRecord = {
    id, repoTags: [], repoDigests: [], manifestDigest, layers, config, created: '2024-01-01T00:00:00Z', size: 100 * layers.length, pulledAt: new Date().toISOString(),
  };
  await store.images.put(rec, names);
  return store.images.get(id)!;
}

describe('ImageStore lookup', () => {
  it('finds an image by familiar name, full reference, digest reference, ID and ID prefix', async () => {
    const rec = await addImage('bb', ['a'], ['docker.io/library/busybox:latest', `docker.io/library/busybox@${sha256Digest('m')}`]);
    expect(rec.repoTags).toEqual(['docker.io/library/busybox:latest']);
    expect(rec.repoDigests).toEqual([`docker.io/library/busybox@${sha256Digest('m')}`]);
    const imgs = store.images;
    expect(imgs.require('busybox').id).toBe(rec.id);
    expect(imgs.require('busybox:latest').id).toBe(rec.id);
    expect(imgs.require('library/busybox').id).toBe(rec.id);
    expect(imgs.require('docker.io/library/busybox:latest').id).toBe(rec.id);
    expect(imgs.require(`busybox@${sha256Digest('m')}`).id).toBe(rec.id);
    expect(imgs.require(rec.id).id).toBe(rec.id);
    expect(imgs.require(rec.id.slice(7)).id).toBe(rec.id);
    expect(imgs.require(rec.id.slice(7, 19)).id).toBe(rec.id);
    expect(imgs.require(rec.id.slice(0, 12)).id).toBe(rec.id);
    expect(imgs.resolve('busybox')!.name).toBe('docker.io/library/busybox:latest');
    expect(imgs.resolve(rec.id.slice(7, 19))!.name).toBeUndefined();
  });

  it('reports missing images, bad references, short and ambiguous prefixes', async () => {
    const recs: ImageRecord[] = [];
    for (let i = 0; i < 40; i++) recs.push(await addImage(`img${i}`, [`l${i}`], [`docker.io/library/img${i}:latest`]));
    const imgs = store.images;
    expect(() => imgs.require('busybox')).toThrow(NotFoundError);
    expect(imgs.lookup('busybox')).toBeUndefined();
    expect(imgs.lookup(`sha256:${'0'.repeat(64)}`)).toBeUndefined();
    expect(() => imgs.require('busybox')).toThrow('no such image: busybox');
    expect(() => imgs.require('busybox:other')).toThrow(NotFoundError);
    expect(() => imgs.require('Busybox')).toThrow(InvalidReferenceError);
    expect(() => imgs.require(recs[0]!.id.slice(7, 9))).toThrow(NotFoundError);
    // with 40 images some pair shares its first hex digit: a 1-digit prefix via sha256: is too short, find a shared 3-digit one or craft
    const byFirst = new Map<string, number>();
    for (const r of recs) byFirst.set(r.id.slice(7, 8), (byFirst.get(r.id.slice(7, 8)) ?? 0) + 1);
    const shared = [...byFirst].find(([, n]) => n > 1)![0];
    let short: unknown;
    try {
      imgs.require(`sha256:${shared}`);
    } catch (err) {
      short = err;
    }
    expect(short).toBeInstanceOf(NotFoundError);
    expect((short as NotFoundError).hint).toMatch(/at least 3 hex/);
    // ambiguity: write two records whose IDs share a prefix
    const a = { ...recs[0]!, id: `sha256:abc${'0'.repeat(61)}` };
    const b = { ...recs[0]!, id: `sha256:abc${'1'.repeat(61)}` };
    await imgs.put(a);
    await imgs.put(b);
    expect(() => imgs.require('abc')).toThrow(ConflictError);
    expect(() => imgs.require('abc')).toThrow(/ambiguous.*2 images/);
    expect(imgs.require('abc0').id).toBe(a.id);
    expect(imgs.require('sha256:abc1').id).toBe(b.id);
    expect(() => imgs.require(`${'f'.repeat(64)}`)).toThrow(NotFoundError);
  });

  it('tags move names between images; untag removes one name', async () => {
    const one = await addImage('one', ['a'], ['docker.io/library/app:latest']);
    const two = await addImage('two', ['b'], []);
    expect(await store.images.tag(two.id, 'docker.io/library/app:latest')).toBe(one.id);
    expect(store.images.get(one.id)!.repoTags).toEqual([]);
    expect(store.images.require('app').id).toBe(two.id);
    await store.images.tag(two.id, 'localhost:5000/x/app:v1');
    expect(store.images.get(two.id)!.repoTags).toEqual(['docker.io/library/app:latest', 'localhost:5000/x/app:v1']);
    expect(await store.images.untag('docker.io/library/app:latest')).toBe(two.id);
    expect(await store.images.untag('docker.io/library/app:latest')).toBeUndefined();
    expect(store.images.get(two.id)!.repoTags).toEqual(['localhost:5000/x/app:v1']);
    await expect(store.images.tag(`sha256:${'e'.repeat(64)}`, 'x:y')).rejects.toThrow(NotFoundError);
    const idx = JSON.parse(readFileSync(join(root, 'metadata', 'names.json'), 'utf8'));
    expect(idx.names).toEqual({ 'localhost:5000/x/app:v1': two.id });
  });
});

describe('Store.removeImage (reference counted)', () => {
  it('removes only the blobs and layers no other image uses', async () => {
    const base = await addImage('base', ['os'], ['docker.io/library/base:latest']);
    const app = await addImage('app', ['os', 'app'], ['docker.io/library/app:latest']);
    const shared = base.layers[0]!;
    expect(app.layers[0]!.chainId).toBe(shared.chainId);
    const appOnly = app.layers[1]!;

    const r1 = await store.removeImage(app.id);
    expect(r1.names).toEqual(['docker.io/library/app:latest']);
    expect(r1.sweep.layers).toEqual([appOnly.chainId]);
    expect(r1.sweep.blobs.sort()).toEqual([app.manifestDigest, app.id, appOnly.digest].sort());
    expect(store.layers.has(shared.chainId)).toBe(true);
    expect(store.content.has(shared.digest)).toBe(true);
    expect(store.layers.has(appOnly.chainId)).toBe(false);
    expect(store.content.has(appOnly.digest)).toBe(false);
    expect(store.images.get(app.id)).toBeUndefined();

    const r2 = await store.removeImage(base.id);
    expect(r2.sweep.layers).toEqual([shared.chainId]);
    expect(store.content.list()).toEqual([]);
    expect(store.layers.list()).toEqual([]);
    expect(store.images.list()).toEqual([]);
  });

  it('collectGarbage removes orphans left by an interrupted pull but keeps used content', async () => {
    const img = await addImage('kept', ['k'], ['docker.io/library/kept:latest']);
    const orphanBlob = store.content.putBytes('orphan');
    await store.layers.ensure(sha256Digest('orphan-layer'), async (tmp) => {
      mkdirSync(tmp);
      return { diffId: sha256Digest('orphan-layer'), size: 7 };
    });
    const res = await store.collectGarbage();
    expect(res.blobs).toEqual([orphanBlob]);
    expect(res.layers).toEqual([sha256Digest('orphan-layer')]);
    expect(store.layers.has(img.layers[0]!.chainId)).toBe(true);
    expect(store.content.has(img.id)).toBe(true);
  });

  it('a sweep waits while a pull holds its lease', async () => {
    const img = await addImage('x', ['x'], ['docker.io/library/x:latest']);
    const order: string[] = [];
    let releaseLease!: () => void;
    const lease = store.withLease(() => new Promise<void>((res) => { releaseLease = () => { order.push('lease released'); res(); }; }));
    await new Promise((r) => setTimeout(r, 20));
    const removal = store.withExclusive(async () => { order.push('sweep'); }, () => order.push('sweep waiting'));
    await new Promise((r) => setTimeout(r, 100));
    releaseLease();
    await Promise.all([lease, removal]);
    expect(order).toEqual(['sweep waiting', 'lease released', 'sweep']);
    expect(store.images.get(img.id)).toBeDefined();
  });
});
