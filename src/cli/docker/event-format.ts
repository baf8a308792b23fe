// How `tsrun events` prints an event: Docker CLI's default line, `json`, or a Go template
// over Docker's events.Message (.Type, .Action, .Actor.ID, .Actor.Attributes.name...).
import { eventJson, type EngineEvent } from '../../engine/events.js';
import { executeTemplate, parseTemplate } from './go-template.js';

/** Docker's RFC3339NanoFixed, in UTC: 2024-05-01T10:00:00.000000000Z. */
export function formatNano(timeNano: string): string {
  const nano = BigInt(timeNano);
  const iso = new Date(Number(nano / 1_000_000n)).toISOString(); // ...T10:00:00.123Z
  return `${iso.slice(0, 19)}.${(nano % 1_000_000_000n).toString().padStart(9, '0')}Z`;
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
