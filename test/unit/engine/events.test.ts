// The events log (engine/events.ts), its filters (engine/event-filter.ts), the time bounds
// of --since/--until (engine/timestamps.ts, shared with logs) and the CLI's printing
// (cli/docker/event-format.ts).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENTS_MAX_BYTES, eventsPath, parseEventLine, readNewEvents, readPastEvents, recordContainerEvent, recordEvent, type EngineEvent } from '../../../src/engine/events.js';
import { matchesEvent, parseEventFilters } from '../../../src/engine/event-filter.js';
import { defaultNetworkId, recordNetworkEvent } from '../../../src/engine/network-events.js';
import { eventLine, eventPrinter, formatNano } from '../../../src/cli/docker/event-format.js';
import { parseGoDuration, parseTimestampFlag } from '../../../src/engine/timestamps.js';
import type { EngineContext } from '../../../src/engine/context.js';

let ctx: EngineContext;
beforeEach(() => {
  const base = mkdtempSync(join(tmpdir(), 'tsrun-events-'));
  ctx = { root: join(base, 'root'), runroot: join(base, 'run') };
});
afterEach(() => rmSync(join(ctx.root, '..'), { recursive: true, force: true }));

const record = { id: 'c'.repeat(64), name: 'web', image: 'busybox:latest', config: { labels: { team: 'a' } } };

function ev(type: EngineEvent['Type'], action: string, id: string, attrs: Record<string, string>): EngineEvent {
  return { Type: type, Action: action, Actor: { ID: id, Attributes: attrs }, scope: 'local', time: 1, timeNano: '1000000000' };
}

describe('recording', () => {
  it('appends Docker events.Message lines with an exact timeNano', () => {
    recordContainerEvent(ctx, record, 'die', { exitCode: '3' });
    const { events } = readPastEvents(ctx);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({ status: 'die', id: record.id, from: 'busybox:latest', Type: 'container', Action: 'die', scope: 'local' });
    expect(e.Actor.Attributes).toEqual({ team: 'a', image: 'busybox:latest', name: 'web', exitCode: '3' });
    expect(e.timeNano).toMatch(/^\d{19}$/);
    expect(BigInt(e.timeNano) / 1_000_000_000n).toBe(BigInt(e.time));
  });

  it('volume and network events have no legacy status/id/from', () => {
    recordEvent(ctx, 'volume', 'create', 'v1', { driver: 'local' });
    const e = readPastEvents(ctx).events[0]!;
    expect('status' in e || 'id' in e || 'from' in e).toBe(false);
  });

  it("network events carry Docker's attributes and match type, network and event filters", () => {
    const net = { id: 'n'.repeat(64), name: 'front' };
    recordNetworkEvent(ctx, 'create', net);
    recordNetworkEvent(ctx, 'connect', net, record.id);
    recordNetworkEvent(ctx, 'disconnect', { id: defaultNetworkId(), name: 'bridge' }, record.id);
    const lines = readFileSync(eventsPath(ctx), 'utf8').trim().split('\n');
    expect(lines[1]).toMatch(new RegExp(`^\\{"Type":"network","Action":"connect","Actor":\\{"ID":"n{64}","Attributes":\\{"container":"c{64}","name":"front","type":"bridge"\\}\\},"scope":"local","time":\\d+,"timeNano":\\d{19}\\}$`));
    const events = readPastEvents(ctx).events;
    expect(events[0]!.Actor.Attributes).toEqual({ name: 'front', type: 'bridge' });
    const m = (...f: string[]) => events.filter((e) => matchesEvent(e, parseEventFilters(f))).map((e) => e.Action);
    expect(m('type=network')).toEqual(['create', 'connect', 'disconnect']);
    expect(m('network=front')).toEqual(['create', 'connect']);
    expect(m('network=nnnn', 'event=connect')).toEqual(['connect']);
    expect(m(`network=${defaultNetworkId().slice(0, 12)}`)).toEqual(['disconnect']);
    expect(m('network=bridge', 'event=disconnect')).toEqual(['disconnect']);
    // The container is an attribute, not the actor: Docker's container filter does not pick these.
    expect(m('container=web')).toEqual([]);
  });

  it('never throws when the log cannot be written', () => {
    writeFileSync(join(ctx.root + '-file'), 'x');
    expect(() => recordEvent({ root: ctx.root, runroot: join(ctx.root + '-file', 'sub') }, 'image', 'tag', 'x')).not.toThrow();
  });

  it('rotates past the size cap, and a follower reads on across the rotation', () => {
    recordEvent(ctx, 'image', 'tag', 'a');
    const { cursor } = readPastEvents(ctx);
    // One more event, then filler up to the cap (lines that are no JSON, skipped as torn ones): the next write rotates.
    recordEvent(ctx, 'image', 'tag', 'b');
    writeFileSync(eventsPath(ctx), `${'#'.repeat(1023)}\n`.repeat(EVENTS_MAX_BYTES / 1024), { flag: 'a' });
    recordEvent(ctx, 'image', 'tag', 'c');
    expect(statSync(eventsPath(ctx)).size).toBeLessThan(1000);
    expect(readNewEvents(ctx, cursor).map((e) => e.Actor.ID)).toEqual(['b', 'c']);
    expect(readPastEvents(ctx).events.map((e) => e.Actor.ID)).toEqual(['a', 'b', 'c']);
  });

  it('skips a torn line', () => {
    expect(parseEventLine('{"Type":"cont')).toBeUndefined();
  });
});

describe('filters', () => {
  const start = ev('container', 'start', record.id, { name: 'web', image: 'busybox:latest', team: 'a' });
  const exec = ev('container', 'exec_start: sh -c ls', record.id, { name: 'web', image: 'busybox:latest' });
  const tag = ev('image', 'tag', 'sha256:abc', { name: 'app:v1' });
  const m = (e: EngineEvent, ...f: string[]) => matchesEvent(e, parseEventFilters(f));

  it('matches containers by name or ID prefix, and ORs repeated keys', () => {
    expect(m(start, 'container=web')).toBe(true);
    expect(m(start, 'container=ccc')).toBe(true);
    expect(m(start, 'container=db')).toBe(false);
    expect(m(start, 'container=db', 'container=web')).toBe(true);
    expect(m(tag, 'container=web')).toBe(false);
  });

  it('ANDs different keys; event matches an exec action by its name', () => {
    expect(m(start, 'container=web', 'event=start')).toBe(true);
    expect(m(start, 'container=web', 'event=die')).toBe(false);
    expect(m(exec, 'event=exec_start')).toBe(true);
    expect(m(start, 'type=container', 'type=image')).toBe(true);
    expect(m(start, 'type=image')).toBe(false);
  });

  it('image matches a container by its image and an image event by name, with or without tag', () => {
    expect(m(start, 'image=busybox')).toBe(true);
    expect(m(start, 'image=busybox:latest')).toBe(true);
    expect(m(tag, 'image=app')).toBe(true);
    expect(m(tag, 'image=sha256:abc')).toBe(true);
    expect(m(start, 'image=app')).toBe(false);
  });

  it('labels: key or key=value, every one must match', () => {
    expect(m(start, 'label=team')).toBe(true);
    expect(m(start, 'label=team=a')).toBe(true);
    expect(m(start, 'label=team=b')).toBe(false);
    expect(m(start, 'label=team=a', 'label=other')).toBe(false);
  });

  it('refuses unknown keys and a filter without =', () => {
    expect(() => parseEventFilters(['colour=red'])).toThrow(/invalid filter 'colour'/);
    expect(() => parseEventFilters(['container'])).toThrow(/bad format/);
  });
});

describe('time bounds', () => {
  const now = Date.parse('2024-05-01T10:00:00Z');
  it('takes Unix seconds, RFC3339 and Go durations back from now', () => {
    expect(parseTimestampFlag('1714557600', now)).toBe(now);
    expect(parseTimestampFlag('1714557600.5', now)).toBe(now + 500);
    expect(parseTimestampFlag('2024-05-01T09:00:00Z', now)).toBe(now - 3_600_000);
    expect(parseTimestampFlag('10m', now)).toBe(now - 600_000);
    expect(parseTimestampFlag('1h30m', now)).toBe(now - 5_400_000);
    expect(parseTimestampFlag('-5m', now)).toBe(now + 300_000);
    expect(() => parseTimestampFlag('yesterday', now)).toThrow(/invalid time/);
  });
  it('parses Go durations', () => {
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('1500\u00b5s')).toBe(1.5); // micro sign
    expect(parseGoDuration('1500\u03bcs')).toBe(1.5); // Greek mu, which Go takes too
    expect(parseGoDuration('2h45m')).toBe(9_900_000);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('m')).toBeUndefined();
  });
});

/** Runs `fn` with the process in time zone `tz` (Node reads TZ again when it is set). */
function inZone<T>(tz: string, fn: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

describe('--since/--until as the Docker CLI reads them', () => {
  const now = Date.parse('2024-05-01T10:00:00Z');
  it('takes durations, Unix seconds and date-times with a zone', () => {
    expect(parseTimestampFlag('10m', now)).toBe(now - 600_000);
    expect(parseTimestampFlag('-5m', now)).toBe(now + 300_000);
    expect(parseTimestampFlag('1714557600', now)).toBe(now);
    expect(parseTimestampFlag('1714557600.5', now)).toBe(now + 500);
    expect(parseTimestampFlag('0', now)).toBe(0);
    expect(parseTimestampFlag('2024-05-01T09:00:00Z', now)).toBe(now - 3_600_000);
    expect(parseTimestampFlag('2024-05-01T11:00:00+01:00', now)).toBe(now);
    expect(parseTimestampFlag('2024-05-01T05:00:00-05:00', now)).toBe(now);
    expect(parseTimestampFlag('2024-05-01T10:00:00.000250Z', now)).toBe(now + 0.25);
    expect(parseTimestampFlag('2024-05-01T10Z', now)).toBe(now);
    expect(parseTimestampFlag('2024-05-01Z', now)).toBe(Date.parse('2024-05-01T00:00:00Z'));
  });

  it('reads a date-time without a zone as local time, at the offset the zone has now', () => {
    inZone('Europe/Paris', () => {
      // Paris is UTC+2 in May.
      expect(parseTimestampFlag('2024-05-01T12:00:00', now)).toBe(now);
      expect(parseTimestampFlag('2024-05-01T12:00', now)).toBe(now);
      expect(parseTimestampFlag('2024-05-01T12', now)).toBe(now);
      expect(parseTimestampFlag('2024-05-01T12:00:00.5', now)).toBe(now + 500);
      expect(parseTimestampFlag('2024-05-01', now)).toBe(Date.parse('2024-04-30T22:00:00Z'));
      // Go's FixedZone(now.Zone()): a January date still at May's +02:00.
      expect(parseTimestampFlag('2024-01-15T12:00:00', now)).toBe(Date.parse('2024-01-15T10:00:00Z'));
    });
    inZone('UTC', () => expect(parseTimestampFlag('2024-05-01T10:00:00', now)).toBe(now));
  });

  it('refuses what Docker refuses', () => {
    for (const bad of ['yesterday', '2024-13-01', '2024-02-30', '2024-05-01T25:00:00', '2024-05-01T10:61', '2024-05-01 10:00', '-1', '1e9']) {
      expect(() => inZone('UTC', () => parseTimestampFlag(bad, now)), bad).toThrow(/invalid time/);
    }
    // A zone needs seconds' layout to agree: a fraction without seconds is no date.
    expect(() => parseTimestampFlag('2024-05-01T10:00.5Z', now)).toThrow(/invalid time/);
  });
});

describe('printing', () => {
  const e: EngineEvent = { ...ev('container', 'start', 'abc', { name: 'web', image: 'busybox' }), status: 'start', id: 'abc', from: 'busybox', time: 1714557600, timeNano: '1714557600123456789' };
  // The default line is in local time: these expectations are for UTC.
  beforeEach(() => {
    savedTz = process.env.TZ;
    process.env.TZ = 'UTC';
  });
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });
  let savedTz: string | undefined;

  it('prints times in the local zone with its offset, as the Docker CLI does', () => {
    expect(inZone('Europe/Paris', () => formatNano('1714557600000000001'))).toBe('2024-05-01T12:00:00.000000001+02:00');
    expect(inZone('Europe/Paris', () => formatNano('1705312800123456789'))).toBe('2024-01-15T11:00:00.123456789+01:00');
    expect(inZone('America/New_York', () => eventLine(e))).toBe('2024-05-01T06:00:00.123456789-04:00 container start abc (image=busybox, name=web)');
    expect(inZone('Asia/Kolkata', () => formatNano('1714557600000000000'))).toBe('2024-05-01T15:30:00.000000000+05:30');
    // A zone at offset zero prints Z, as Go's Z07:00 does.
    expect(inZone('Europe/London', () => formatNano('1705312800000000000'))).toBe('2024-01-15T10:00:00.000000000Z');
    // json and {{json .}} keep epoch numbers, whatever the zone.
    expect(inZone('Europe/Paris', () => eventPrinter('json')(e))).toContain('"time":1714557600,');
    expect(inZone('Europe/Paris', () => JSON.parse(eventPrinter('{{json .}}')(e)))).toMatchObject({ time: 1714557600, timeNano: 1714557600123456789 });
  });

  it("prints Docker's default line", () => {
    expect(formatNano('1714557600000000001')).toBe('2024-05-01T10:00:00.000000001Z');
    expect(eventLine(e)).toBe('2024-05-01T10:00:00.123456789Z container start abc (image=busybox, name=web)');
    expect(eventLine({ ...e, Actor: { ID: 'abc', Attributes: {} } })).toBe('2024-05-01T10:00:00.123456789Z container start abc');
  });
  it('json keeps timeNano exact; templates see Go field names', () => {
    expect(eventPrinter('json')(e)).toContain('"timeNano":1714557600123456789}');
    expect(eventPrinter('{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.From}}')(e)).toBe('container start web busybox');
    expect(JSON.parse(eventPrinter('{{json .}}')(e))).toMatchObject({ status: 'start', Type: 'container', Actor: { ID: 'abc' } });
  });
});
