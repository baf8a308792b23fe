// fullStats() and oomKillCount(): every counter `tsrun-oci events` reports, on
// hybrid (v1 + hugetlb on cgroup2) and unified fakes, plus the file parsers.
import { afterEach, describe, expect, it } from 'vitest';
import { detectLayout, MAX_U64, openCgroup } from '../../../src/cgroup/index.js';
import { parseBlkioRecursive, parseCpuList, parseIoStatEntries, u64 } from '../../../src/cgroup/full-stats.js';
import { FakeCgroupFs } from './fake-cgroupfs.js';

let fake: FakeCgroupFs | undefined;
afterEach(() => fake?.cleanup());

describe('file parsers', () => {
  it('reads u64 values, "max" and lists', () => {
    expect(u64('18446744073709551615\n')).toBe(MAX_U64);
    expect(u64('max')).toBe(MAX_U64);
    expect(u64('max', 0n)).toBe(0n);
    expect(u64('-1')).toBe(-1n);
    expect(u64(undefined)).toBe(0n);
    expect(u64('garbage')).toBe(0n);
    expect(parseCpuList('0-2,5\n')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('\n')).toEqual([]);
  });
  it('reads v1 blkio recursive files and io.stat', () => {
    expect(parseBlkioRecursive('8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n')).toEqual([
      { major: 8n, minor: 0n, op: 'Read', value: 4096n },
      { major: 8n, minor: 0n, op: 'Write', value: 0n },
      { major: 8n, minor: 0n, op: 'Total', value: 4096n },
    ]);
    expect(parseBlkioRecursive('253:1 77\n')).toEqual([{ major: 253n, minor: 1n, op: '', value: 77n }]);
    expect(parseIoStatEntries('8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n')).toEqual({
      bytes: [
        { major: 8n, minor: 0n, op: 'Read', value: 10n },
        { major: 8n, minor: 0n, op: 'Write', value: 20n },
        { major: 8n, minor: 0n, op: 'Discard', value: 0n },
      ],
      ios: [
        { major: 8n, minor: 0n, op: 'Read', value: 1n },
        { major: 8n, minor: 0n, op: 'Write', value: 2n },
        { major: 8n, minor: 0n, op: 'Discard', value: 0n },
      ],
    });
  });
});

describe('fullStats on a hybrid host', () => {
  it('reads cpuacct, memory (+memsw, kmem), pids, blkio throttle, cpuset and hugetlb from cgroup2', () => {
    fake = new FakeCgroupFs();
    for (const h of ['cpu,cpuacct', 'cpuset', 'memory', 'blkio', 'pids', 'freezer']) {
      fake.addV1(h, h === 'cpuset' ? { 'cpuset.cpus': '0-1\n', 'cpuset.mems': '0\n' } : {});
    }
    fake.addUnified('unified', ['hugetlb']);
    const layout = detectLayout(fake.root, { fs: fake, mountinfoPath: '/nonexistent' });
    const cg = openCgroup('/tsrun/c1', { fs: fake, layout });
    cg.create();
    const set = (f: string, v: string) => fake!.setFile(f, v);
    set('cpu,cpuacct/tsrun/c1/cpuacct.usage', '3000\n');
    set('cpu,cpuacct/tsrun/c1/cpuacct.usage_percpu', '1000 2000 \n');
    set('cpu,cpuacct/tsrun/c1/cpuacct.usage_all', 'cpu user system\n0 600 400\n1 1500 500\n');
    set('cpu,cpuacct/tsrun/c1/cpuacct.usage_user', '2100\n');
    set('cpu,cpuacct/tsrun/c1/cpuacct.usage_sys', '900\n');
    set('cpu,cpuacct/tsrun/c1/cpu.stat', 'nr_periods 4\nnr_throttled 1\nthrottled_time 999\n');
    set('memory/tsrun/c1/memory.usage_in_bytes', '2097152\n');
    set('memory/tsrun/c1/memory.max_usage_in_bytes', '4194304\n');
    set('memory/tsrun/c1/memory.failcnt', '3\n');
    set('memory/tsrun/c1/memory.limit_in_bytes', '8388608\n');
    set('memory/tsrun/c1/memory.memsw.usage_in_bytes', '2097152\n');
    set('memory/tsrun/c1/memory.stat', 'cache 10\nrss 20\n');
    set('pids/tsrun/c1/pids.current', '2\n');
    set('pids/tsrun/c1/pids.max', 'max\n');
    set('blkio/tsrun/c1/blkio.throttle.io_service_bytes_recursive', '8:0 Read 4096\n8:0 Write 1024\n8:0 Total 5120\nTotal 5120\n');
    set('blkio/tsrun/c1/blkio.throttle.io_serviced_recursive', '8:0 Read 2\n8:0 Write 1\nTotal 3\n');
    set('unified/tsrun/c1/hugetlb.2MB.current', '2097152\n');
    set('unified/tsrun/c1/hugetlb.2MB.events', 'max 1\n');
    const s = cg.fullStats();
    expect(s.cpu).toEqual({
      total: 3000n, percpu: [1000n, 2000n], percpuKernel: [400n, 500n], percpuUser: [600n, 1500n],
      kernel: 900n, user: 2100n, periods: 4n, throttledPeriods: 1n, throttledTime: 999n,
    });
    expect(s.memory.cache).toBe(10n);
    expect(s.memory.usage).toEqual({ usage: 2097152n, max: 4194304n, failcnt: 3n, limit: 8388608n });
    // The fake's default: unlimited as v1 writes it (2^63 - 4096), exact.
    expect(s.memory.swap).toEqual({ usage: 2097152n, max: 0n, failcnt: 0n, limit: 9223372036854771712n });
    expect(s.memory.kernel.limit).toBe(9223372036854771712n);
    expect(s.memory.raw).toEqual({ cache: 10n, rss: 20n });
    expect(s.pids).toEqual({ current: 2n, limit: 0n });
    expect(s.blkio.ioServiceBytesRecursive.map((e) => `${e.major}:${e.minor} ${e.op} ${e.value}`)).toEqual(['8:0 Read 4096', '8:0 Write 1024', '8:0 Total 5120']);
    expect(s.blkio.ioServicedRecursive).toHaveLength(2);
    expect(s.hugetlb).toEqual({ '2MB': { usage: 2097152n, max: 0n, failcnt: 1n } });
    expect(s.cpuset.cpus).toEqual([0, 1]);
    expect(s.cpuset.mems).toEqual([0]);
    expect(cg.oomKillCount()).toBe(0);
    set('memory/tsrun/c1/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(cg.oomKillCount()).toBe(2);
    expect(cg.oomKilled()).toBe(true);
  });

  it('falls back to cpuacct.stat ticks and per-cpu files, and to zeros for missing controllers', () => {
    fake = new FakeCgroupFs();
    fake.addV1('cpu,cpuacct');
    const layout = detectLayout(fake.root, { fs: fake, mountinfoPath: '/nonexistent' });
    const cg = openCgroup('/tsrun/c2', { fs: fake, layout });
    fake.omit.add('cpuacct.usage_user');
    fake.omit.add('cpuacct.usage_sys');
    cg.create();
    fake.setFile('cpu,cpuacct/tsrun/c2/cpuacct.stat', 'user 5\nsystem 2\n');
    fake.setFile('cpu,cpuacct/tsrun/c2/cpuacct.usage_percpu_user', '7 8\n');
    fake.setFile('cpu,cpuacct/tsrun/c2/cpuacct.usage_percpu_sys', '1 2\n');
    const s0 = cg.fullStats();
    // USER_HZ ticks (1/100 s) in nanoseconds.
    expect([s0.cpu.user, s0.cpu.kernel]).toEqual([50_000_000n, 20_000_000n]);
    expect([s0.cpu.percpuUser, s0.cpu.percpuKernel]).toEqual([[7n, 8n], [1n, 2n]]);
    expect(s0.memory.usage).toEqual({ usage: 0n, max: 0n, failcnt: 0n, limit: 0n });
    expect(s0.hugetlb).toEqual({});
    expect(s0.pids).toEqual({ current: 0n, limit: 0n });
  });
});

describe('fullStats on a unified host', () => {
  it('reads cpu.stat, memory with v1-style swap, io.stat, pids, hugetlb and effective cpusets', () => {
    fake = new FakeCgroupFs();
    const mount = fake.addUnified('', ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids']);
    const cg = openCgroup('/tsrun/c1', { fs: fake, layout: { layout: 'unified', unifiedPath: mount, v1: {} } });
    cg.create();
    const set = (f: string, v: string) => fake!.setFile(`tsrun/c1/${f}`, v);
    set('cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 2\nthrottled_usec 7\n');
    set('memory.current', '1048576\n');
    set('memory.peak', '2097152\n');
    set('memory.max', '33554432\n');
    set('memory.events', 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n');
    set('memory.swap.current', '4096\n');
    set('memory.swap.max', '1048576\n');
    set('memory.stat', 'anon 4096\nfile 8192\n');
    set('pids.current', '3\n');
    set('pids.max', '20\n');
    set('io.stat', '8:0 rbytes=10 wbytes=20 rios=1 wios=2\n');
    set('hugetlb.1GB.current', '0\n');
    set('hugetlb.2MB.current', '4194304\n');
    const s = cg.fullStats();
    expect(s.cpu).toEqual({ total: 1_500_000n, percpu: [], percpuKernel: [], percpuUser: [], kernel: 500_000n, user: 1_000_000n, periods: 3n, throttledPeriods: 2n, throttledTime: 7000n });
    expect(s.memory.usage).toEqual({ usage: 1048576n, max: 2097152n, failcnt: 5n, limit: 33554432n });
    expect(s.memory.swap).toEqual({ usage: 1048576n + 4096n, max: 0n, failcnt: 0n, limit: 33554432n + 1048576n });
    expect(s.memory.cache).toBe(8192n);
    expect(s.pids).toEqual({ current: 3n, limit: 20n });
    expect(s.blkio.ioServiceBytesRecursive.map((e) => [e.op, e.value])).toEqual([['Read', 10n], ['Write', 20n]]);
    expect(s.blkio.ioServicedRecursive.map((e) => [e.op, e.value])).toEqual([['Read', 1n], ['Write', 2n]]);
    expect(Object.keys(s.hugetlb)).toEqual(['1GB', '2MB']);
    expect(s.hugetlb['2MB']!.usage).toBe(4194304n);
    expect(s.cpuset.cpus).toEqual([0, 1]);
    expect(cg.oomKillCount()).toBe(1);
    // "max" limits are 2^64-1, as runc reports them; swap+memory stays at the maximum.
    set('memory.max', 'max\n');
    expect(cg.fullStats().memory.usage.limit).toBe(MAX_U64);
    expect(cg.fullStats().memory.swap.limit).toBe(MAX_U64);
  });
});
