// The events log (engine/events.ts), its filters (engine/event-filter.ts), the time bounds
// of --since/--until (engine/logs.ts) and the CLI's printing (cli/docker/event-format.ts).
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENTS_MAX_BYTES, eventsPath, parseEventLine, readNewEvents, readPastEvents, recordContainerEvent, recordEvent, type EngineEvent } from '../../../src/engine/events.js';
import { matchesEvent, parseEventFilters } from '../../../src/engine/event-filter.js';
import { parseGoDuration, parseTimeBound } from '../../../src/engine/logs.js';
import { eventLine, eventPrinter, formatNano } from '../../../src/cli/docker/event-format.js';
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
    expect(parseTimeBound('1714557600', now)).toBe(now);
    expect(parseTimeBound('1714557600.5', now)).toBe(now + 500);
    expect(parseTimeBound('2024-05-01T09:00:00Z', now)).toBe(now - 3_600_000);
    expect(parseTimeBound('10m', now)).toBe(now - 600_000);
    expect(parseTimeBound('1h30m', now)).toBe(now - 5_400_000);
    expect(parseTimeBound('-5m', now)).toBe(now + 300_000);
    expect(() => parseTimeBound('yesterday', now)).toThrow(/invalid time/);
  });
  it('parses Go durations', () => {
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('2h45m')).toBe(9_900_000);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('m')).toBeUndefined();
  });
});

describe('printing', () => {
  const e: EngineEvent = { ...ev('container', 'start', 'abc', { name: 'web', image: 'busybox' }), status: 'start', id: 'abc', from: 'busybox', time: 1714557600, timeNano: '1714557600123456789' };
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
