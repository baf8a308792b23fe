// The manager on legacy (v1 only) and hybrid hosts, against temp dirs shaped like cgroupfs.
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectLayout, listCgroups, openCgroup, type CgroupLayoutInfo } from '../../../src/cgroup/index.js';
import { CgroupError } from '../../../src/errors.js';
import { FakeCgroupFs } from './fake-cgroupfs.js';

const HIERARCHIES = ['cpu,cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];

function build(fake: FakeCgroupFs, hybrid: boolean): CgroupLayoutInfo {
  for (const h of HIERARCHIES) {
    fake.addV1(h, h === 'cpuset' ? { 'cpuset.cpus': '0-1\n', 'cpuset.mems': '0\n' } : {});
  }
  if (hybrid) fake.addUnified('unified', ['hugetlb']);
  return detectLayout(fake.root, { fs: fake, mountinfoPath: '/nonexistent' });
}

describe('cgroup v1 manager (legacy)', () => {
  let fake: FakeCgroupFs;
  let layout: CgroupLayoutInfo;
  const open = (path = '/tsrun/c1') => openCgroup(path, { fs: fake, layout });

  beforeEach(() => {
    fake = new FakeCgroupFs();
    layout = build(fake, false);
  });
  afterEach(() => fake.cleanup());

  it('is detected as legacy with a shared cpu,cpuacct hierarchy', () => {
    expect(layout.layout).toBe('legacy');
    expect(layout.v1['cpu']).toBe(layout.v1['cpuacct']);
  });

  it('create makes one dir per hierarchy and copies cpuset cpus/mems down every new level', () => {
    const cg = open();
    expect(cg.create()).toEqual([]);
    for (const h of HIERARCHIES) expect(existsSync(fake.abs(`${h}/tsrun/c1`))).toBe(true);
    expect(fake.writes).toEqual([
      { path: 'cpuset/tsrun/cpuset.cpus', value: '0-1' },
      { path: 'cpuset/tsrun/cpuset.mems', value: '0' },
      { path: 'cpuset/tsrun/c1/cpuset.cpus', value: '0-1' },
      { path: 'cpuset/tsrun/c1/cpuset.mems', value: '0' },
    ]);
    // procs files: one per hierarchy, the combined one once.
    expect(cg.procsFiles().map((f) => fake.rel(f)).sort()).toEqual(HIERARCHIES.map((h) => `${h}/tsrun/c1/cgroup.procs`).sort());
  });

  it('apply writes the v1 files in order, warning for the missing blkio weight', () => {
    const cg = open();
    cg.create();
    fake.writes.length = 0;
    const warnings = cg.apply({
      memory: { limit: 64 << 20, swap: 96 << 20, reservation: 32 << 20, swappiness: 0, disableOOMKiller: true },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '1', mems: '0' },
      pids: { limit: 20 },
      blockIO: {
        weight: 500,
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 10 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 20 }],
      },
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'c', major: 136, minor: null, access: 'rwm' },
      ],
    });
    expect(warnings).toEqual(['block io weight ignored: this kernel has no blkio.weight or blkio.bfq.weight in the blkio controller']);
    expect(fake.writes.map((w) => `${w.path}=${w.value}`)).toEqual([
      `memory/tsrun/c1/memory.limit_in_bytes=${64 << 20}`,
      `memory/tsrun/c1/memory.memsw.limit_in_bytes=${96 << 20}`,
      `memory/tsrun/c1/memory.soft_limit_in_bytes=${32 << 20}`,
      'memory/tsrun/c1/memory.swappiness=0',
      'memory/tsrun/c1/memory.oom_control=1',
      'cpu,cpuacct/tsrun/c1/cpu.shares=512',
      'cpu,cpuacct/tsrun/c1/cpu.cfs_period_us=100000',
      'cpu,cpuacct/tsrun/c1/cpu.cfs_quota_us=50000',
      'cpuset/tsrun/c1/cpuset.cpus=1',
      'cpuset/tsrun/c1/cpuset.mems=0',
      'pids/tsrun/c1/pids.max=20',
      'blkio/tsrun/c1/blkio.throttle.read_bps_device=8:0 1048576',
      'blkio/tsrun/c1/blkio.throttle.write_bps_device=8:0 2097152',
      'blkio/tsrun/c1/blkio.throttle.read_iops_device=8:0 10',
      'blkio/tsrun/c1/blkio.throttle.write_iops_device=8:0 20',
      'devices/tsrun/c1/devices.deny=a',
      'devices/tsrun/c1/devices.allow=c 1:3 rwm',
      'devices/tsrun/c1/devices.allow=c 136:* rwm',
    ]);
  });

  it('raising memory above the current memsw writes memsw first', () => {
    const cg = open();
    cg.create();
    cg.apply({ memory: { limit: 64 << 20, swap: 64 << 20 } });
    fake.writes.length = 0;
    cg.apply({ memory: { limit: 128 << 20, swap: 256 << 20 } });
    expect(fake.writes.map((w) => w.path.split('/').pop())).toEqual(['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
    expect(fake.file('memory/tsrun/c1/memory.limit_in_bytes').trim()).toBe(String(128 << 20));
    expect(fake.file('memory/tsrun/c1/memory.memsw.limit_in_bytes').trim()).toBe(String(256 << 20));
  });

  it('unlimited values are -1 / max', () => {
    const cg = open();
    cg.create();
    fake.writes.length = 0;
    cg.apply({ memory: { limit: -1 }, cpu: { quota: -1 }, pids: { limit: -1 } });
    expect(fake.writes.map((w) => `${w.path.split('/').pop()}=${w.value}`)).toEqual([
      'memory.limit_in_bytes=-1',
      'cpu.cfs_quota_us=-1',
      'pids.max=max',
    ]);
  });

  it('unified settings and hugetlb cannot be applied without cgroup2: error naming the controller', () => {
    const cg = open();
    cg.create();
    expect(() => cg.apply({ unified: { 'memory.high': '1' } })).toThrow(/cannot apply unified setting memory.high/);
    let err: unknown;
    try {
      cg.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect((err as CgroupError).controller).toBe('hugetlb');
  });

  it('warns when the net_cls/net_prio hierarchies are not mounted', () => {
    const cg = open();
    cg.create();
    expect(cg.apply({ network: { classID: 42, priorities: [{ name: 'eth0', priority: 3 }] } })).toEqual([
      'network class id ignored: the net_cls cgroup controller is not available for /tsrun/c1 on this host (legacy layout)',
      'network priority of eth0 ignored: the net_prio cgroup controller is not available for /tsrun/c1 on this host (legacy layout)',
    ]);
  });

  it('freezes through freezer.state', () => {
    const cg = open();
    cg.create();
    cg.freeze();
    expect(fake.file('freezer/tsrun/c1/freezer.state').trim()).toBe('FROZEN');
    cg.thaw();
    expect(fake.writesTo('freezer.state')).toEqual(['FROZEN', 'THAWED']);
  });

  it('stats and oomKilled read the v1 files', () => {
    const cg = open();
    cg.create();
    fake.setFile('memory/tsrun/c1/memory.usage_in_bytes', '2097152\n');
    fake.setFile('memory/tsrun/c1/memory.stat', 'cache 10\nrss 20\n');
    fake.setFile('cpu,cpuacct/tsrun/c1/cpuacct.usage', '123456\n');
    fake.setFile('cpu,cpuacct/tsrun/c1/cpuacct.usage_user', '100000\n');
    fake.setFile('cpu,cpuacct/tsrun/c1/cpuacct.usage_sys', '23456\n');
    fake.setFile('cpu,cpuacct/tsrun/c1/cpu.stat', 'nr_periods 4\nnr_throttled 1\nthrottled_time 999\n');
    fake.setFile('pids/tsrun/c1/pids.current', '2\n');
    fake.setFile('blkio/tsrun/c1/blkio.throttle.io_service_bytes', '8:0 Read 4096\n8:0 Write 1024\n8:0 Total 5120\nTotal 5120\n');
    expect(cg.stats()).toEqual({
      memory: { usage: 2097152, limit: undefined, stat: { cache: 10, rss: 20 } },
      cpu: { usageNs: 123456, userNs: 100000, systemNs: 23456, throttledPeriods: 1, throttledNs: 999 },
      pids: { current: 2, limit: undefined },
      io: { readBytes: 4096, writeBytes: 1024 },
    });
    expect(cg.oomKilled()).toBe(false);
    fake.setFile('memory/tsrun/c1/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(cg.oomKilled()).toBe(true);
    // Kernels before 4.13 have no oom_kill counter: under_oom decides.
    fake.setFile('memory/tsrun/c1/memory.oom_control', 'oom_kill_disable 1\nunder_oom 1\n');
    expect(cg.oomKilled()).toBe(true);
    fake.setFile('memory/tsrun/c1/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\n');
    expect(cg.oomKilled()).toBe(false);
  });

  it('destroy removes the dir in every hierarchy and is idempotent', () => {
    const cg = open();
    cg.create();
    open('/tsrun/c1/sub').create();
    open('/tsrun/c2').create();
    cg.destroy();
    for (const h of HIERARCHIES) {
      expect(existsSync(fake.abs(`${h}/tsrun/c1`))).toBe(false);
      expect(existsSync(fake.abs(`${h}/tsrun/c2`))).toBe(true);
    }
    cg.destroy();
    expect(listCgroups('/tsrun', { fs: fake, layout })).toEqual(['/tsrun/c2']);
  });
});

describe('cgroup manager on a hybrid host', () => {
  let fake: FakeCgroupFs;
  let layout: CgroupLayoutInfo;
  const open = (path = '/tsrun/c1') => openCgroup(path, { fs: fake, layout });

  beforeEach(() => {
    fake = new FakeCgroupFs();
    layout = build(fake, true);
  });
  afterEach(() => fake.cleanup());

  it('is detected as hybrid', () => {
    expect(layout.layout).toBe('hybrid');
    expect(layout.unifiedPath).toBe(fake.abs('unified'));
  });

  it('places processes in the unified hierarchy too', () => {
    const cg = open();
    cg.create();
    expect(cg.procsFiles()[0]).toBe(fake.abs('unified/tsrun/c1/cgroup.procs'));
    expect(cg.procsFiles()).toHaveLength(HIERARCHIES.length + 1);
    cg.addProcess(31337);
    expect(fake.writesTo('cgroup.procs')).toHaveLength(HIERARCHIES.length + 1);
    expect(cg.pids()).toEqual([31337]);
  });

  it('serves a controller only cgroup2 offers (hugetlb) from the unified hierarchy', () => {
    const cg = open();
    cg.create();
    fake.writes.length = 0;
    expect(cg.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 2 << 20 }], memory: { limit: 1 << 30 } })).toEqual([]);
    expect(fake.writes.map((w) => `${w.path}=${w.value}`)).toEqual([
      `memory/tsrun/c1/memory.limit_in_bytes=${1 << 30}`,
      `unified/tsrun/c1/hugetlb.2MB.max=${2 << 20}`,
    ]);
  });

  it('unified keys: core files go to cgroup2; a key for a v1-bound controller is an error', () => {
    const cg = open();
    cg.create();
    fake.writes.length = 0;
    cg.apply({ unified: { 'cgroup.max.depth': '2' } });
    expect(fake.writes).toEqual([{ path: 'unified/tsrun/c1/cgroup.max.depth', value: '2' }]);
    expect(() => cg.apply({ unified: { 'memory.high': '1' } })).toThrow(/memory\.high/);
  });

  it('kill uses cgroup.kill of the unified hierarchy', () => {
    const cg = open();
    cg.create();
    // In the fake, cgroup.kill empties only the unified cgroup.procs; the v1 dirs
    // still list the pid, so the manager must fall back to signals. Use a pid
    // that does not exist, then clear the v1 lists as the kernel would.
    cg.addProcess(2 ** 22 + 7);
    for (const h of HIERARCHIES) fake.setFile(`${h}/tsrun/c1/cgroup.procs`, '');
    cg.kill();
    expect(fake.writesTo('cgroup.kill')).toEqual(['1']);
  });

  it('destroy removes the unified dir as well', () => {
    const cg = open();
    cg.create();
    cg.destroy();
    expect(existsSync(fake.abs('unified/tsrun/c1'))).toBe(false);
    expect(existsSync(fake.abs('memory/tsrun/c1'))).toBe(false);
  });
});
