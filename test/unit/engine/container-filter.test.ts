import { describe, expect, it } from 'vitest';
import { imageFamily, parseContainerFilters, parsePruneFilters, prunable, selectContainers, stateString, type FilterSubject } from '../../../src/engine/container-filter.js';
import { NotFoundError } from '../../../src/errors.js';

function subject(over: Partial<FilterSubject> & { id: string; name: string }): FilterSubject {
  return {
    labels: {},
    state: 'running',
    started: true,
    imageId: 'sha256:base',
    mounts: [],
    networks: [],
    published: [],
    exposed: [],
    health: 'none',
    ...over,
  };
}

// Newest first, as ps lists them.
const SUBJECTS = [
  subject({ id: 'ffff01', name: 'web', labels: { tier: 'front', env: 'prod' }, published: ['80/tcp'], exposed: ['80/tcp', '443/tcp'], networks: [{ name: 'bridge', id: 'abc123' }] }),
  subject({ id: 'eeee02', name: 'worker', state: 'exited', exitCode: 3, labels: { tier: 'back' }, imageId: 'sha256:child' }),
  subject({ id: 'dddd03', name: 'fresh', state: 'created', started: false, exitCode: 0, mounts: [{ name: 'data', source: '/v/data', destination: '/data' }] }),
  subject({ id: 'cccc04', name: 'old-web', state: 'exited', exitCode: 0, networks: [{ name: 'mynet', id: 'def456' }] }),
  subject({ id: 'bbbb05', name: 'paused1', state: 'paused' }),
];

const byRef: Record<string, string> = { web: 'ffff01', worker: 'eeee02', fresh: 'dddd03', 'old-web': 'cccc04', paused1: 'bbbb05' };
const resolvers = {
  containerId: (ref: string) => {
    const id = byRef[ref] ?? Object.values(byRef).find((i) => i.startsWith(ref));
    if (!id) throw new NotFoundError('container', ref);
    return id;
  },
  imageFamily: (ref: string) => (ref === 'base' ? ['sha256:base', 'sha256:child'] : ref === 'child' ? ['sha256:child'] : []),
};

function names(flags: string[], all = true): string[] {
  return selectContainers(SUBJECTS, parseContainerFilters(flags), resolvers, all).map((s) => s.name);
}

describe('ps --filter (Docker daemon/list.go rules)', () => {
  it('refuses unknown keys and bad values with Docker\'s words', () => {
    expect(() => parseContainerFilters(['colour=red'])).toThrow("invalid filter 'colour'");
    expect(() => parseContainerFilters(['status=sometimes'])).toThrow("invalid filter 'status=sometimes'");
    expect(() => parseContainerFilters(['exited=zero'])).toThrow("invalid filter 'exited=zero'");
    expect(() => parseContainerFilters(['health=great'])).toThrow('Unrecognised filter value for health: great');
    expect(() => parseContainerFilters(['publish=8080:80'])).toThrow("filter for 'publish' should not contain ':'");
    expect(() => parseContainerFilters(['name'])).toThrow('bad format of filter (expected name=value): name');
    // The CLI lower-cases keys, as Docker's ParseFlag.
    expect(parseContainerFilters(['NAME=web'])).toEqual({ name: ['web'] });
  });

  it('name and id match as regular expressions, a key\'s values OR, different keys AND', () => {
    expect(names(['name=web'])).toEqual(['web', 'old-web']);
    expect(names(['name=^web$'])).toEqual(['web']);
    expect(names(['name=^/web'])).toEqual(['web']);
    expect(names(['name=worker', 'name=fresh'])).toEqual(['worker', 'fresh']);
    expect(names(['name=web', 'status=exited'])).toEqual(['old-web']);
    expect(names(['id=^eeee'])).toEqual(['worker']);
    expect(names(['name=nothing'])).toEqual([]);
  });

  it('label: a key or key=value, and every label filter must hold', () => {
    expect(names(['label=tier'])).toEqual(['web', 'worker']);
    expect(names(['label=tier=back'])).toEqual(['worker']);
    expect(names(['label=tier', 'label=env=prod'])).toEqual(['web']);
    expect(names(['label=tier=front', 'label=tier=back'])).toEqual([]);
  });

  it('status and exited; a status filter lists stopped containers without -a, exited needs -a', () => {
    expect(names(['status=exited'], false)).toEqual(['worker', 'old-web']);
    expect(names(['status=created'], false)).toEqual(['fresh']);
    expect(names(['status=paused'], false)).toEqual(['paused1']);
    expect(names(['status=running', 'status=paused'], false)).toEqual(['web', 'paused1']);
    expect(names(['exited=3'])).toEqual(['worker']);
    // A created container never ran: exit code 0 does not make it "exited=0".
    expect(names(['exited=0'])).toEqual(['old-web']);
    expect(names(['exited=0'], false)).toEqual([]);
    expect(names([], false)).toEqual(['web', 'paused1']);
  });

  it('before and since by name or ID, excluding the container named', () => {
    expect(names(['before=fresh'])).toEqual(['old-web', 'paused1']);
    expect(names(['since=fresh'])).toEqual(['web', 'worker']);
    expect(names(['since=cccc'])).toEqual(['web', 'worker', 'fresh']);
    expect(names(['since=old-web', 'before=web'])).toEqual(['worker', 'fresh']);
    expect(() => names(['before=ghost'])).toThrow('no such container: ghost');
  });

  it('ancestor, volume, network, publish, expose, health', () => {
    expect(names(['ancestor=base'])).toEqual(['web', 'worker', 'fresh', 'old-web', 'paused1']);
    expect(names(['ancestor=child'])).toEqual(['worker']);
    expect(names(['ancestor=unknown'])).toEqual([]);
    expect(names(['volume=data'])).toEqual(['fresh']);
    expect(names(['volume=/data'])).toEqual(['fresh']);
    expect(names(['network=mynet'])).toEqual(['old-web']);
    expect(names(['network=abc'])).toEqual(['web']);
    expect(names(['network=bridge', 'network=mynet'])).toEqual(['web', 'old-web']);
    expect(names(['publish=80'])).toEqual(['web']);
    expect(names(['publish=80/udp'])).toEqual([]);
    expect(names(['publish=443'])).toEqual([]);
    expect(names(['expose=440-450/tcp'])).toEqual(['web']);
    expect(names(['health=none'], false)).toEqual(['web', 'paused1']);
    expect(names(['health=healthy'])).toEqual([]);
  });

  it('maps tsrun states to Docker\'s state strings', () => {
    expect(stateString({ status: 'running', paused: true })).toBe('paused');
    expect(stateString({ status: 'running' })).toBe('running');
    expect(stateString({ status: 'created' })).toBe('created');
    expect(stateString({ status: 'exited', restarting: true })).toBe('restarting');
  });
});

describe('container prune --filter', () => {
  const now = Date.parse('2026-01-02T12:00:00Z');
  const old = { created: '2026-01-02T10:00:00Z', labels: { keep: 'yes', team: 'a' } };
  const recent = { created: '2026-01-02T11:59:00Z', labels: { team: 'b' } };

  it('until (a duration or a time), label and label!', () => {
    const until = parsePruneFilters(['until=1h'], now);
    expect(until.until).toBe(Date.parse('2026-01-02T11:00:00Z'));
    expect([old, recent].map((c) => prunable(c, until))).toEqual([true, false]);
    expect(prunable(recent, parsePruneFilters(['until=2026-01-02T12:00:00Z'], now))).toBe(true);
    expect([old, recent].map((c) => prunable(c, parsePruneFilters(['label=team=b'], now)))).toEqual([false, true]);
    expect([old, recent].map((c) => prunable(c, parsePruneFilters(['label!=keep'], now)))).toEqual([false, true]);
    expect([old, recent].map((c) => prunable(c, parsePruneFilters([], now)))).toEqual([true, true]);
  });

  it('refuses what Docker refuses', () => {
    expect(() => parsePruneFilters(['name=x'])).toThrow("invalid filter 'name'");
    expect(() => parsePruneFilters(['until=1h', 'until=2h'])).toThrow('more than one until filter specified');
    expect(() => parsePruneFilters(['until=soon'])).toThrow('invalid time "soon"');
  });
});

describe('imageFamily', () => {
  it('takes the images whose layers start with all of the root\'s', () => {
    const base = { id: 'b', chainIds: ['c1', 'c2'] };
    const images = [base, { id: 'kid', chainIds: ['c1', 'c2', 'c3'] }, { id: 'other', chainIds: ['c1', 'x'] }, { id: 'short', chainIds: ['c1'] }];
    expect(imageFamily(base, images)).toEqual(['b', 'kid']);
    expect(imageFamily({ id: 'empty', chainIds: [] }, images)).toEqual(['empty']);
  });
});
