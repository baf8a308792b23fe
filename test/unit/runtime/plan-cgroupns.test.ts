// A container's own cgroup namespace: made by the container after the monitor
// moved it into its cgroups (runc's order), and /sys/fs/cgroup mounted afresh
// so it shows the container's cgroup as its root.
import { describe, expect, it } from 'vitest';
import { hierarchiesFromMountinfo } from '../../../src/cgroup/index.js';
import type { Spec } from '../../../src/oci/runtime.js';
import { compileExecPlan, compilePlan, MS, type MonitorConfig, type PlanHost, type PlanStep } from '../../../src/runtime/plan.js';
import { defaultSpec } from '../../support/rootfs.js';

const monitor: MonitorConfig = {
  lockFile: '/run/x/lock', exitFile: '/run/x/exit.json', pidFile: '/run/x/pid', startedFile: '/run/x/started',
  detach: false, stdin: false, terminal: false,
};
const host: PlanHost = {
  cgroupProcs: ['/sys/fs/cgroup/pids/tsrun/a/cgroup.procs', '/sys/fs/cgroup/unified/tsrun/a/cgroup.procs'],
  rootfs: '/b/rootfs',
  bundle: '/b',
  isDirectory: () => true,
};

// This project's hybrid hosts, and a classic legacy one with co-mounted controllers.
const HYBRID = hierarchiesFromMountinfo(`31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`);
const UNIFIED = hierarchiesFromMountinfo('29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n');

const RO = MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY;
const hex = (n: number) => n.toString(16);
const ops = (steps: PlanStep[]) => steps.map((s) => s.op);
const cgroupSteps = (steps: PlanStep[]) =>
  steps.filter((s) => ['mkdirs', 'mount', 'symlink', 'remount', 'propagation'].includes(s.op) && s.args[0]!.startsWith('/sys/fs/cgroup') || (s.op === 'mount' && s.args[1]!.startsWith('/sys/fs/cgroup')));

function spec(cgroupns: 'private' | 'host' | 'joined'): Spec {
  const s = defaultSpec('rootfs', ['true']);
  if (cgroupns === 'private') s.linux!.namespaces!.push({ type: 'cgroup' });
  if (cgroupns === 'joined') s.linux!.namespaces!.push({ type: 'cgroup', path: '/proc/7/ns/cgroup' });
  return s;
}

describe('hierarchiesFromMountinfo', () => {
  it('names each cgroup filesystem under the root with the data that mounts it again', () => {
    expect(HYBRID).toEqual([
      { name: 'cpu', fsType: 'cgroup', data: 'cpu' },
      { name: 'pids', fsType: 'cgroup', data: 'pids' },
      { name: 'systemd', fsType: 'cgroup', data: 'name=systemd' },
      { name: 'unified', fsType: 'cgroup2', data: '' },
    ]);
    expect(UNIFIED).toEqual([{ name: '', fsType: 'cgroup2', data: '' }]);
    const legacy = hierarchiesFromMountinfo(
      '26 25 0:23 / /sys/fs/cgroup/systemd rw shared:10 - cgroup cgroup rw,xattr,name=systemd\n' +
        '29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct\n' +
        '40 25 0:40 / /elsewhere/cpu rw - cgroup cgroup rw,cpu\n',
    );
    expect(legacy).toEqual([
      { name: 'systemd', fsType: 'cgroup', data: 'name=systemd' },
      { name: 'cpu,cpuacct', fsType: 'cgroup', data: 'cpu,cpuacct' },
    ]);
  });
});

describe('a private cgroup namespace', () => {
  it('is not made by the clone but by the container\'s first step, after the monitor wrote cgroup.procs and before any mount', () => {
    const steps = compilePlan(spec('private'), monitor, { ...host, cgroupHierarchies: HYBRID });
    const clone = steps.find((s) => s.op === 'clone')!;
    expect(Number.parseInt(clone.args[0]!, 16) & 0x02000000).toBe(0);
    expect(Number.parseInt(clone.args[0]!, 16) & 0x00020000).toBe(0x00020000);
    const o = ops(steps);
    expect(o.filter((op) => op === 'unshare-cgroupns')).toHaveLength(1);
    expect(o.lastIndexOf('cgroup-procs')).toBeLessThan(o.indexOf('unshare-cgroupns'));
    expect(o.indexOf('unshare-cgroupns')).toBe(o.lastIndexOf('cgroup-procs') + 1);
    expect(o.indexOf('unshare-cgroupns')).toBeLessThan(o.indexOf('propagation'));
    expect(o.indexOf('unshare-cgroupns')).toBeLessThan(o.indexOf('mount'));
  });

  it('also with a user namespace: after the id maps, before becoming its root', () => {
    const s = spec('private');
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const o = ops(compilePlan(s, monitor, { ...host, cgroupHierarchies: HYBRID }));
    expect(o.indexOf('gid-map')).toBeLessThan(o.indexOf('unshare-cgroupns'));
    expect(o.indexOf('unshare-cgroupns')).toBeLessThan(o.indexOf('user'));
  });

  it('on a hybrid host: a tmpfs with each hierarchy mounted afresh, read-only, then the tmpfs made read-only', () => {
    const steps = compilePlan(spec('private'), monitor, { ...host, cgroupHierarchies: HYBRID, cgroupMountSource: '/ignored' });
    expect(cgroupSteps(steps)).toEqual([
      { op: 'mkdirs', args: ['/sys/fs/cgroup', '755'] },
      { op: 'mount', args: ['tmpfs', '/sys/fs/cgroup', 'tmpfs', hex(RO & ~MS.RDONLY), 'mode=755'] },
      { op: 'mkdirs', args: ['/sys/fs/cgroup/cpu', '755'] },
      { op: 'mount', args: ['cgroup', '/sys/fs/cgroup/cpu', 'cgroup', hex(RO), 'cpu'] },
      { op: 'mkdirs', args: ['/sys/fs/cgroup/pids', '755'] },
      { op: 'mount', args: ['cgroup', '/sys/fs/cgroup/pids', 'cgroup', hex(RO), 'pids'] },
      { op: 'mkdirs', args: ['/sys/fs/cgroup/systemd', '755'] },
      { op: 'mount', args: ['cgroup', '/sys/fs/cgroup/systemd', 'cgroup', hex(RO), 'name=systemd'] },
      { op: 'mkdirs', args: ['/sys/fs/cgroup/unified', '755'] },
      { op: 'mount', args: ['cgroup', '/sys/fs/cgroup/unified', 'cgroup2', hex(RO), ''] },
      { op: 'remount', args: ['/sys/fs/cgroup', hex(MS.BIND | RO)] },
    ]);
    // The host's tree is never bound.
    expect(steps.some((s) => s.op === 'mount' && s.args[0] === '/ignored')).toBe(false);
  });

  it('links co-mounted controllers to their hierarchy, as runc does', () => {
    const legacy = hierarchiesFromMountinfo('29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n');
    const steps = compilePlan(spec('private'), monitor, { ...host, cgroupHierarchies: legacy });
    expect(steps.filter((s) => s.op === 'symlink' && s.args[1]!.startsWith('/sys/fs/cgroup')).map((s) => s.args)).toEqual([
      ['cpu,cpuacct', '/sys/fs/cgroup/cpu'],
      ['cpu,cpuacct', '/sys/fs/cgroup/cpuacct'],
    ]);
    const o = ops(cgroupSteps(steps));
    expect(o.lastIndexOf('symlink')).toBeLessThan(o.indexOf('remount'));
  });

  it('on a unified host (or when the host\'s mounts are unknown): one fresh cgroup2, read-only, no bind', () => {
    for (const cgroupHierarchies of [UNIFIED, undefined]) {
      const steps = compilePlan(spec('private'), monitor, { ...host, cgroupHierarchies, cgroupMountSource: '/sys/fs/cgroup/tsrun/a' });
      expect(cgroupSteps(steps)).toEqual([
        { op: 'mkdirs', args: ['/sys/fs/cgroup', '755'] },
        { op: 'mount', args: ['cgroup', '/sys/fs/cgroup', 'cgroup2', hex(RO), ''] },
      ]);
    }
  });

  it('--privileged keeps the mounts writable', () => {
    const s = spec('private');
    s.mounts!.find((m) => m.destination === '/sys/fs/cgroup')!.options = ['nosuid', 'noexec', 'nodev', 'relatime'];
    const steps = cgroupSteps(compilePlan(s, monitor, { ...host, cgroupHierarchies: HYBRID }));
    expect(steps.some((x) => x.op === 'remount')).toBe(false);
    expect(steps.filter((x) => x.op === 'mount').every((x) => (Number.parseInt(x.args[3]!, 16) & MS.RDONLY) === 0)).toBe(true);
  });
});

describe('the host\'s cgroup namespace (--cgroupns host) or a joined one', () => {
  it('keeps the clone without CLONE_NEWCGROUP, no unshare step, and the bind of the host\'s cgroup2 root', () => {
    for (const mode of ['host', 'joined'] as const) {
      const steps = compilePlan(spec(mode), monitor, { ...host, cgroupHierarchies: HYBRID, cgroupMountSource: '/sys/fs/cgroup/unified' });
      expect(ops(steps)).not.toContain('unshare-cgroupns');
      expect(Number.parseInt(steps.find((s) => s.op === 'clone')!.args[0]!, 16) & 0x02000000).toBe(0);
      expect(cgroupSteps(steps)).toEqual([
        { op: 'mkdirs', args: ['/sys/fs/cgroup', '755'] },
        { op: 'mount', args: ['/sys/fs/cgroup/unified', '/sys/fs/cgroup', '', hex(MS.BIND), ''] },
        { op: 'remount', args: ['/sys/fs/cgroup', hex(MS.BIND | RO)] },
      ]);
    }
    expect(compilePlan(spec('joined'), monitor, host).find((s) => s.op === 'setns')!.args).toEqual(['cgroup', '/proc/7/ns/cgroup']);
  });

  it('exec joins the container\'s cgroup namespace with setns, never unshares', () => {
    const steps = compileExecPlan({ args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } }, monitor, [{ type: 'cgroup', path: '/proc/9/ns/cgroup' }], { cgroupProcs: [] });
    expect(steps.find((s) => s.op === 'setns')!.args).toEqual(['cgroup', '/proc/9/ns/cgroup']);
    expect(ops(steps)).not.toContain('unshare-cgroupns');
  });
});
