// Small filesystem helpers that make writes atomic: readers see the old file
// or the new one, never a half-written one, even after kill -9.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let tempCount = 0;
// Drawn once per process (opening /dev/urandom for each write cost ~50 us): with the pid, names
// are not guessed in advance, nor shared by two processes of one pid in two pid namespaces.
const processToken = Math.random().toString(36).slice(2, 10);

/**
 * A temp name beside `path`, so the final rename stays on one filesystem. writeFileAtomic
 * creates it exclusively (never through a symlink planted there), so a clash only costs a retry.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.tmp-${basename(path)}-${process.pid}-${processToken}-${++tempCount}`);
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
  let tmp = tempPathFor(path);
  let fd: number;
  for (let tries = 1; ; tries++) {
    try {
      fd = openSync(tmp, 'wx', mode); // O_EXCL: never an existing file, nor a symlink's target
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 10) throw err;
      tmp = tempPathFor(path);
    }
  }
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
