// The wait between a container's exit and the start its restart policy asks for (Docker's
// "restarting" state), without a daemon: the process that waits holds a per-container flock
// for the whole wait, and the record carries `restartBackoff`. Only both together mean
// "restarting": the kernel drops the lock if the waiter dies, so a kill -9 cannot leave a
// container that claims to be restarting forever.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileLock } from '../util/lock.js';
import { ensureDir } from '../util/fs.js';
import { layout, type EngineContext } from './context.js';
import type { ContainerRecord } from './container-store.js';

function backoffLockPath(ctx: EngineContext, id: string): string {
  return join(layout(ctx).locks, `${id}.restart-backoff.lock`);
}

/** Whether a live process is waiting out this container's backoff. */
export function isWaitingOutBackoff(ctx: EngineContext, record: ContainerRecord): boolean {
  return record.restartBackoff !== undefined && FileLock.isHeld(backoffLockPath(ctx, record.id));
}

/** The waiter's hold, taken before the record says "restarting"; undefined when another process waits already. */
export function holdBackoff(ctx: EngineContext, id: string): FileLock | undefined {
  ensureDir(layout(ctx).locks);
  return FileLock.tryAcquire(backoffLockPath(ctx, id));
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
