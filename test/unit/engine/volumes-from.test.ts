import { describe, expect, it } from 'vitest';
import { volumesFromRequests } from '../../../src/engine/volumes-from.js';
import type { ContainerMount, ContainerRecord } from '../../../src/engine/container-store.js';
import { NotFoundError, UsageError } from '../../../src/errors.js';
import { parseVolume, parseVolumesFrom } from '../../../src/spec/mounts.js';

describe('parseVolumesFrom', () => {
  it('reads CONTAINER[:ro|:rw] as Docker does', () => {
    expect(parseVolumesFrom('data')).toEqual({ container: 'data', mode: '' });
    expect(parseVolumesFrom('data:ro')).toEqual({ container: 'data', mode: 'ro' });
    expect(parseVolumesFrom('0123abcd:rw,z')).toEqual({ container: '0123abcd', mode: 'rw' });
  });

  it('refuses empty specs, unknown modes and propagation modes', () => {
    expect(() => parseVolumesFrom('')).toThrow(UsageError);
    expect(() => parseVolumesFrom(':ro')).toThrow(UsageError);
    expect(() => parseVolumesFrom('data:xx')).toThrow('invalid mode: xx');
    expect(() => parseVolumesFrom('data:ro,rw')).toThrow(UsageError);
    expect(() => parseVolumesFrom('data:rshared')).toThrow(/propagation modes are not allowed in volumes-from/);
  });
});

describe('volumesFromRequests', () => {
  const mounts: ContainerMount[] = [
    { type: 'volume', name: 'named', source: '/v/named/_data', destination: '/named', mode: '', rw: true },
    { type: 'volume', name: 'a'.repeat(64), source: '/v/anon/_data', destination: '/anon', mode: '', rw: true, anonymous: true },
    { type: 'bind', source: '/host', destination: '/bound', mode: 'ro', rw: false, propagation: 'rprivate' },
  ];
  const records: Record<string, Partial<ContainerRecord>> = {
    src: { name: 'src', mounts },
    other: { name: 'other', mounts: [{ type: 'bind', source: '/elsewhere', destination: '/named', mode: '', rw: true }] },
  };
  const lookup = (ref: string) => {
    const r = records[ref];
    if (!r) throw new NotFoundError('container', ref);
    return r as ContainerRecord;
  };

  it('shares volumes and binds at the same paths with their own read-only flags', () => {
    const out = volumesFromRequests([{ container: 'src', mode: '' }], lookup, []);
    expect(out).toEqual([
      { type: 'volume', volumeName: 'named', target: '/named', readonly: false, noCopy: true, mode: '', sharedFrom: { container: 'src', anonymous: false } },
      { type: 'volume', volumeName: 'a'.repeat(64), target: '/anon', readonly: false, noCopy: true, mode: '', sharedFrom: { container: 'src', anonymous: true } },
      { type: 'bind', source: '/host', target: '/bound', readonly: true, recursive: true, propagation: 'rprivate' },
    ]);
  });

  it(':ro makes every mount read-only; :rw does not make a read-only one writable (Docker)', () => {
    expect(volumesFromRequests([{ container: 'src', mode: 'ro' }], lookup, []).map((m) => m.readonly)).toEqual([true, true, true]);
    expect(volumesFromRequests([{ container: 'src', mode: 'rw' }], lookup, []).map((m) => m.readonly)).toEqual([false, false, true]);
  });

  it('a later source wins a destination, and -v/--mount at the same path win over both', () => {
    const later = volumesFromRequests([{ container: 'src', mode: '' }, { container: 'other', mode: '' }], lookup, []);
    expect(later.find((m) => m.target === '/named')).toMatchObject({ type: 'bind', source: '/elsewhere' });
    const own = [parseVolume('mine:/anon')];
    expect(volumesFromRequests([{ container: 'src', mode: '' }], lookup, own).map((m) => m.target)).toEqual(['/named', '/bound']);
  });

  it('fails naming a container that does not exist', () => {
    expect(() => volumesFromRequests([{ container: 'nope', mode: '' }], lookup, [])).toThrow('no such container: nope');
  });
});
