// When and how long to wait before trying a registry request again.
import { RegistryError } from '../errors.js';

/** Longest Retry-After we are willing to sit through; beyond it the 429 is reported. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unparsable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with +-20% jitter so parallel pulls do not retry in lockstep. */
export function backoffMs(attempt: number, baseMs: number, maxMs = 10_000): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.8 + Math.random() * 0.4));
}

/** Worth another attempt: rate limits, 5xx, resets and timeouts (not refusals or auth failures). */
export function isTemporary(err: unknown): boolean {
  return err instanceof RegistryError && err.temporary();
}
