// File locks with flock(2): held by an open file description, released by the
// kernel when the holder dies, so a kill -9 never leaves a stale lock.
//
// A lock file may be deleted (releaseAndRemove) by its exclusive holder. That is safe because
// every acquirer checks, once flock succeeded, that the path still names the file it locked:
// one who opened the file before its removal and got the lock after it holds a deleted inode
// that a newcomer at the path would not see, so it lets go and starts again on the current file.
import { closeSync, openSync, unlinkSync, constants } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, native } from '../native/index.js';

export class FileLock {
  private constructor(readonly path: string, private fd: number | undefined, private readonly shared: boolean) {}

  /** Try once; undefined when someone else holds it. Creates the lock file. */
  static tryAcquire(path: string, shared = false): FileLock | undefined {
    for (;;) {
      const fd = openSync(path, constants.O_RDONLY | constants.O_CREAT, 0o644);
      let current: boolean;
      try {
        if (!native().flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
          closeSync(fd);
          return undefined;
        }
        current = pathNamesFile(path, fd);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      if (current) return new FileLock(path, fd, shared);
      closeSync(fd); // a removed file's lock guards nothing: try the one at the path now
    }
  }

  /** Wait for the lock, polling (a blocking flock would stall the event loop). */
  static async acquire(path: string, opts: { shared?: boolean; onWait?: () => void; pollMs?: number } = {}): Promise<FileLock> {
    let waited = false;
    for (;;) {
      const lock = FileLock.tryAcquire(path, opts.shared);
      if (lock) return lock;
      if (!waited) opts.onWait?.();
      waited = true;
      await sleep(opts.pollMs ?? 25);
    }
  }

  /** True when some live process holds the lock at `path` (exclusively or shared); a missing file is held by nobody. */
  static isHeld(path: string): boolean {
    for (;;) {
      let fd: number;
      try {
        fd = openSync(path, constants.O_RDONLY);
      } catch {
        return false;
      }
      try {
        if (!native().flock(fd, LOCK_EX | LOCK_NB)) return true;
        // Free, unless it was removed meanwhile and the path names a newer file: ask that one.
        if (pathNamesFile(path, fd)) return false;
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * Hands the lock to a child process: `spawn` gets the descriptor to pass on, and ours is
   * then closed without unlocking, so the lock lives on in the child (flock belongs to the
   * open file description, which the child's copy shares).
   */
  passToChild(spawn: (fd: number) => void): void {
    if (this.fd === undefined) throw new Error(`lock ${this.path} is not held`);
    const fd = this.fd;
    try {
      spawn(fd);
    } catch (err) {
      this.release();
      throw err;
    }
    this.fd = undefined;
    closeSync(fd);
  }

  release(): void {
    if (this.fd === undefined) return;
    native().flock(this.fd, LOCK_UN);
    closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * Deletes the lock file and releases the lock: for a lock whose object is gone, so that its
   * file does not outlive it. Only an exclusive holder may: the unlink comes first, so whoever
   * waits on this file finds it removed once they get it, and moves on to a fresh one.
   */
  releaseAndRemove(): void {
    if (this.fd === undefined) return;
    if (this.shared) throw new Error(`lock ${this.path} is held shared: only its exclusive holder may remove it`);
    try {
      unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.release();
        throw err;
      }
    }
    this.release();
  }
}

/** Whether `path` still names the file open on `fd` (not removed, nor replaced by another). */
function pathNamesFile(path: string, fd: number): boolean {
  return native().namesFile(path, fd);
}
