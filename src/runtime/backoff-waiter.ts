// A restart policy's wait between a container's exit and its next start, in the helper
// (`tsrun-helper backoff`, src/helper/main.c: a few hundred kB) rather than in the Node
// process that decided it (~45 MB), which can then exit.
import { native } from '../native/index.js';
import { helperPath } from '../util/paths.js';

/**
 * Starts the waiter: it holds `lockFd` (its fd 3) while it sleeps `delayMs`, then while
 * `argv` (absolute path first) runs to its end. Returns the waiter's pid; nobody waits for
 * it here: it outlives the caller.
 */
export function spawnBackoffWaiter(lockFd: number, delayMs: number, argv: string[]): number {
  const helper = helperPath();
  return native().spawnProcess(helper, [helper, 'backoff', String(Math.max(0, Math.round(delayMs))), ...argv], [-1, -1, -1, lockFd]);
}
