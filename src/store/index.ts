// The store as one object: blobs, unpacked layers, image records, and the
// reference-counted cleanup that ties them together.
//
// Reference counts are computed, not stored: a blob or layer is in use while
// some image record names it. Counting on demand from the records cannot drift
// after a crash. The race with a pull that has stored a blob but not yet
// written its record is closed by a lease: pulls hold <metadata>/gc.lock
// shared for their whole run, removals take it exclusive before sweeping.
import { join } from 'node:path';
import { FileLock } from '../util/lock.js';
import { ensureDir } from '../util/fs.js';
import { ContentStore } from './content.js';
import { ImageStore, type ImageRecord } from './images.js';
import { LayerStore } from './layers.js';

export { ContentStore, type BlobInfo, type CommitOptions, hashFile } from './content.js';
export { LayerStore, type LayerMeta, type FillResult } from './layers.js';
export { ImageStore, nameKey, type ImageLayer, type ImageRecord } from './images.js';

export interface StorePaths {
  content: string;
  layers: string;
  metadata: string;
}

export interface SweepResult {
  /** Chain IDs of the layer dirs removed. */
  layers: string[];
  /** Digests of the blobs removed. */
  blobs: string[];
  /** Bytes freed (blob sizes + uncompressed layer sizes). */
  reclaimed: number;
}

/** Every blob digest an image record needs: index, manifest, config, layer blobs. */
export function imageBlobs(rec: ImageRecord | Omit<ImageRecord, 'repoTags' | 'repoDigests'>): string[] {
  const out = [rec.manifestDigest, rec.id, ...rec.layers.map((l) => l.digest)];
  if (rec.indexDigest) out.push(rec.indexDigest);
  return out;
}

export class Store {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly images: ImageStore;

  constructor(readonly paths: StorePaths) {
    this.content = new ContentStore(paths.content);
    this.layers = new LayerStore(paths.layers);
    this.images = new ImageStore(paths.metadata);
  }

  private leasePath(): string {
    return join(ensureDir(this.paths.metadata), 'gc.lock');
  }

  /** Hold a shared lease for `fn` (pulls): no sweep deletes content meanwhile. */
  async withLease<T>(fn: () => Promise<T>): Promise<T> {
    const lock = await FileLock.acquire(this.leasePath(), { shared: true, pollMs: 50 });
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /** Hold the exclusive side of the lease (removals, prune). */
  async withExclusive<T>(fn: () => Promise<T>, onWait?: () => void): Promise<T> {
    const lock = await FileLock.acquire(this.leasePath(), { pollMs: 50, onWait });
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /**
   * Delete an image record (and its names), then the blobs and layers no other
   * image uses. Returns the removed names and what the sweep freed.
   */
  async removeImage(id: string): Promise<{ names: string[]; sweep: SweepResult }> {
    return this.withExclusive(async () => {
      const rec = this.images.get(id);
      const names = await this.images.locked(() => this.images.deleteUnlocked(id));
      if (!rec) return { names, sweep: { layers: [], blobs: [], reclaimed: 0 } };
      const sweep = await this.sweepUnlocked({ blobs: imageBlobs(rec), layers: rec.layers.map((l) => l.chainId) });
      return { names, sweep };
    });
  }

  /** Remove every blob and layer no image uses, plus stale partials and temp dirs. */
  async collectGarbage(): Promise<SweepResult> {
    return this.withExclusive(async () => {
      const result = await this.sweepUnlocked();
      result.reclaimed += this.content.gc(0);
      this.layers.gc();
      return result;
    });
  }

  /** What the image records reference, right now. */
  referenced(): { blobs: Set<string>; layers: Set<string> } {
    const blobs = new Set<string>();
    const layers = new Set<string>();
    for (const rec of this.images.list()) {
      for (const b of imageBlobs(rec)) blobs.add(b);
      for (const l of rec.layers) layers.add(l.chainId);
    }
    return { blobs, layers };
  }

  /** Caller holds the exclusive lease. `candidates` limits the sweep; default: everything on disk. */
  private async sweepUnlocked(candidates?: { blobs: string[]; layers: string[] }): Promise<SweepResult> {
    const used = this.referenced();
    const result: SweepResult = { layers: [], blobs: [], reclaimed: 0 };
    const layerIds = candidates?.layers ?? this.layers.list().map((m) => m.chainId);
    for (const chainId of new Set(layerIds)) {
      if (used.layers.has(chainId)) continue;
      const size = this.layers.meta(chainId)?.size ?? 0;
      if (await this.layers.remove(chainId)) {
        result.layers.push(chainId);
        result.reclaimed += size;
      }
    }
    const blobIds = candidates?.blobs ?? this.content.list().map((b) => b.digest);
    for (const d of new Set(blobIds)) {
      if (used.blobs.has(d)) continue;
      const size = this.content.size(d) ?? 0;
      if (this.content.remove(d)) {
        result.blobs.push(d);
        result.reclaimed += size;
      }
    }
    return result;
  }

  /** Bytes used on disk: blobs and unpacked layers. */
  usage(): { blobs: number; layers: number } {
    return {
      blobs: this.content.list().reduce((a, b) => a + b.size, 0),
      layers: this.layers.list().reduce((a, m) => a + m.size, 0),
    };
  }
}
