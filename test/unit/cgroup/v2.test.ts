// The manager on a unified (cgroup v2) host, against a temp dir shaped like cgroupfs.
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listCgroups, openCgroup, type CgroupLayoutInfo } from '../../../src/cgroup/index.js';
import { CgroupError } from '../../../src/errors.js';
import { FakeCgroupFs } from './fake-cgroupfs.js';

const ALL = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'];

describe('cgroup v2 manager', () => {
  let fake: FakeCgroupFs;
  let layout: CgroupLayoutInfo;

  function open(path = '/tsrun/c1') {
    return openCgroup(path, { fs: fake, layout });
  }

  beforeEach(() => {
    fake = new FakeCgroupFs();
    const mount = fake.addUnified('', ALL);
    layout = { layout: 'unified', unifiedPath: mount, v1: {} };
  });
  afterEach(() => fake.cleanup());

  it('detects the fake as unified by its shape', () => {
    expect(openCgroup('/x', { fs: fake, fsRoot: fake.root, mountinfoPath: '/nonexistent' }).procsFiles()).toEqual([fake.abs('x/cgroup.procs')]);
  });

  it('create enables every available controller in each ancestor, not in the leaf', () => {
    expect(open().create()).toEqual([]);
    expect(fake.writes).toEqual([
      { path: 'cgroup.subtree_control', value: '+cpuset +cpu +io +memory +hugetlb +pids' },
      { path: 'tsrun/cgroup.subtree_control', value: '+cpuset +cpu +io +memory +hugetlb +pids' },
    ]);
    expect(fake.file('tsrun/c1/cgroup.controllers').trim()).toBe(ALL.join(' '));
    expect(fake.file('tsrun/c1/cgroup.subtree_control')).toBe('');
    // A second container under the same parent writes nothing new to the ancestors.
    expect(open('/tsrun/c2').create()).toEqual([]);
    expect(fake.writes).toHaveLength(2);
  });

  it('create only enables what the parent offers', () => {
    fake.cleanup();
    fake = new FakeCgroupFs();
    layout = { layout: 'unified', unifiedPath: fake.addUnified('', ['memory', 'pids']), v1: {} };
    open().create();
    expect(fake.writesTo('cgroup.subtree_control')).toEqual(['+memory +pids', '+memory +pids']);
  });

  it('apply writes every v2 file with converted values', () => {
    const cg = open();
    cg.create();
    fake.writes.length = 0;
    const warnings = cg.apply({
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      pids: { limit: 20 },
      blockIO: {
        weight: 500,
        weightDevice: [{ major: 8, minor: 0, weight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
      },
      hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
      unified: { 'memory.high': '50000000', 'cgroup.max.depth': '3' },
    });
    expect(warnings).toEqual([]);
    expect(fake.writes).toEqual([
      { path: 'tsrun/c1/memory.max', value: String(64 << 20) },
      { path: 'tsrun/c1/memory.low', value: String(32 << 20) },
      { path: 'tsrun/c1/memory.swap.max', value: String(32 << 20) },
      { path: 'tsrun/c1/memory.high', value: '50000000' },
      { path: 'tsrun/c1/cpu.weight', value: '20' },
      { path: 'tsrun/c1/cpu.max', value: '50000 100000' },
      { path: 'tsrun/c1/cpuset.cpus', value: '0' },
      { path: 'tsrun/c1/cpuset.mems', value: '0' },
      { path: 'tsrun/c1/pids.max', value: '20' },
      // No io.bfq.weight in the fake: io.weight with the converted weight.
      { path: 'tsrun/c1/io.weight', value: 'default 4950' },
      { path: 'tsrun/c1/io.weight', value: '8:0 910' },
      { path: 'tsrun/c1/io.max', value: '8:0 rbps=1048576' },
      { path: 'tsrun/c1/io.max', value: '8:16 wiops=100' },
      { path: 'tsrun/c1/hugetlb.2MB.max', value: String(4 << 20) },
      { path: 'tsrun/c1/cgroup.max.depth', value: '3' },
    ]);
  });

  it('unlimited values become "max"', () => {
    const cg = open();
    cg.create();
    fake.writes.length = 0;
    cg.apply({ memory: { limit: -1, swap: -1 }, pids: { limit: -1 }, cpu: { quota: -1, period: 100000 } });
    expect(fake.writes.map((w) => `${w.path}=${w.value}`)).toEqual([
      'tsrun/c1/memory.max=max',
      'tsrun/c1/memory.swap.max=max',
      'tsrun/c1/cpu.max=max 100000',
      'tsrun/c1/pids.max=max',
    ]);
  });

  it('warns for settings v2 cannot express and for a missing swap file', () => {
    fake.omit.add('memory.swap.max');
    const cg = open();
    cg.create();
    const warnings = cg.apply({
      memory: { limit: 64 << 20, swap: 128 << 20, swappiness: 10, disableOOMKiller: true },
      devices: [{ allow: false, access: 'rwm' }],
      network: { classID: 7 },
    });
    expect(warnings).toEqual([
      'memory+swap limit ignored: this kernel has no memory.swap.max in the memory controller',
      'memory swappiness ignored: cgroup v2 has no per-cgroup swappiness',
      'oom-kill-disable ignored: cgroup v2 cannot disable the OOM killer',
      'network class id ignored: cgroup v2 has no net_cls/net_prio; use eBPF or tc in the network namespace',
      'device access rules ignored: cgroup v2 device rules need an eBPF program, which tsrun does not load',
    ]);
    expect(fake.file('tsrun/c1/memory.max').trim()).toBe(String(64 << 20));
  });

  it('an explicit limit whose controller is unavailable is an error naming the controller', () => {
    fake.cleanup();
    fake = new FakeCgroupFs();
    layout = { layout: 'unified', unifiedPath: fake.addUnified('', ['cpu']), v1: {} };
    const cg = open();
    cg.create();
    let err: unknown;
    try {
      cg.apply({ memory: { limit: 1 << 20 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect((err as CgroupError).controller).toBe('memory');
    expect((err as Error).message).toMatch(/cannot apply memory limit: the memory cgroup controller is not available/);
    expect(() => cg.apply({ cpu: { realtimeRuntime: 1000 } })).toThrow(/realtime/);
    expect(() => cg.apply({ unified: { 'memory.high': '1' } })).toThrow(/memory/);
    expect(() => cg.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] })).toThrow(/hugetlb/);
  });

  it('a unified key naming a missing file is an error', () => {
    const cg = open();
    cg.create();
    expect(() => cg.apply({ unified: { 'memory.bogus': '1' } })).toThrow(/memory\.bogus does not exist/);
  });

  it('"no internal processes": a busy ancestor yields a warning at create and an error for its limits', () => {
    // /tsrun exists already and holds processes: subtree_control refuses.
    open('/tsrun/other').create();
    fake.writes.length = 0;
    fake.setFile('tsrun/cgroup.subtree_control', '');
    fake.busy.add('tsrun');
    const cg = open('/tsrun/c1');
    const warnings = cg.create();
    expect(warnings).toHaveLength(ALL.length);
    expect(warnings[0]).toMatch(/cpuset could not be enabled in .*tsrun: .*holds processes \(cgroup v2 "no internal processes" rule\)/);
    expect(() => cg.apply({ pids: { limit: 10 } })).toThrow(/pids cgroup controller is not available/);
  });

  it('processes: procsFiles, addProcess, pids', () => {
    const cg = open();
    cg.create();
    expect(cg.procsFiles()).toEqual([fake.abs('tsrun/c1/cgroup.procs')]);
    cg.addProcess(1234);
    cg.addProcess(99);
    expect(fake.writesTo('cgroup.procs')).toEqual(['1234', '99']);
    expect(cg.pids()).toEqual([99, 1234]);
    expect(open('/tsrun/missing').pids()).toEqual([]);
  });

  it('freeze and thaw go through cgroup.freeze and wait for cgroup.events', () => {
    const cg = open();
    cg.create();
    cg.freeze();
    expect(fake.file('tsrun/c1/cgroup.events')).toContain('frozen 1');
    cg.thaw();
    expect(fake.writesTo('cgroup.freeze')).toEqual(['1', '0']);
  });

  it('kill writes cgroup.kill', () => {
    const cg = open();
    cg.create();
    cg.addProcess(4242);
    cg.kill();
    expect(fake.writesTo('cgroup.kill')).toEqual(['1']);
    expect(cg.pids()).toEqual([]);
  });

  it('stats and oomKilled read the v2 files', () => {
    const cg = open();
    cg.create();
    fake.setFile('tsrun/c1/memory.current', '1048576\n');
    fake.setFile('tsrun/c1/memory.max', '33554432\n');
    fake.setFile('tsrun/c1/memory.stat', 'anon 4096\nfile 8192\ninactive_file 100\n');
    fake.setFile('tsrun/c1/cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 2\nthrottled_usec 7\n');
    fake.setFile('tsrun/c1/pids.current', '3\n');
    fake.setFile('tsrun/c1/pids.max', '20\n');
    fake.setFile('tsrun/c1/io.stat', '8:0 rbytes=10 wbytes=20 rios=1 wios=1\n');
    expect(cg.stats()).toEqual({
      memory: { usage: 1048576, limit: 33554432, swapUsage: 0, stat: { anon: 4096, file: 8192, inactive_file: 100 } },
      cpu: { usageNs: 1_500_000, userNs: 1_000_000, systemNs: 500_000, throttledPeriods: 2, throttledNs: 7000 },
      pids: { current: 3, limit: 20 },
      io: { readBytes: 10, writeBytes: 20 },
    });
    expect(cg.oomKilled()).toBe(false);
    fake.setFile('tsrun/c1/memory.events', 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n');
    expect(cg.oomKilled()).toBe(true);
  });

  it('destroy removes the cgroup and its sub-cgroups bottom-up, keeps the parent, and is idempotent', () => {
    const cg = open();
    cg.create();
    open('/tsrun/c1/inner/deeper').create();
    open('/tsrun/c2').create();
    expect(listCgroups('/tsrun', { fs: fake, layout })).toEqual(['/tsrun/c1', '/tsrun/c2']);
    cg.destroy();
    expect(existsSync(fake.abs('tsrun/c1'))).toBe(false);
    expect(existsSync(fake.abs('tsrun/c2'))).toBe(true);
    cg.destroy();
    expect(listCgroups('/tsrun', { fs: fake, layout })).toEqual(['/tsrun/c2']);
    expect(listCgroups('/nothing', { fs: fake, layout })).toEqual([]);
  });

  it('destroy reports a cgroup that keeps its processes', () => {
    const cg = open();
    cg.create();
    cg.addProcess(777);
    expect(() => cg.destroy()).toThrow(/cannot remove cgroup directory .*tsrun\/c1 \(processes left: 777\)/);
  }, 10_000);
});
