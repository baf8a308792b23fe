// The wait between a container's exit and the start its restart policy asks for (Docker's
// "restarting" state), without a daemon: the process that waits holds a flock for the whole
// wait, and the record carries `restartBackoff`. Only both together mean "restarting": the
// kernel drops the lock if the waiter dies, so a kill -9 cannot leave a container that claims
// to be restarting forever. Each wait has its own lock, named by its mark's token: a waiter
// whose restart was called off (stop, then start) may sleep on, and must not hold up the next.
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** How often the waiter looks whether stop or rm called the restart off: they cannot signal it. */
const CALL_OFF_POLL_MS = 100;

/**
 * Sleeps `delayMs`, waking early once `stillWanted()` says no (the record lost its mark,
 * or is gone). Returns whether the whole delay passed with the restart still wanted.
 */
export async function waitOutBackoff(delayMs: number, stillWanted: () => boolean): Promise<boolean> {
  const end = Date.now() + delayMs;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) return stillWanted();
    await sleep(Math.min(left, CALL_OFF_POLL_MS));
    if (!stillWanted()) return false;
  }
}
