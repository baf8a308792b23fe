// Pure parts of engine/container-resources: Docker's stats arithmetic, /proc parsing,
// update's flag handling and merge, and which cgroup warnings are worth printing.
import { describe, expect, it } from 'vitest';
import {
  cgroupWarningMatters, computeStats, memoryInUse, mergeResources, parseMemTotal, parseNetDev, parseSystemCpuNs,
  resourcesFromUpdateFlags, type StatsSample,
} from '../../../src/engine/container-resources.js';
import type { Spec } from '../../../src/oci/runtime.js';

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    2048      20    0    0    0     0          0         0      512       5    0    0    0     0       0          0
  eth1:      52       1    0    0    0     0          0         0        8       1    0    0    0     0       0          0
`;

function sample(over: Partial<StatsSample>): StatsSample {
  return {
    at: 0, running: true, cpuNs: 0, systemNs: 0, onlineCpus: 2, memUsage: 0, memLimit: 0,
    netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0, ...over,
  };
}

describe('stats arithmetic', () => {
  it('sums every interface but lo', () => {
    expect(parseNetDev(NET_DEV)).toEqual({ rx: 2100, tx: 520 });
    expect(parseNetDev('')).toEqual({ rx: 0, tx: 0 });
  });

  it('reads the host CPU time from /proc/stat in ns (USER_HZ 100) and MemTotal in bytes', () => {
    expect(parseSystemCpuNs('cpu  100 0 50 800 50 0 0 0 7 0\ncpu0 1 2 3\n')).toBe(1000 * 1e7);
    expect(parseMemTotal('MemTotal:       2048 kB\nMemFree: 1 kB\n')).toBe(2048 * 1024);
  });

  it("computes CPU % like docker stats: container delta / host delta x CPUs", () => {
    const prev = sample({ cpuNs: 1e9, systemNs: 100e9 });
    // 0.5 s of CPU while the host (2 CPUs) accounted 2 s: half of one CPU.
    const cur = sample({ cpuNs: 1.5e9, systemNs: 102e9, memUsage: 32 << 20, memLimit: 64 << 20 });
    const s = computeStats('id', 'name', prev, cur);
    expect(s.cpuPercent).toBeCloseTo(50, 5);
    expect(s.memPercent).toBeCloseTo(50, 5);
    expect(computeStats('id', 'name', undefined, cur).cpuPercent).toBe(0);
    expect(computeStats('id', 'name', prev, { ...cur, running: false }).cpuPercent).toBe(0);
  });

  it('does not count the inactive file cache as memory in use (v1 and v2 names)', () => {
    expect(memoryInUse({ usage: 1000, limit: undefined, stat: { total_inactive_file: 300 } })).toBe(700);
    expect(memoryInUse({ usage: 1000, limit: undefined, stat: { inactive_file: 200 } })).toBe(800);
    expect(memoryInUse({ usage: 100, limit: undefined, stat: { inactive_file: 200 } })).toBe(100);
  });
});

describe('update', () => {
  it('parses the flags as run does: --cpus as quota/period, swap twice the memory, pids', () => {
    const warnings: string[] = [];
    const r = resourcesFromUpdateFlags({ memory: '64m', cpus: '0.5', pidsLimit: '30', kernelMemory: '10m' }, warnings);
    expect(r).toEqual({ memory: { limit: 64 << 20, swap: 128 << 20 }, cpu: { period: 100000, quota: 50000 }, pids: { limit: 30 } });
    expect(warnings.join('\n')).toMatch(/--kernel-memory/);
  });

  it('refuses nothing to change and bad values, naming them', () => {
    expect(() => resourcesFromUpdateFlags({}, [])).toThrow(/nothing to change/);
    expect(() => resourcesFromUpdateFlags({ memory: 'lots' }, [])).toThrow(/lots/);
    expect(() => resourcesFromUpdateFlags({ memory: '1m' }, [])).toThrow(/6MB/);
  });

  it('merges section by section and keeps the device rules', () => {
    const base = { devices: [{ allow: false, access: 'rwm' }], memory: { limit: 1, swap: 2, reservation: 1 }, cpu: { shares: 512 } };
    const merged = mergeResources(base, { memory: { limit: 10, swap: 20 }, cpu: { quota: 1000, period: 100000 } });
    expect(merged).toEqual({
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 10, swap: 20, reservation: 1 },
      cpu: { shares: 512, quota: 1000, period: 100000 },
    });
  });
});

describe('cgroup warnings', () => {
  const spec = (devices: string[], rules = [{ allow: false, access: 'rwm' }]): Spec =>
    ({ ociVersion: '1.0.2', linux: { devices: devices.map((path) => ({ path, type: 'c' })), resources: { devices: rules } } }) as Spec;
  const msg = 'device access rules ignored: cgroup v2 device rules need an eBPF program, which tsrun does not load';

  it('keeps the default device rules quiet on pure v2, but not a --device the user asked for', () => {
    expect(cgroupWarningMatters(msg, spec(['/dev/null', '/dev/zero']), 'unified')).toBe(false);
    expect(cgroupWarningMatters(msg, spec(['/dev/null', '/dev/kvm']), 'unified')).toBe(true);
    // --privileged allows everything: nothing left to enforce.
    expect(cgroupWarningMatters(msg, spec(['/dev/null', '/dev/kvm'], [{ allow: true, access: 'rwm' }]), 'unified')).toBe(false);
  });

  it('keeps every other warning, and device warnings on v1 hosts', () => {
    expect(cgroupWarningMatters('blkio weight ignored: no file', spec([]), 'unified')).toBe(true);
    expect(cgroupWarningMatters(msg, spec(['/dev/null']), 'hybrid')).toBe(true);
  });
});
