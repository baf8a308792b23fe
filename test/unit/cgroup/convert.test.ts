import { describe, expect, it } from 'vitest';
import {
  blkioWeightToIoWeight,
  cpuMax,
  deviceRuleLine,
  parseBlkioServiceBytes,
  parseFlatKeyed,
  parseIoStat,
  parseLimit,
  parsePids,
  sharesToWeight,
  swapMaxV2,
  v2Limit,
} from '../../../src/cgroup/convert.js';
import { normalizeCgroupPath } from '../../../src/cgroup/index.js';
import { planV1, planV2 } from '../../../src/cgroup/plan.js';
import { CgroupError } from '../../../src/errors.js';

describe('value conversions', () => {
  it('cpu shares -> cpu.weight like runc/crun', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(512)).toBe(20);
    expect(sharesToWeight(262144)).toBe(10000);
    // Out-of-range shares are clamped to the v1 range first.
    expect(sharesToWeight(1)).toBe(1);
    expect(sharesToWeight(1_000_000)).toBe(10000);
  });

  it('blkio weight -> io.weight', () => {
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(500)).toBe(4950);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
  });

  it("Docker's memory+swap -> memory.swap.max (swap alone)", () => {
    expect(swapMaxV2(64 << 20, 128 << 20)).toBe(String(64 << 20));
    expect(swapMaxV2(64 << 20, 64 << 20)).toBe('0');
    expect(swapMaxV2(64 << 20, -1)).toBe('max');
    expect(swapMaxV2(64 << 20, undefined)).toBeUndefined();
    expect(swapMaxV2(64 << 20, 0)).toBeUndefined();
    expect(() => swapMaxV2(64 << 20, 32 << 20)).toThrow(/at least the memory limit/);
    expect(() => swapMaxV2(undefined, 32 << 20)).toThrow(/without a memory limit/);
    expect(() => swapMaxV2(-1, 32 << 20)).toThrow(CgroupError);
  });

  it('limits and cpu.max', () => {
    expect(v2Limit(-1)).toBe('max');
    expect(v2Limit(1024)).toBe('1024');
    expect(cpuMax(50000, 100000)).toBe('50000 100000');
    expect(cpuMax(50000, undefined)).toBe('50000 100000');
    expect(cpuMax(undefined, 20000)).toBe('max 20000');
    expect(cpuMax(-1, 100000)).toBe('max 100000');
    expect(cpuMax(undefined, undefined)).toBeUndefined();
    expect(cpuMax(0, 0)).toBeUndefined();
  });

  it('parses limit files', () => {
    expect(parseLimit('max\n')).toBeUndefined();
    expect(parseLimit('-1')).toBeUndefined();
    expect(parseLimit('9223372036854771712\n')).toBeUndefined();
    expect(parseLimit('33554432\n')).toBe(33554432);
  });

  it('parses stat files', () => {
    expect(parseFlatKeyed('oom 2\noom_kill 1\n\n')).toEqual({ oom: 2, oom_kill: 1 });
    expect(parseIoStat('8:0 rbytes=100 wbytes=20 rios=1 wios=2 dbytes=0\n8:16 rbytes=1 wbytes=2\n')).toEqual({ readBytes: 101, writeBytes: 22 });
    expect(parseBlkioServiceBytes('8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Total 4608\nTotal 4608\n')).toEqual({
      readBytes: 4096,
      writeBytes: 512,
    });
    expect(parsePids('12\n13\n\n')).toEqual([12, 13]);
  });

  it('formats v1 device rules', () => {
    expect(deviceRuleLine({ access: 'rwm' })).toBe('a');
    expect(deviceRuleLine({ type: 'c', major: 1, minor: 3, access: 'rwm' })).toBe('c 1:3 rwm');
    expect(deviceRuleLine({ type: 'c', major: 136, minor: null, access: 'rwm' })).toBe('c 136:* rwm');
    expect(deviceRuleLine({ type: 'b', major: -1, minor: -1, access: 'm' })).toBe('b *:* m');
    expect(() => deviceRuleLine({ type: 'x' })).toThrow(/rule type "x"/);
    expect(() => deviceRuleLine({ type: 'c', major: 1, minor: 1, access: 'rwx' })).toThrow(/access "rwx"/);
  });
});

describe('cgroup paths', () => {
  it('normalises and refuses unsafe paths', () => {
    expect(normalizeCgroupPath('/tsrun/abc/')).toBe('/tsrun/abc');
    expect(normalizeCgroupPath('tsrun//abc')).toBe('/tsrun/abc');
    expect(() => normalizeCgroupPath('/tsrun/../etc')).toThrow(/\.\./);
    expect(() => normalizeCgroupPath('/')).toThrow(/root cgroup/);
    expect(() => normalizeCgroupPath('system.slice:tsrun:abc')).toThrow(/systemd/);
  });
});

describe('plans', () => {
  it('v1 refuses memory+swap below memory', () => {
    expect(() => planV1({ memory: { limit: 64, swap: 32 } })).toThrow(/at least the memory limit/);
  });

  it('unset (0) values produce no writes', () => {
    expect(planV2({ memory: { limit: 0, swap: 0, reservation: 0 }, cpu: { shares: 0, quota: 0, period: 0 }, pids: { limit: 0 } })).toEqual([]);
    expect(planV1({ memory: { limit: 0, swap: 0, reservation: 0 }, cpu: { shares: 0, quota: 0, period: 0 }, pids: { limit: 0 } })).toEqual([]);
  });

  it('rejects unified keys that are not cgroup file names', () => {
    expect(() => planV2({ unified: { '../../etc/passwd': 'x' } })).toThrow(/invalid unified cgroup key/);
    expect(() => planV2({ unified: { memory: '1' } })).toThrow(/invalid unified cgroup key/);
  });
});
