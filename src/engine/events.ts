// The events log behind `tsrun events`: with no daemon to broadcast them, every tsrun process
// appends one JSON line per event to RUNROOT/events/events.jsonl (as Podman's file backend).
// A single O_APPEND write of a line shorter than PIPE_BUF is atomic, so concurrent processes
// never interleave lines. The file is rotated to events.jsonl.1 past a size cap.
import { appendFileSync, mkdirSync, renameSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { readCompleteLines } from '../util/lines.js';
import { ensureDir } from '../util/fs.js';
import type { EngineContext } from './context.js';

export type EventType = 'container' | 'image' | 'volume' | 'network';

/** Docker's events.Message. */
export interface EngineEvent {
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  /** Nanoseconds since the epoch, as a decimal string: a JS number cannot hold them exactly. */
  timeNano: string;
}

/** Past this size the log moves to events.jsonl.1 (the previous .1 is dropped). */
export const EVENTS_MAX_BYTES = 1024 * 1024;

export function eventsPath(ctx: EngineContext): string {
  return join(ctx.runroot, 'events', 'events.jsonl');
}

/** A line longer than PIPE_BUF (4096) might interleave with another writer's: attributes are cut to keep under it. */
const MAX_LINE = 4000;

/** Nanoseconds now: the wall clock's milliseconds plus the monotonic clock's sub-millisecond digits. */
function nowNano(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/** Docker's JSON line of an event, timeNano as an exact integer. */
export function eventJson(ev: EngineEvent): string {
  const { timeNano, ...rest } = ev;
  return `${JSON.stringify(rest).slice(0, -1)},"timeNano":${timeNano}}`;
}

export function parseEventLine(line: string): EngineEvent | undefined {
  try {
    const ev = JSON.parse(line) as EngineEvent;
    // JSON.parse rounds the integer: take its digits from the text.
    ev.timeNano = /"timeNano":(\d+)/.exec(line)?.[1] ?? `${ev.time}000000000`;
    return ev;
  } catch {
    return undefined; // a torn line (a full disk): skip it
  }
}

/**
 * Appends one event. Never throws and costs one small write: an event must never make
 * a verb fail. Container and image events carry Docker's legacy status/id/from fields.
 */
export function recordEvent(ctx: EngineContext, type: EventType, action: string, actorId: string, attributes: Record<string, string> = {}): void {
  try {
    const nano = nowNano();
    const ev: EngineEvent = {
      ...(type === 'container' || type === 'image' ? { status: action, id: actorId, ...(type === 'container' && attributes.image ? { from: attributes.image } : {}) } : {}),
      Type: type,
      Action: action,
      Actor: { ID: actorId, Attributes: attributes },
      scope: 'local',
      time: Number(nano / 1_000_000_000n),
      timeNano: nano.toString(),
    };
    let line = `${eventJson(ev)}\n`;
    if (Buffer.byteLength(line) > MAX_LINE) line = `${eventJson({ ...ev, Actor: { ID: actorId, Attributes: {} } })}\n`;
    const path = eventsPath(ctx);
    ensureDir(join(ctx.runroot, 'events'));
    rotateIfFull(path);
    appendFileSync(path, line);
  } catch {
    /* best effort: the verb's own work is what matters */
  }
}

/** Two processes rotating at once may drop the first's fresh lines: a rare loss, accepted to keep writes lock-free. */
function rotateIfFull(path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return;
  }
  if (size >= EVENTS_MAX_BYTES) renameSync(path, `${path}.1`);
}

/** The container's attributes: its labels, then name and image (Docker's order of precedence). */
export function containerAttributes(record: { name: string; image: string; config: { labels?: Record<string, string> } }, extra: Record<string, string> = {}): Record<string, string> {
  return { ...(record.config.labels ?? {}), image: record.image, name: record.name, ...extra };
}

export function recordContainerEvent(
  ctx: EngineContext,
  record: { id: string; name: string; image: string; config: { labels?: Record<string, string> } },
  action: string,
  extra: Record<string, string> = {},
): void {
  recordEvent(ctx, 'container', action, record.id, containerAttributes(record, extra));
}

/** The complete event lines in [from, end of file), the offset after the last one, and the file's inode. */
export function readEventLines(path: string, from: number): { events: EngineEvent[]; next: number; ino?: number } {
  const { text, next, ino } = readCompleteLines(path, from);
  const events = text
    .split('\n')
    .filter(Boolean)
    .map(parseEventLine)
    .filter((e): e is EngineEvent => e !== undefined);
  return { events, next, ino };
}

/** Where a reader is in the current log: the offset after the last line read, and the file it read. */
export interface EventCursor {
  next: number;
  ino?: number;
}

/** Every stored event, oldest first (the rotated file, then the current one), and where to follow from. */
export function readPastEvents(ctx: EngineContext): { events: EngineEvent[]; cursor: EventCursor } {
  const path = eventsPath(ctx);
  const old = readEventLines(`${path}.1`, 0).events;
  const cur = readEventLines(path, 0);
  return { events: [...old, ...cur.events], cursor: { next: cur.next, ino: cur.ino } };
}

/** The events appended since `cursor`; a rotation meanwhile is followed into events.jsonl.1. */
export function readNewEvents(ctx: EngineContext, cursor: EventCursor): EngineEvent[] {
  const path = eventsPath(ctx);
  let ino: number | undefined;
  try {
    ino = statSync(path).ino;
  } catch {
    ino = undefined;
  }
  const out: EngineEvent[] = [];
  if (ino !== cursor.ino) {
    // Rotated (or created): the rest of the file we were reading is events.jsonl.1 now.
    const rest = readEventLines(`${path}.1`, cursor.next);
    if (cursor.ino !== undefined && rest.ino === cursor.ino) out.push(...rest.events);
    cursor.next = 0;
    cursor.ino = ino;
  }
  const cur = readEventLines(path, cursor.next);
  // A file replaced between our stat and read is picked up by the next call.
  if (cur.ino === cursor.ino) {
    out.push(...cur.events);
    cursor.next = cur.next;
  }
  return out;
}

/**
 * Calls `onEvent` for each new event until `until` (ms since the epoch) passes or `signal`
 * aborts. fs.watch wakes it at once; the interval covers what inotify misses (a rotation,
 * a directory created later, filesystems without it).
 */
export async function followEvents(
  ctx: EngineContext,
  cursor: EventCursor,
  onEvent: (ev: EngineEvent) => void,
  opts: { until?: number; signal?: AbortSignal; pollMs?: number } = {},
): Promise<void> {
  const dir = join(ctx.runroot, 'events');
  mkdirSync(dir, { recursive: true });
  let wake: (() => void) | undefined;
  const watcher = (() => {
    try {
      return watch(dir, () => wake?.());
    } catch {
      return undefined;
    }
  })();
  const onAbort = () => wake?.();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      for (const ev of readNewEvents(ctx, cursor)) {
        // `until` may carry a fraction of a millisecond: compare at microseconds.
        if (opts.until !== undefined && Number(BigInt(ev.timeNano) / 1_000n) / 1000 > opts.until) return;
        onEvent(ev);
      }
      const left = opts.until === undefined ? Number.POSITIVE_INFINITY : opts.until - Date.now();
      if (opts.signal?.aborted || left < 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(opts.pollMs ?? 500, left + 1));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
