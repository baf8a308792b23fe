import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PodDirs } from '../../../../src/engine/rkt/pod-dirs.js';
import { gcAction, parseDuration, podState, type GcOptions } from '../../../../src/engine/rkt/pod-state.js';
import { cpuToCpus, memoryToBytes, portNameOf } from '../../../../src/engine/rkt/pod-spec.js';
import { isPodUuid, matchUuidPrefix, newPodUuid } from '../../../../src/engine/rkt/uuid.js';
import { ConflictError, NotFoundError, UsageError } from '../../../../src/errors.js';

describe('pod UUIDs', () => {
  it('are RFC 4122 version 4 UUIDs', () => {
    const u = newPodUuid();
    expect(isPodUuid(u)).toBe(true);
    expect(u[14]).toBe('4');
    expect('89ab').toContain(u[19]);
  });

  const uuids = ['3f2a1b9c-4d5e-4f60-8a1b-2c3d4e5f6a7b', '3f2a1b9d-0000-4000-8000-000000000000', 'aa000000-1111-4222-8333-444444444444'];
  it('match by unique prefix, dashed or not, case-insensitively', () => {
    expect(matchUuidPrefix(uuids, 'aa')).toBe(uuids[2]);
    expect(matchUuidPrefix(uuids, '3f2a1b9c')).toBe(uuids[0]);
    expect(matchUuidPrefix(uuids, '3F2A1B9C-4D')).toBe(uuids[0]);
    expect(matchUuidPrefix(uuids, '3f2a1b9d0000')).toBe(uuids[1]);
    expect(matchUuidPrefix(uuids, uuids[1]!)).toBe(uuids[1]);
  });
  it('refuse ambiguous, unknown and malformed prefixes', () => {
    expect(() => matchUuidPrefix(uuids, '3f2a1b9')).toThrow(ConflictError);
    expect(() => matchUuidPrefix(uuids, '3f2a1b9')).toThrow(/ambiguous/);
    expect(() => matchUuidPrefix(uuids, 'bb')).toThrow(NotFoundError);
    expect(() => matchUuidPrefix(uuids, 'xyz')).toThrow(UsageError);
    expect(() => matchUuidPrefix(uuids, '')).toThrow(UsageError);
  });
});

describe('pod state from phase, lock and apps', () => {
  const f = { locked: false, appRunning: false, sandboxUp: false };
  it('follows rkt', () => {
    expect(podState({ ...f, phase: 'embryo' })).toBe('embryo');
    expect(podState({ ...f, phase: 'prepare', locked: true })).toBe('preparing');
    expect(podState({ ...f, phase: 'prepare' })).toBe('aborted prepare');
    expect(podState({ ...f, phase: 'prepared' })).toBe('prepared');
    expect(podState({ ...f, phase: 'run', locked: true })).toBe('running');
    expect(podState({ ...f, phase: 'run', appRunning: true })).toBe('running');
    expect(podState({ ...f, phase: 'run', sandboxUp: true })).toBe('running');
    expect(podState({ ...f, phase: 'run' })).toBe('exited');
    expect(podState({ ...f, phase: 'exited-garbage' })).toBe('exited garbage');
    expect(podState({ ...f, phase: 'exited-garbage', locked: true })).toBe('exited deleting');
    expect(podState({ ...f, phase: 'garbage' })).toBe('garbage');
    expect(podState({ ...f, phase: 'garbage', locked: true })).toBe('deleting');
  });
});

describe('gc with a fake clock', () => {
  const opts: GcOptions = { gracePeriodMs: 30 * 60_000, expirePreparedMs: 24 * 3_600_000, markOnly: false };
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  it('marks exited pods, sweeps them only after the grace period', () => {
    expect(gcAction({ state: 'exited', enteredAt: t0, locked: false }, t0, opts)).toBe('mark');
    expect(gcAction({ state: 'exited garbage', enteredAt: t0, locked: false }, t0 + 29 * 60_000, opts)).toBe('keep');
    expect(gcAction({ state: 'exited garbage', enteredAt: t0, locked: false }, t0 + 30 * 60_000, opts)).toBe('sweep');
    expect(gcAction({ state: 'exited garbage', enteredAt: t0, locked: false }, t0, { ...opts, gracePeriodMs: 0 })).toBe('sweep');
  });
  it('--mark-only never deletes', () => {
    const mo = { ...opts, markOnly: true, gracePeriodMs: 0 };
    expect(gcAction({ state: 'exited', enteredAt: t0, locked: false }, t0, mo)).toBe('mark');
    for (const state of ['exited garbage', 'prepared', 'aborted prepare', 'garbage', 'embryo'] as const) {
      expect(gcAction({ state, enteredAt: 0, locked: false }, t0, mo)).toBe('keep');
    }
  });
  it('expires prepared pods after --expire-prepared', () => {
    expect(gcAction({ state: 'prepared', enteredAt: t0, locked: false }, t0 + 23 * 3_600_000, opts)).toBe('keep');
    expect(gcAction({ state: 'prepared', enteredAt: t0, locked: false }, t0 + 24 * 3_600_000, opts)).toBe('expire');
  });
  it('removes crash debris at once but never what a live process holds', () => {
    expect(gcAction({ state: 'aborted prepare', enteredAt: t0, locked: false }, t0, opts)).toBe('sweep');
    expect(gcAction({ state: 'garbage', enteredAt: t0, locked: false }, t0, opts)).toBe('sweep');
    expect(gcAction({ state: 'embryo', enteredAt: t0, locked: false }, t0, opts)).toBe('sweep');
    expect(gcAction({ state: 'embryo', enteredAt: t0, locked: true }, t0, opts)).toBe('keep');
    for (const state of ['running', 'preparing', 'deleting', 'exited deleting'] as const) {
      expect(gcAction({ state, enteredAt: 0, locked: true }, t0 + 1e12, opts)).toBe('keep');
    }
  });
  it('parses Go durations', () => {
    expect(parseDuration('30m', '--grace-period')).toBe(1_800_000);
    expect(parseDuration('1h30m', '--grace-period')).toBe(5_400_000);
    expect(parseDuration('0s', '--grace-period')).toBe(0);
    expect(parseDuration('0', '--grace-period')).toBe(0);
    expect(parseDuration('1.5s', '--grace-period')).toBe(1500);
    expect(parseDuration('250ms', '--grace-period')).toBe(250);
    expect(() => parseDuration('soon', '--grace-period')).toThrow(/--grace-period "soon"/);
    expect(() => parseDuration('10', '--grace-period')).toThrow(UsageError);
    expect(() => parseDuration('', '--grace-period')).toThrow(UsageError);
  });
});

describe('phase directories', () => {
  let base: string;
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('moves a pod between phases by rename, stamping the move time; the loser of a race gets undefined', () => {
    base = mkdtempSync(join(tmpdir(), 'rkt-dirs-'));
    const dirs = new PodDirs(base);
    const { loc, lock } = dirs.createEmbryo();
    writeFileSync(join(loc.dir, 'pod'), '{}');
    expect(dirs.find(loc.uuid)?.phase).toBe('embryo');
    const prep = dirs.move(loc, 'prepare')!;
    expect(dirs.find(loc.uuid)).toEqual(prep);
    // The lock taken in embryo/ follows the directory.
    expect(dirs.isLocked(prep)).toBe(true);
    expect(dirs.move(loc, 'prepare')).toBeUndefined(); // already moved: ENOENT ignored
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(prep.dir, old, old);
    const run = dirs.move(prep, 'run')!;
    expect(Math.abs(dirs.enteredAt(run) - Date.now())).toBeLessThan(5_000);
    lock.release();
    expect(dirs.isLocked(run)).toBe(false);
    expect(dirs.list()).toEqual([run]);
    expect(dirs.resolve(loc.uuid.slice(0, 6))).toEqual(run);
    dirs.removeDir(run);
    expect(dirs.list()).toEqual([]);
    expect(() => dirs.resolve(loc.uuid)).toThrow(NotFoundError);
  });
});

describe('rkt flag values', () => {
  it('converts quantities and port names', () => {
    expect(memoryToBytes('64M')).toBe('64000000');
    expect(memoryToBytes('1Gi')).toBe(String(1024 ** 3));
    expect(() => memoryToBytes('lots')).toThrow(/lots/);
    expect(cpuToCpus('500m')).toBe('0.5');
    expect(cpuToCpus('2')).toBe('2');
    expect(() => cpuToCpus('x')).toThrow(/--cpu "x"/);
    expect(portNameOf('80/tcp')).toBe('80-tcp');
    expect(portNameOf('53/udp')).toBe('53-udp');
  });
});
