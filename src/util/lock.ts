// File locks with flock(2): held by an open file description, released by the
// kernel when the holder dies, so a kill -9 never leaves a stale lock.
import { closeSync, openSync, constants } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, native } from '../native/index.js';

export class FileLock {
  private constructor(readonly path: string, private fd: number | undefined) {}

  /** Try once; undefined when someone else holds it. Creates the lock file. */
  static tryAcquire(path: string, shared = false): FileLock | undefined {
    const fd = openSync(path, constants.O_RDONLY | constants.O_CREAT, 0o644);
    if (native().flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB)) return new FileLock(path, fd);
    closeSync(fd);
    return undefined;
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

  /** True when some live process holds the lock at `path` (exclusively or shared). */
  static isHeld(path: string): boolean {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY);
    } catch {
      return false;
    }
    try {
      const got = native().flock(fd, LOCK_EX | LOCK_NB);
      return !got;
    } finally {
      closeSync(fd);
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
}
