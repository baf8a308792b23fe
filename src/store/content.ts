// Content-addressed blob store (OCI-style): <dir>/blobs/sha256/<hex>.
// Downloads land in <dir>/ingest/<hex>.partial under a stable name so a pull
// killed half-way resumes where it stopped; a per-blob flock serialises
// processes that want the same blob (the second waits, then finds it).
// A blob appears under blobs/ only by rename(2) of a complete, verified file:
// nothing partial is ever visible there.
import { createHash } from 'node:crypto';
import { createReadStream, closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DigestMismatchError, StoreError } from '../errors.js';
import { digestAlgorithm, digestHex, sha256Digest } from '../image/digest.js';
import { FileLock } from '../util/lock.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';

export interface CommitOptions {
  /** Size the descriptor announced; a different size deletes the partial and throws. */
  expectedSize?: number;
  /** Re-hash the file before committing (for partials that did not come from the verifying registry client). */
  verify?: boolean;
}

export interface BlobInfo {
  digest: string;
  size: number;
}

/** fsync a directory so a rename inside it survives a crash. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function hashFile(path: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest('hex')}`;
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(readonly dir: string) {
    this.blobsDir = join(dir, 'blobs');
    this.ingestDir = join(dir, 'ingest');
  }

  private algoDir(d: string): string {
    return join(this.blobsDir, digestAlgorithm(d));
  }

  /** Where the committed blob lives (whether or not it exists yet). */
  blobPath(d: string): string {
    return join(this.algoDir(d), digestHex(d));
  }

  has(d: string): boolean {
    return existsSync(this.blobPath(d));
  }

  /** Size of a committed blob, or undefined. */
  size(d: string): number | undefined {
    try {
      return statSync(this.blobPath(d)).size;
    } catch {
      return undefined;
    }
  }

  /** The stable ingest file for `d`; the registry client appends to it and resumes from its size. */
  partialPath(d: string): string {
    ensureDir(this.ingestDir);
    return join(this.ingestDir, `${digestHex(d)}.partial`);
  }

  /**
   * Exclusive per-blob lock (flock: released by the kernel if we die). Hold it
   * while downloading into the partial and committing. `onWait` fires once when
   * another process already holds it.
   */
  lockBlob(d: string, onWait?: () => void): Promise<FileLock> {
    ensureDir(this.ingestDir);
    return FileLock.acquire(join(this.ingestDir, `${digestHex(d)}.lock`), { onWait, pollMs: 50 });
  }

  /**
   * Move the finished partial into blobs/ (caller holds lockBlob). Checks the
   * size (cheap) and, with `verify`, the digest; on mismatch the partial is
   * deleted so the next attempt starts clean.
   */
  async commitPartial(d: string, opts: CommitOptions = {}): Promise<string> {
    const target = this.blobPath(d);
    const partial = this.partialPath(d);
    if (existsSync(target)) {
      rmSync(partial, { force: true });
      return target;
    }
    let size: number;
    try {
      size = statSync(partial).size;
    } catch (err) {
      throw new StoreError(`cannot commit blob ${d}: no downloaded data at ${partial}`, { cause: err });
    }
    if (opts.expectedSize !== undefined && size !== opts.expectedSize) {
      rmSync(partial, { force: true });
      throw new DigestMismatchError(`${opts.expectedSize} bytes`, `${size} bytes`, `blob ${d} size`);
    }
    if (opts.verify) {
      const actual = await hashFile(partial, digestAlgorithm(d));
      if (actual !== d) {
        rmSync(partial, { force: true });
        throw new DigestMismatchError(d, actual, 'blob');
      }
    }
    const fd = openSync(partial, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    ensureDir(this.algoDir(d));
    renameSync(partial, target);
    fsyncDir(this.algoDir(d));
    return target;
  }

  /** Store small content (manifests, configs) atomically; returns its digest. */
  putBytes(bytes: Buffer | string, expectedDigest?: string): string {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const d = expectedDigest && digestAlgorithm(expectedDigest) === 'sha512'
      ? `sha512:${createHash('sha512').update(buf).digest('hex')}`
      : sha256Digest(buf);
    if (expectedDigest !== undefined && d !== expectedDigest) throw new DigestMismatchError(expectedDigest, d, 'content');
    const target = this.blobPath(d);
    if (!existsSync(target)) {
      ensureDir(this.algoDir(d));
      writeFileAtomic(target, buf, { durable: true });
    }
    return d;
  }

  read(d: string): Buffer {
    try {
      return readFileSync(this.blobPath(d));
    } catch (err) {
      throw new StoreError(`blob ${d} is not in the content store (${this.dir})`, { cause: err });
    }
  }

  /** Delete a blob (and any partial of it); true when something was removed. */
  remove(d: string): boolean {
    const had = this.has(d);
    rmSync(this.blobPath(d), { force: true });
    rmSync(join(this.ingestDir, `${digestHex(d)}.partial`), { force: true });
    return had;
  }

  list(): BlobInfo[] {
    const out: BlobInfo[] = [];
    for (const algo of ['sha256', 'sha512']) {
      const dir = join(this.blobsDir, algo);
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue; // temp files of putBytes
        try {
          out.push({ digest: `${algo}:${name}`, size: statSync(join(dir, name)).size });
        } catch {
          // removed meanwhile
        }
      }
    }
    return out;
  }

  /** Partials in the ingest dir (digest, bytes so far, mtime). */
  listPartials(): { digest: string; size: number; mtimeMs: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.ingestDir);
    } catch {
      return [];
    }
    const out: { digest: string; size: number; mtimeMs: number }[] = [];
    for (const name of names) {
      const m = /^([a-f0-9]{64})\.partial$/.exec(name);
      if (!m) continue;
      try {
        const st = statSync(join(this.ingestDir, name));
        out.push({ digest: `sha256:${m[1]}`, size: st.size, mtimeMs: st.mtimeMs });
      } catch {
        // gone
      }
    }
    return out;
  }

  /**
   * Remove partials older than `olderThanMs` that nobody is downloading (their
   * blob lock is free), and leftover temp files. Returns bytes reclaimed.
   * Lock files themselves are left in place: unlinking a lock file another
   * process has open would let two holders exist at once.
   */
  gc(olderThanMs = 24 * 3600_000): number {
    let reclaimed = 0;
    const now = Date.now();
    for (const p of this.listPartials()) {
      if (now - p.mtimeMs < olderThanMs) continue;
      const lock = FileLock.tryAcquire(join(this.ingestDir, `${digestHex(p.digest)}.lock`));
      if (!lock) continue;
      try {
        rmSync(join(this.ingestDir, `${digestHex(p.digest)}.partial`), { force: true });
        reclaimed += p.size;
      } finally {
        lock.release();
      }
    }
    // Temp files of putBytes left by a process killed between write and rename.
    for (const algo of ['sha256', 'sha512']) {
      const dir = join(this.blobsDir, algo);
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names.filter((n) => n.startsWith('.tmp-'))) {
        try {
          const st = statSync(join(dir, name));
          if (now - st.mtimeMs < Math.min(olderThanMs, 3600_000)) continue;
          rmSync(join(dir, name), { force: true });
          reclaimed += st.size;
        } catch {
          // gone
        }
      }
    }
    return reclaimed;
  }
}
