// Docker's rmi rules over a real store in a temp dir (images pulled from an in-memory registry).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, UsageError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { MediaType } from '../../../src/oci/image.js';
import type { EngineContext } from '../../../src/engine/context.js';
import { imageDiskUsage, listImages, pruneImages, removeImage, tagImage } from '../../../src/engine/images.js';
import { openStore, pullImage, type PullDeps } from '../../../src/engine/pull.js';

let tmp: string;
let ctx: EngineContext;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsrun-engine-images-'));
  ctx = { root: join(tmp, 'root'), runroot: join(tmp, 'run') };
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A one-registry world with images made of the given layer texts. */
function registry(images: Record<string, string[]>): PullDeps {
  const blobs = new Map<string, Buffer>();
  const diff = new Map<string, string>();
  const manifests = new Map<string, Buffer>();
  const tags = new Map<string, string>();
  for (const [tag, texts] of Object.entries(images)) {
    const layers = texts.map((t) => {
      const b = Buffer.from(`layer ${t}`);
      blobs.set(sha256Digest(b), b);
      diff.set(sha256Digest(b), sha256Digest(`diff ${t}`));
      return { mediaType: MediaType.OciLayerGzip, digest: sha256Digest(b), size: b.length };
    });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: `2024-01-0${Object.keys(images).indexOf(tag) + 1}T00:00:00Z`, rootfs: { type: 'layers', diff_ids: layers.map((l) => diff.get(l.digest)) } }));
    blobs.set(sha256Digest(config), config);
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: sha256Digest(config), size: config.length }, layers }));
    manifests.set(sha256Digest(m), m);
    tags.set(tag, sha256Digest(m));
  }
  return {
    makeRegistry: () => ({
      resolve: async (ref) => {
        const d = ref.digest ?? tags.get(ref.path.split('/').pop()!)!;
        return { digest: d, mediaType: MediaType.OciManifest, size: manifests.get(d)!.length };
      },
      getManifest: async (_ref, d) => ({ bytes: manifests.get(d!)!, mediaType: MediaType.OciManifest, digest: d! }),
      getBlob: async (_ref, desc) => blobs.get(desc.digest)!,
      fetchBlob: async (_ref, desc, partial) => writeFileSync(partial, blobs.get(desc.digest)!),
    }),
    unpack: async (blob, _mt, dest, opts) => {
      // A blob still downloading is read once it is whole.
      while (opts?.growing && !opts.growing.growth.state().finished) await opts.growing.growth.next();
      mkdirSync(dest);
      return { diffId: diff.get(sha256Digest(readFileSync(blob)))!, size: 1000 };
    },
  };
}

describe('image removal rules', () => {
  it('untags while other tags remain, deletes on the last one, keeps shared layers', async () => {
    const deps = registry({ base: ['os'], app: ['os', 'app'] });
    const base = await pullImage(ctx, 'localhost:5000/base', { deps });
    const app = await pullImage(ctx, 'localhost:5000/app', { deps });
    await tagImage(ctx, 'localhost:5000/app', 'app:v1');
    await expect(tagImage(ctx, 'localhost:5000/app', `app@${app.id}`)).rejects.toThrow(UsageError);

    expect(await removeImage(ctx, 'app:v1')).toEqual({ untagged: ['app:v1'], deleted: [], reclaimed: 0 });
    const r = await removeImage(ctx, 'localhost:5000/app');
    expect(r.untagged).toEqual(['localhost:5000/app:latest', `localhost:5000/app@${app.repoDigests[0]!.split('@')[1]}`]);
    expect(r.deleted).toEqual([app.id, app.layers[1]!.chainId]);
    const store = openStore(ctx);
    expect(store.layers.has(base.layers[0]!.chainId)).toBe(true);
    expect(store.layers.has(app.layers[1]!.chainId)).toBe(false);
    await expect(removeImage(ctx, 'localhost:5000/app')).rejects.toThrow(NotFoundError);
  });

  it('refuses to delete an image containers use unless forced, and then only untags it', async () => {
    const deps = registry({ base: ['os'] });
    const img = await pullImage(ctx, 'localhost:5000/base', { deps });
    const inUse = (_c: EngineContext, id: string) => (id === img.id ? ['web'] : []);
    await expect(removeImage(ctx, 'localhost:5000/base', { inUse })).rejects.toThrow(/container web is using/);
    await expect(removeImage(ctx, img.id, { inUse })).rejects.toThrow(ConflictError);
    const forced = await removeImage(ctx, img.id, { inUse, force: true });
    expect(forced.deleted).toEqual([]);
    expect(forced.untagged).toContain('localhost:5000/base:latest');
    expect(listImages(ctx).map((r) => [r.id, r.repoTags])).toEqual([[img.id, []]]);
    expect(openStore(ctx).layers.has(img.layers[0]!.chainId)).toBe(true);
  });

  it('refuses an ID with names in several repositories unless forced', async () => {
    const deps = registry({ base: ['os'] });
    const img = await pullImage(ctx, 'localhost:5000/base', { deps });
    await tagImage(ctx, img.id, 'other:1');
    await expect(removeImage(ctx, img.id.slice(7, 19))).rejects.toThrow(/referenced in multiple repositories/);
    const r = await removeImage(ctx, img.id.slice(7, 19), { force: true });
    expect(r.deleted[0]).toBe(img.id);
    expect(listImages(ctx)).toEqual([]);
  });

  it('prunes dangling images, and with all every unused one; df counts shared layers once', async () => {
    const deps = registry({ one: ['os', 'a'], two: ['os', 'b'] });
    const one = await pullImage(ctx, 'localhost:5000/one', { deps });
    await pullImage(ctx, 'localhost:5000/two', { deps });
    expect(imageDiskUsage(ctx)).toMatchObject({ total: 2, active: 0, size: 3000, reclaimable: 3000 });
    // Make "one" dangling by moving its only tag.
    await tagImage(ctx, 'localhost:5000/two', 'localhost:5000/one');
    const p = await pruneImages(ctx);
    expect(p.deleted[0]).toBe(one.id);
    expect(listImages(ctx)).toHaveLength(1);
    const all = await pruneImages(ctx, { all: true });
    expect(all.untagged.length).toBeGreaterThan(0);
    expect(listImages(ctx)).toEqual([]);
    expect(openStore(ctx).content.list()).toEqual([]);
    expect(openStore(ctx).layers.list()).toEqual([]);
  });
});
