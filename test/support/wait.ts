// Polling for a condition that another process brings about (a container's exit, a log line).
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once `cond()` holds; throws "timed out waiting for <what>" after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000, pollMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}
