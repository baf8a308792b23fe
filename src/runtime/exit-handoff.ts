// Who does what follows an attached container's exit (record it, --rm): the caller that
// waits for it, or, if that caller is killed at any moment, the monitor's exit command.
// The caller holds an flock on a file while the part is its own (the kernel drops it when
// the caller dies); the monitor waits for that lock and runs the exit command unless the
// file says "done" (PLAN.md, caller-lock).
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { LOCK_EX, LOCK_NB, native } from '../native/index.js';
import { LaunchError } from '../errors.js';

export class ExitHandoff {
  private fd: number | undefined;

  /** Locks a new file at `path` (the launcher, before the monitor starts); returns the path. */
  hold(path: string): string {
    if (this.fd !== undefined) throw new LaunchError('the exit hand-off is held already', 'caller-lock');
    // A fresh file: a previous run's waiter keeps its own (done) one.
    try {
      unlinkSync(path);
    } catch {
      // none yet
    }
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    if (!native().flock(fd, LOCK_EX | LOCK_NB)) {
      closeSync(fd);
      throw new LaunchError(`cannot lock ${path}`, 'caller-lock');
    }
    this.fd = fd;
    return path;
  }

  /** The caller did its part: the exit command is not needed. Written through our descriptor, so a removed file still says it. */
  done(): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, 'done', 0);
    this.release();
  }

  /** Lets go without "done" (the caller could not do its part): the monitor's exit command runs. */
  release(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
