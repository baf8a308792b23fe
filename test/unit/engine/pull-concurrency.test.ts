// The default number of parallel layer downloads (the issue says 3): pullImage
// with no concurrency option, against an in-memory registry whose blob fetches
// take a while, so that every download the puller allows is under way at once.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { EngineContext } from '../../../src/engine/context.js';
import { pullImage, type PullDeps } from '../../../src/engine/pull.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { MediaType, type Descriptor } from '../../../src/oci/image.js';

let ctx: EngineContext;
let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsrun-pull-conc-'));
  ctx = { root: join(tmp, 'root'), runroot: join(tmp, 'run') };
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A single-manifest image of `layerCount` layers, with blobs and diff IDs by digest. */
function imageOfLayers(layerCount: number) {
  const blobs = new Map<string, Buffer>();
  const diffOf = new Map<string, string>();
  const layers: Descriptor[] = [];
  for (let i = 0; i < layerCount; i++) {
    const bytes = Buffer.from(`layer ${i}\n`.repeat(500));
    const digest = sha256Digest(bytes);
    blobs.set(digest, bytes);
    diffOf.set(digest, sha256Digest(`diff of layer ${i}`));
    layers.push({ mediaType: MediaType.OciLayerGzip, digest, size: bytes.length });
  }
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => diffOf.get(l.digest)) },
  }));
  const configDigest = sha256Digest(config);
  blobs.set(configDigest, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length }, layers,
  }));
  return { blobs, diffOf, layers, manifest, manifestDigest: sha256Digest(manifest) };
}

/** Deps whose fetchBlob records how many fetches are running at the same time. */
function countingDeps(img: ReturnType<typeof imageOfLayers>, seen: { running: number; max: number; fetched: string[] }): PullDeps {
  return {
    makeRegistry: () => ({
      async resolve() {
        return { digest: img.manifestDigest, mediaType: MediaType.OciManifest, size: img.manifest.length };
      },
      async getManifest() {
        return { bytes: img.manifest, mediaType: MediaType.OciManifest, digest: img.manifestDigest };
      },
      async getBlob(_ref, desc) {
        return img.blobs.get(desc.digest)!;
      },
      async fetchBlob(_ref, desc, partial, opts) {
        seen.running++;
        seen.max = Math.max(seen.max, seen.running);
        seen.fetched.push(desc.digest);
        try {
          const data = img.blobs.get(desc.digest)!;
          // In a few slow pieces: long enough for every allowed download to start meanwhile.
          for (let at = 0; at < data.length; at += 1000) {
            await sleep(40);
            const piece = data.subarray(at, at + 1000);
            appendFileSync(partial, piece);
            opts?.onProgress?.(at + piece.length, data.length);
          }
        } finally {
          seen.running--;
        }
      },
    }),
    unpack: async (blobPath, _mediaType, dest, opts) => {
      // A blob still downloading is read once it is whole, as the real unpacker ends up doing.
      while (opts?.growing && !opts.growing.growth.state().finished) await opts.growing.growth.next();
      const digest = sha256Digest(readFileSync(blobPath));
      mkdirSync(dest);
      writeFileSync(join(dest, 'layer'), digest);
      return { diffId: img.diffOf.get(digest)!, size: 1 };
    },
  };
}

it('downloads at most 3 layers at once by default, and does use all 3', async () => {
  const img = imageOfLayers(5);
  const seen = { running: 0, max: 0, fetched: [] as string[] };
  await pullImage(ctx, '127.0.0.1:1/five', { deps: countingDeps(img, seen) });
  expect(seen.fetched.sort()).toEqual(img.layers.map((l) => l.digest).sort());
  expect(seen.max).toBe(3);
});
