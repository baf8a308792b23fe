// Unpacked layers, one directory per layer keyed by its chain ID:
//   <dir>/<hex>/diff        the layer's own tree (overlay whiteouts), used as an overlay lowerdir
//   <dir>/<hex>/meta.json   { chainId, diffId, size, parent }
//   <dir>/l/<short>         symlink -> ../<hex>/diff (short overlay lowerdir paths, see shortPath)
// A layer directory is filled in a temp sibling and renamed into place, so it
// exists only when complete; a per-layer flock makes two processes that need
// the same layer unpack it once. Layers are shared by every image that has them.
import { existsSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { digestHex } from '../image/digest.js';
import { FileLock } from '../util/lock.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';

export interface LayerMeta {
  chainId: string;
  diffId: string;
  /** Uncompressed size of the layer tar, in bytes. */
  size: number;
  /** Chain ID of the layer below, if any. */
  parent?: string;
  createdAt: string;
}

export interface FillResult {
  diffId: string;
  size: number;
}

/** Length of the hex used for the short link names under l/. */
const SHORT_LEN = 16;

export class LayerStore {
  constructor(readonly dir: string) {}

  /** The layer's directory (meta.json + diff/). */
  layerDir(chainId: string): string {
    return join(this.dir, digestHex(chainId));
  }

  /** The layer's tree, an overlay lowerdir. */
  treePath(chainId: string): string {
    return join(this.layerDir(chainId), 'diff');
  }

  has(chainId: string): boolean {
    return existsSync(join(this.layerDir(chainId), 'meta.json'));
  }

  meta(chainId: string): LayerMeta | undefined {
    try {
      return JSON.parse(readFileSync(join(this.layerDir(chainId), 'meta.json'), 'utf8')) as LayerMeta;
    } catch {
      return undefined;
    }
  }

  private lockPath(chainId: string): string {
    return join(ensureDir(join(this.dir, '.locks')), `${digestHex(chainId)}.lock`);
  }

  /**
   * Make sure the layer exists: if not, call `fill(tmpTree)` (tmpTree does not
   * exist yet; fill creates it, e.g. unpackLayer) under the layer's lock, then
   * rename the temp dir into place. `created` is false when it was already there
   * (possibly made by another process while we waited).
   */
  async ensure(
    chainId: string,
    fill: (tmpTree: string) => Promise<FillResult>,
    opts: { parent?: string; onWait?: () => void } = {},
  ): Promise<{ meta: LayerMeta; created: boolean }> {
    const existing = this.meta(chainId);
    if (existing) return { meta: existing, created: false };
    const lock = await FileLock.acquire(this.lockPath(chainId), { onWait: opts.onWait, pollMs: 50 });
    try {
      const raced = this.meta(chainId);
      if (raced) return { meta: raced, created: false };
      const hex = digestHex(chainId);
      // Leftovers of a killed unpack of this layer: we hold the lock, so nobody is using them.
      this.removeTemps(hex);
      const tmp = join(this.dir, `.tmp-${hex}-${randomBytes(4).toString('hex')}`);
      ensureDir(tmp, 0o700);
      try {
        const result = await fill(join(tmp, 'diff'));
        const meta: LayerMeta = { chainId, diffId: result.diffId, size: result.size, createdAt: new Date().toISOString() };
        if (opts.parent) meta.parent = opts.parent;
        writeJsonAtomic(join(tmp, 'meta.json'), meta, { durable: true });
        // A stale, incomplete dir (no meta.json) can only come from outside tools; clear it.
        rmSync(this.layerDir(chainId), { recursive: true, force: true });
        renameSync(tmp, this.layerDir(chainId));
        this.shortPath(chainId);
        return { meta, created: true };
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        throw err;
      }
    } finally {
      lock.release();
    }
  }

  private removeTemps(hex: string): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(`.tmp-${hex}-`) || n.startsWith(`.trash-${hex}-`)) rmSync(join(this.dir, n), { recursive: true, force: true });
  }

  /**
   * A short path to the layer's tree, <dir>/l/<16 hex> -> ../<hex>/diff.
   * Overlay's mount data is limited to one page (4096 bytes); with full paths
   * (~90 bytes each) an image could have only ~40 layers, with these ~100.
   * (Docker's overlay2 driver uses the same trick.) Created on demand.
   */
  shortPath(chainId: string): string {
    const hex = digestHex(chainId);
    const linkDir = ensureDir(join(this.dir, 'l'));
    const target = `../${hex}/diff`;
    for (let len = SHORT_LEN; len <= hex.length; len += 8) {
      const link = join(linkDir, hex.slice(0, len));
      let current: string | undefined;
      try {
        current = readlinkSync(link);
      } catch {
        current = undefined;
      }
      if (current === target) return link;
      if (current === undefined) {
        try {
          symlinkSync(target, link);
          return link;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot create layer link ${link}`, { cause: err });
          if (readlinkSync(link) === target) return link;
        }
      }
      // A different layer owns this prefix: use a longer one.
    }
    return this.treePath(chainId);
  }

  /** Remove a layer (under its lock); renamed aside first so a half-deleted tree never looks complete. */
  async remove(chainId: string): Promise<boolean> {
    const lock = await FileLock.acquire(this.lockPath(chainId), { pollMs: 50 });
    try {
      const hex = digestHex(chainId);
      const dir = this.layerDir(chainId);
      if (!existsSync(dir)) return false;
      const trash = join(this.dir, `.trash-${hex}-${randomBytes(4).toString('hex')}`);
      renameSync(dir, trash);
      for (let len = SHORT_LEN; len <= hex.length; len += 8) {
        const link = join(this.dir, 'l', hex.slice(0, len));
        try {
          if (readlinkSync(link) === `../${hex}/diff`) rmSync(link, { force: true });
        } catch {
          // no link of that length
        }
      }
      rmSync(trash, { recursive: true, force: true });
      return true;
    } finally {
      lock.release();
    }
  }

  list(): LayerMeta[] {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: LayerMeta[] = [];
    for (const n of names) {
      if (!/^[a-f0-9]{64}$/.test(n)) continue;
      const m = this.meta(`sha256:${n}`);
      if (m) out.push(m);
    }
    return out;
  }

  /** Remove temp and trash dirs left by killed processes (whose layer lock is free). */
  gc(): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = /^\.(?:tmp|trash)-([a-f0-9]{64})-/.exec(n);
      if (!m) continue;
      const lock = FileLock.tryAcquire(this.lockPath(`sha256:${m[1]}`));
      if (!lock) continue;
      try {
        rmSync(join(this.dir, n), { recursive: true, force: true });
      } finally {
        lock.release();
      }
    }
  }
}
