// Small filesystem helpers that make writes atomic: readers see the old file
// or the new one, never a half-written one, even after kill -9.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let tempCount = 0;

/**
 * A temp name beside `path`, so the final rename stays on one filesystem. The pid and a count
 * make it unique among live processes (no random bytes: opening /dev/urandom for each write
 * cost ~50 us); one a killed process left behind is truncated by its reuser.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.tmp-${basename(path)}-${process.pid}-${++tempCount}`);
}

export interface AtomicWriteOptions {
  mode?: number;
  /**
   * fsync before the rename, so the new content survives a power loss. Not needed against
   * kill -9 (rename alone is atomic), and it costs milliseconds: the store's content and
   * metadata ask for it, per-container state does not.
   */
  durable?: boolean;
}

/** Write a file atomically (temp file + rename): readers see the old or the new file, never a mix. */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const mode = opts.mode ?? 0o644;
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (opts.durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    removeFile(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    removeFile(tmp);
    throw err;
  }
}

export function writeJsonAtomic(path: string, value: unknown, opts: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', opts);
}

/**
 * Removes a file or symlink; a missing one is fine. Not rmSync(path, { force: true }):
 * that loads Node's rimraf module on first use (~0.5 ms of a container start).
 */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export function ensureDir(path: string, mode = 0o755): string {
  // Mostly there already: one stat, where a recursive mkdir of an existing dir costs a failed mkdir, a stat and more JavaScript.
  if (!existsSync(path)) mkdirSync(path, { recursive: true, mode });
  return path;
}
