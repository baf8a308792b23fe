// How `tsrun events` prints an event: Docker CLI's default line, `json`, or a Go template
// over Docker's events.Message (.Type, .Action, .Actor.ID, .Actor.Attributes.name...).
import { eventJson, type EngineEvent } from '../../engine/events.js';
import { executeTemplate, parseTemplate } from './go-template.js';

/** Go's Z07:00: "Z" for a zero offset, else +hh:mm / -hh:mm. */
function zoneSuffix(offsetMinutes: number): string {
  if (offsetMinutes === 0) return 'Z';
  const abs = Math.abs(offsetMinutes);
  const pad = (n: number) => String(Math.floor(n)).padStart(2, '0');
  return `${offsetMinutes < 0 ? '-' : '+'}${pad(abs / 60)}:${pad(abs % 60)}`;
}

/**
 * Docker's RFC3339NanoFixed in the local time zone (TZ), as the Docker CLI prints events:
 * 2024-05-01T12:00:00.000000000+02:00, or ...Z where the zone's offset is zero.
 */
export function formatNano(timeNano: string): string {
  const nano = BigInt(timeNano);
  const ms = Number(nano / 1_000_000n);
  // getTimezoneOffset is minutes west of UTC; Go's offsets count east.
  const offset = -new Date(ms).getTimezoneOffset();
  // The wall clock of that zone, read off a UTC date shifted by its offset.
  const wall = new Date(ms + offset * 60_000).toISOString(); // ...T12:00:00.123Z
  return `${wall.slice(0, 19)}.${(nano % 1_000_000_000n).toString().padStart(9, '0')}${zoneSuffix(offset)}`;
}

/** Docker CLI's prettyPrintEvent: time, type, action, actor ID, then the attributes sorted by key. */
export function eventLine(ev: EngineEvent): string {
  const attrs = Object.entries(ev.Actor.Attributes ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  return `${formatNano(ev.timeNano)} ${ev.Type} ${ev.Action} ${ev.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}

/** The Go field names a template sees; {{json .}} gives Docker's JSON tags. */
function templateValue(ev: EngineEvent): Record<string, unknown> {
  const value = {
    Status: ev.status ?? '',
    ID: ev.id ?? '',
    From: ev.from ?? '',
    Type: ev.Type,
    Action: ev.Action,
    Actor: ev.Actor,
    Scope: ev.scope,
    Time: ev.time,
    TimeNano: Number(ev.timeNano),
  };
  return Object.defineProperty(value, 'toJSON', { value: () => ({ ...ev, timeNano: Number(ev.timeNano) }), enumerable: false });
}

/** A printer for --format (parsed once, so a bad template fails before anything is followed). */
export function eventPrinter(format: string | undefined): (ev: EngineEvent) => string {
  if (!format) return eventLine;
  if (format === 'json') return eventJson;
  const parsed = parseTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
  const mode = { kind: 'map' as const, maps: new Set(['Actor.Attributes']) };
  return (ev) => executeTemplate(parsed, templateValue(ev), mode);
}
