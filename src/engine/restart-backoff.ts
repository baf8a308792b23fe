// The wait between a container's exit and the start its restart policy asks for (Docker's
// "restarting" state), without a daemon: the process that waits holds a flock for the whole
// wait, and the record carries `restartBackoff`. Only both together mean "restarting": the
// kernel drops the lock if the waiter dies, so a kill -9 cannot leave a container that claims
// to be restarting forever. Each wait has its own lock, named by its mark's token: a waiter
// whose restart was called off (stop, then start) may sleep on, and must not hold up the next.
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FileLock } from '../util/lock.js';
import { ensureDir } from '../util/fs.js';
import { layout, type EngineContext } from './context.js';
import type { ContainerRecord } from './container-store.js';

function backoffLockPath(ctx: EngineContext, id: string, token: string): string {
  return join(layout(ctx).locks, `${id}.restart-backoff.${token.replace(/[^0-9A-Za-z]/g, '')}.lock`);
}

/** Whether a live process is waiting out the backoff the record's mark names. */
export function isWaitingOutBackoff(ctx: EngineContext, record: ContainerRecord): boolean {
  const mark = record.restartBackoff;
  return mark !== undefined && FileLock.isHeld(backoffLockPath(ctx, record.id, mark.restartAt));
}

/** The hold of the wait whose mark is `token`, taken before the record says "restarting". */
export function holdBackoff(ctx: EngineContext, id: string, token: string): FileLock | undefined {
  ensureDir(layout(ctx).locks);
  return FileLock.tryAcquire(backoffLockPath(ctx, id, token));
}

/** Removes a wait's lock file once its mark is gone (a waiter still sleeping keeps its hold on the unlinked file). */
export function forgetBackoff(ctx: EngineContext, id: string, token: string): void {
  try {
    unlinkSync(backoffLockPath(ctx, id, token));
  } catch {
    /* never made, or gone already */
  }
}
