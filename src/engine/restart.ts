// Restart policies, decided in TypeScript (the monitor only runs the exit command).
// Docker's rules: backoff starts at 100 ms and doubles up to 1 minute, and
// resets once the container has been up for 10 seconds.
import { UsageError } from '../errors.js';
import type { RestartPolicy } from './container-store.js';

export function parseRestartPolicy(value: string | undefined): RestartPolicy {
  if (!value || value === 'no') return { name: 'no', maximumRetryCount: 0 };
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(value);
  if (!m) throw new UsageError(`invalid restart policy "${value}": use no, always, unless-stopped or on-failure[:max-retries]`);
  const name = m[1] as RestartPolicy['name'];
  if (m[2] !== undefined && name !== 'on-failure') {
    throw new UsageError(`invalid restart policy "${value}": maximum retry count can only be used with on-failure`);
  }
  return { name, maximumRetryCount: m[2] === undefined ? 0 : Number(m[2]) };
}

export function shouldRestart(policy: RestartPolicy, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false;
  switch (policy.name) {
    case 'no':
      return false;
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (policy.maximumRetryCount === 0 || restartCount < policy.maximumRetryCount);
  }
}

export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_AFTER_MS = 10_000;

/** Delay before the next start, given how many quick restarts happened in a row and how long the last run lasted. */
export function restartDelay(consecutiveQuickRestarts: number, lastRunMs: number): { delayMs: number; quickRestarts: number } {
  if (lastRunMs >= BACKOFF_RESET_AFTER_MS) return { delayMs: BACKOFF_START_MS, quickRestarts: 0 };
  const delay = Math.min(BACKOFF_START_MS * 2 ** consecutiveQuickRestarts, BACKOFF_MAX_MS);
  return { delayMs: delay, quickRestarts: consecutiveQuickRestarts + 1 };
}
