// tsrun-oci events: Go durations, exact uint64 JSON, and runc's stats shape.
import { describe, expect, it } from 'vitest';
import { MAX_U64, type FullCgroupStats } from '../../../src/cgroup/index.js';
import { parseDuration, runcStats, toJson } from '../../../src/cli/oci/commands/events.js';

describe('events --interval', () => {
  it('parses Go durations', () => {
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('.5s')).toBe(500);
    expect(parseDuration('2000\u00b5s')).toBe(2);
    expect(parseDuration('2000\u03bcs')).toBe(2);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('-1s')).toBe(-1000);
    expect(parseDuration('1500us')).toBeCloseTo(1.5);
    for (const bad of ['5', '', 's', '5 s', '5x', '1m30']) expect(() => parseDuration(bad), bad).toThrow(/invalid duration/);
  });
});

describe('events JSON', () => {
  it('writes bigints exactly and leaves out undefined members', () => {
    expect(toJson({ a: MAX_U64, b: undefined, c: [1n, 'x', null], d: { e: true } })).toBe('{"a":18446744073709551615,"c":[1,"x",null],"d":{"e":true}}');
  });

  const zero = (): FullCgroupStats['memory']['usage'] => ({ usage: 0n, max: 0n, failcnt: 0n, limit: 0n });
  const stats: FullCgroupStats = {
    cpu: { total: 3000n, percpu: [1000n, 2000n], percpuKernel: [], percpuUser: [], kernel: 900n, user: 0n, periods: 0n, throttledPeriods: 0n, throttledTime: 0n },
    cpuset: {
      cpus: [0, 1], mems: [], cpuExclusive: 0n, memHardwall: 0n, memExclusive: 0n, memoryMigrate: 0n, memorySpreadPage: 0n,
      memorySpreadSlab: 0n, memoryPressure: 0n, schedLoadBalance: 1n, schedRelaxDomainLevel: -1n,
    },
    memory: { cache: 10n, usage: { usage: 2048n, max: 4096n, failcnt: 0n, limit: 9223372036854771712n }, swap: zero(), kernel: zero(), kernelTcp: zero(), raw: { rss: 5n, cache: 10n } },
    pids: { current: 2n, limit: 0n },
    blkio: {
      ioServiceBytesRecursive: [{ major: 8n, minor: 0n, op: 'Read', value: 4096n }], ioServicedRecursive: [], ioQueuedRecursive: [],
      ioServiceTimeRecursive: [], ioWaitTimeRecursive: [], ioMergedRecursive: [], ioTimeRecursive: [], sectorsRecursive: [],
    },
    hugetlb: { '2MB': { usage: 0n, max: 0n, failcnt: 0n } },
  };

  it('has runc types.Stats names and Go omitempty rules', () => {
    const json = toJson({ type: 'stats', id: 'c1', data: runcStats(stats) });
    expect(JSON.parse(json)).toEqual({
      type: 'stats',
      id: 'c1',
      data: {
        cpu: { usage: { total: 3000, percpu: [1000, 2000], kernel: 900, user: 0 }, throttling: {} },
        cpuset: {
          cpus: [0, 1], cpu_exclusive: 0, mem_hardwall: 0, mem_exclusive: 0, memory_migrate: 0, memory_spread_page: 0,
          memory_spread_slab: 0, memory_pressure: 0, sched_load_balance: 1, sched_relax_domain_level: -1,
        },
        memory: {
          cache: 10,
          usage: { limit: 9223372036854771712, usage: 2048, max: 4096, failcnt: 0 },
          swap: { limit: 0, failcnt: 0 },
          kernel: { limit: 0, failcnt: 0 },
          kernelTCP: { limit: 0, failcnt: 0 },
          raw: { cache: 10, rss: 5 },
        },
        pids: { current: 2 },
        blkio: { ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 4096 }] },
        hugetlb: { '2MB': { failcnt: 0 } },
        intel_rdt: {},
        network_interfaces: null,
      },
    });
    // The v1 "unlimited" value is written digit for digit; map keys come sorted, as Go writes them.
    expect(json).toContain('"limit":9223372036854771712,');
    expect(json).toContain('"raw":{"cache":10,"rss":5}');
  });
});
