// Reading a container's log: JSON lines {"log","stream","time"} written by the monitor
// (Docker's json-file shape). `follow` polls the file and ends when the container has exited
// and everything written has been read, so `logs -f` never stops early nor hangs.
import { readCompleteLines } from '../util/lines.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../errors.js';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  log: string;
  time: string;
}

export interface LogOptions {
  follow?: boolean;
  /** Number of lines from the end, or undefined for all. */
  tail?: number;
  /** RFC3339 instants or Unix seconds, as Docker accepts. */
  since?: string;
  until?: string;
  /** Asked while following: false once the container has exited. */
  isRunning?: () => boolean;
  pollMs?: number;
}

/** Parses --since/--until: RFC3339, Unix seconds (with fraction), or a duration like 10m ago. */
export function parseTimeBound(value: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const dur = parseGoDuration(value);
  if (dur !== undefined) return now - dur;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`invalid time "${value}": use RFC3339, Unix seconds or a duration such as 10m`);
  return t;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("10m", "1h30m", "1.5s", "-5m"), in milliseconds; undefined if it is not one. */
export function parseGoDuration(value: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(value);
  if (!m) return undefined;
  let total = 0;
  for (const part of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

function* parseLines(text: string): Generator<LogEntry> {
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      yield JSON.parse(line) as LogEntry;
    } catch {
      /* a torn last line from a killed monitor: skip it */
    }
  }
}

export async function* readLogs(path: string, opts: LogOptions = {}): AsyncGenerator<LogEntry> {
  const since = opts.since ? parseTimeBound(opts.since) : undefined;
  const until = opts.until ? parseTimeBound(opts.until) : undefined;
  const keep = (e: LogEntry) => {
    if (since === undefined && until === undefined) return true;
    const t = Date.parse(e.time);
    return (since === undefined || t >= since) && (until === undefined || t <= until);
  };

  let { text, next } = readCompleteLines(path, 0);
  let entries = [...parseLines(text)].filter(keep);
  if (opts.tail !== undefined && opts.tail >= 0) entries = entries.slice(Math.max(0, entries.length - opts.tail));
  yield* entries;
  if (!opts.follow) return;

  for (;;) {
    // Check liveness before reading so the last lines written before exit are not lost.
    const running = opts.isRunning ? opts.isRunning() : false;
    ({ text, next } = readCompleteLines(path, next));
    for (const e of parseLines(text)) if (keep(e)) yield e;
    if (!running) return;
    await sleep(opts.pollMs ?? 100);
  }
}
