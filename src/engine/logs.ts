// Reading a container's log: JSON lines {"log","stream","time"} written by the monitor
// (Docker's json-file shape). `follow` polls the file and ends when the container has exited
// and everything written has been read, so `logs -f` never stops early nor hangs.
import { readCompleteLines } from '../util/lines.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseTimestampFlag } from './timestamps.js';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  log: string;
  time: string;
}

export interface LogOptions {
  follow?: boolean;
  /** Number of lines from the end, or undefined for all. */
  tail?: number;
  /** As Docker reads them: date-times (local time without a zone), Unix seconds or durations back from now. */
  since?: string;
  until?: string;
  /** Asked while following: false once the container has exited. */
  isRunning?: () => boolean;
  pollMs?: number;
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
  const since = opts.since ? parseTimestampFlag(opts.since) : undefined;
  const until = opts.until ? parseTimestampFlag(opts.until) : undefined;
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
