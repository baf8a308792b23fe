// --since/--until of `tsrun events` and `tsrun logs`, read as the Docker CLI's GetTimestamp reads them: a Go
// duration back from now ("10m", "-5m"), Unix seconds ("1714557600.5"), or a date-time
// (2006-01-02, 2006-01-02T15, ...T15:04, ...T15:04:05, ...T15:04:05.999999999), with a zone
// (Z, +01:00, -05:00) or without one, which means the local time zone (TZ).
import { UsageError } from '../errors.js';

// Micro is µ (U+00B5) or μ (U+03BC), as Go takes them; written as escapes to keep the bundle ASCII.
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("10m", "1h30m", "1.5s", "-5m"), in milliseconds; undefined if it is not one. */
export function parseGoDuration(value: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/.exec(value);
  if (!m) return undefined;
  let total = 0;
  for (const part of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?(Z|[+-]\d{2}:\d{2})?$/;

function invalid(value: string): never {
  throw new UsageError(`invalid time "${value}": use RFC3339, Unix seconds or a duration such as 10m`);
}

/** Milliseconds since the epoch (with a fraction) for a date-time matched by DATE_TIME, or undefined if out of range. */
function dateTimeMs(m: RegExpExecArray, offsetMinutes: number): number | undefined {
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((p) => (p === undefined ? undefined : Number(p)));
  const utc = Date.UTC(year!, month! - 1, day!, hour, minute, second);
  // Date.UTC rolls over (Feb 30 -> Mar 2); Go refuses such a date.
  const back = new Date(utc);
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month! - 1 || back.getUTCDate() !== day || back.getUTCHours() !== hour || minute > 59 || second > 59) {
    return undefined;
  }
  const fraction = m[7] ? Number(m[7]) * 1000 : 0;
  return utc + fraction - offsetMinutes * 60_000;
}

/**
 * A --since/--until value in milliseconds since the epoch (a fraction keeps sub-millisecond
 * digits). As Docker's: a value without Z or + and not with three dashes (a -05:00 offset)
 * is local time, at the offset the zone has now (Go's FixedZone(now.Zone())).
 */
export function parseTimestampFlag(value: string, now = Date.now()): number {
  const duration = value !== '0' ? parseGoDuration(value) : undefined;
  if (duration !== undefined) return now - duration;
  const local = !/[zZ+]/.test(value) && value.split('-').length - 1 !== 3;
  const m = DATE_TIME.exec(value);
  // Go's layouts: a zone exactly when the value is not local, and a fraction only after seconds.
  if (m && (m[8] === undefined) === local) {
    const offset = local ? -new Date(now).getTimezoneOffset() : m[8] === 'Z' ? 0 : zoneMinutes(m[8]!);
    const ms = dateTimeMs(m, offset);
    if (ms !== undefined) return ms;
    invalid(value);
  }
  // Not a date: Unix seconds, with an optional fraction, as Docker passes them through.
  if (!value.includes('-') && /^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  return invalid(value);
}

function zoneMinutes(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
}
