import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.js';
import type { Spec } from '../../../src/oci/runtime.js';
import {
  capabilityMask, clampRlimit, compileExecPlan, compilePlan, decodePlan, encodePlan, MS, parseMountOptions,
  parseProcLimits, RLIM_INFINITY, type MonitorConfig, type PlanHost, type PlanStep,
} from '../../../src/runtime/plan.js';
import { defaultSpec } from '../../support/rootfs.js';

const monitor: MonitorConfig = {
  lockFile: '/run/x/lock', exitFile: '/run/x/exit.json', pidFile: '/run/x/pid', startedFile: '/run/x/started',
  detach: false, stdin: false, terminal: false,
};
const host: PlanHost = {
  hardLimits: new Map([[7, 20000n], [6, 32768n]]),
  cgroupProcs: ['/sys/fs/cgroup/pids/tsrun/a/cgroup.procs'],
  rootfs: '/b/rootfs',
  bundle: '/b',
  isDirectory: (p) => !p.endsWith('.conf'),
};

const ops = (steps: PlanStep[]) => steps.map((s) => s.op);
const find = (steps: PlanStep[], op: string) => steps.filter((s) => s.op === op);
const hex = (n: number) => n.toString(16);

describe('parseMountOptions', () => {
  it('turns options into flags, data and propagation', () => {
    expect(parseMountOptions(['nosuid', 'noexec', 'nodev', 'ro'])).toEqual({
      flags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY, data: '', propagation: 0, bind: false,
    });
    expect(parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'])).toEqual({
      flags: MS.NOSUID | MS.STRICTATIME, data: 'mode=755,size=65536k', propagation: 0, bind: false,
    });
    expect(parseMountOptions(['rbind', 'ro', 'rslave'])).toEqual({
      flags: MS.BIND | MS.REC | MS.RDONLY, data: '', propagation: MS.SLAVE | MS.REC, bind: true,
    });
  });
  it('lets later options clear earlier ones and ignores runtime-only options', () => {
    expect(parseMountOptions(['ro', 'rw', 'noexec', 'exec', 'tmpcopyup']).flags).toBe(0);
    expect(parseMountOptions([], 'bind').bind).toBe(true);
  });
});

describe('capabilityMask', () => {
  it('maps names to bits, with or without CAP_', () => {
    expect(capabilityMask(['CAP_CHOWN', 'kill', 'CAP_SYS_ADMIN'])).toBe((1n << 0n) | (1n << 5n) | (1n << 21n));
    expect(capabilityMask(undefined)).toBe(0n);
  });
  it('names an unknown capability', () => {
    expect(() => capabilityMask(['CAP_FLY'])).toThrow(/unknown capability "CAP_FLY"/);
  });
});

describe('rlimits', () => {
  it('never asks for more than the caller hard limit', () => {
    expect(clampRlimit({ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }, host.hardLimits)).toEqual({ resource: 7, soft: 20000n, hard: 20000n });
    expect(clampRlimit({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, host.hardLimits)).toEqual({ resource: 7, soft: 1024n, hard: 4096n });
    expect(clampRlimit({ type: 'RLIMIT_CORE', soft: -1, hard: -1 }, host.hardLimits)).toEqual({ resource: 4, soft: RLIM_INFINITY, hard: RLIM_INFINITY });
    expect(clampRlimit({ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }, undefined).hard).toBe(1048576n);
    expect(() => clampRlimit({ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }, undefined)).toThrow(/RLIMIT_BOGUS/);
  });
  it('reads hard limits from /proc/self/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max cpu time              unlimited            unlimited            seconds',
      'Max processes             32768                32768                processes',
      'Max open files            1024                 20000                files',
    ].join('\n');
    const m = parseProcLimits(text);
    expect(m.get(7)).toBe(20000n);
    expect(m.get(6)).toBe(32768n);
    expect(m.get(0)).toBe(RLIM_INFINITY);
  });
});

describe('compilePlan', () => {
  const spec = (): Spec => defaultSpec('rootfs', ['echo', 'hi']);

  it('orders the phases: config, namespaces, parent steps, container steps ending in exec', () => {
    const steps = compilePlan(spec(), monitor, host);
    const o = ops(steps);
    expect(o.slice(0, 4)).toEqual(['lock-file', 'exit-file', 'pid-file', 'started-file']);
    expect(o.indexOf('clone')).toBeLessThan(o.indexOf('cgroup-procs'));
    expect(o.indexOf('cgroup-procs')).toBeLessThan(o.indexOf('propagation'));
    expect(o.indexOf('rootfs')).toBeLessThan(o.indexOf('pivot-root'));
    expect(o.indexOf('pivot-root')).toBeLessThan(o.indexOf('mask'));
    expect(o.indexOf('cap-bounding')).toBeLessThan(o.indexOf('user'));
    expect(o.indexOf('user')).toBeLessThan(o.indexOf('caps'));
    expect(o.slice(-4)).toEqual(['args', 'env', 'lookup-command', 'exec']);
    expect(find(steps, 'cgroup-procs')[0]!.args).toEqual(host.cgroupProcs);
    expect(find(steps, 'rootfs')[0]!.args).toEqual(['/b/rootfs']);
    expect(find(steps, 'propagation')[0]!.args).toEqual(['/', hex(MS.SLAVE | MS.REC)]);
  });

  it('computes the clone flags of new namespaces and joins given ones in order', () => {
    const s = spec();
    s.linux!.namespaces = [{ type: 'mount' }, { type: 'pid' }, { type: 'uts' }, { type: 'network', path: '/run/netns/x' }, { type: 'user', path: '/proc/9/ns/user' }];
    const steps = compilePlan(s, monitor, host);
    expect(find(steps, 'setns').map((x) => x.args)).toEqual([['user', '/proc/9/ns/user'], ['net', '/run/netns/x']]);
    expect(find(steps, 'clone')[0]!.args).toEqual([hex(0x00020000 | 0x20000000 | 0x04000000)]);
  });

  it('refuses a container without its own mount namespace', () => {
    const s = spec();
    s.linux!.namespaces = [{ type: 'pid' }];
    expect(() => compilePlan(s, monitor, host)).toThrow(LaunchError);
  });

  it('writes id maps for a new user namespace and binds devices instead of mknod', () => {
    const s = spec();
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const steps = compilePlan(s, monitor, host);
    expect(find(steps, 'uid-map')[0]!.args).toEqual(['0', '100000', '65536']);
    expect(find(steps, 'mknod')).toEqual([]);
    expect(find(steps, 'mount').some((m) => m.args[0] === '/dev/null' && m.args[1] === '/dev/null')).toBe(true);
  });

  it('mknods the default devices and links /dev/fd, stdio and ptmx', () => {
    const steps = compilePlan(spec(), monitor, host);
    expect(find(steps, 'mknod').map((m) => m.args.slice(0, 4))).toEqual([
      ['/dev/null', 'c', '1', '3'], ['/dev/zero', 'c', '1', '5'], ['/dev/full', 'c', '1', '7'],
      ['/dev/random', 'c', '1', '8'], ['/dev/urandom', 'c', '1', '9'], ['/dev/tty', 'c', '5', '0'],
    ]);
    expect(find(steps, 'mknod')[0]!.args.slice(4)).toEqual(['666', '0', '0']);
    expect(find(steps, 'symlink').map((x) => x.args)).toContainEqual(['/proc/self/fd', '/dev/fd']);
    expect(find(steps, 'symlink').map((x) => x.args)).toContainEqual(['pts/ptmx', '/dev/ptmx']);
  });

  it('turns spec mounts into mount steps with flags and data; bind mounts get a remount for ro', () => {
    const s = spec();
    s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'nosuid', 'rprivate'] });
    s.mounts!.push({ destination: '/etc/app.conf', source: '/srv/app.conf', options: ['bind'] });
    const steps = compilePlan(s, monitor, host);
    const mounts = find(steps, 'mount');
    expect(mounts.find((m) => m.args[1] === '/dev')!.args).toEqual(['tmpfs', '/dev', 'tmpfs', hex(MS.NOSUID | MS.STRICTATIME), 'mode=755,size=65536k']);
    expect(mounts.find((m) => m.args[1] === '/sys/fs/cgroup')!.args).toEqual(['cgroup', '/sys/fs/cgroup', 'cgroup2', hex(MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY), '']);
    expect(mounts.find((m) => m.args[1] === '/data')!.args).toEqual(['/b/data', '/data', '', hex(MS.BIND | MS.REC), '']);
    expect(find(steps, 'remount')).toContainEqual({ op: 'remount', args: ['/data', hex(MS.BIND | MS.RDONLY | MS.NOSUID)] });
    expect(find(steps, 'propagation')).toContainEqual({ op: 'propagation', args: ['/data', hex(MS.PRIVATE | MS.REC)] });
    // A file bind gets a file mount point.
    expect(find(steps, 'mkfile')).toContainEqual({ op: 'mkfile', args: ['/etc/app.conf'] });
  });

  it('clamps mount destinations that climb out to the container root', () => {
    const s = spec();
    s.mounts!.push({ destination: '../../etc', type: 'tmpfs', source: 'tmpfs' });
    expect(compilePlan(s, monitor, host).some((x) => x.op === 'mount' && x.args[1] === '/etc')).toBe(true);
  });

  it('masks and read-only paths after pivot_root, read-only root last', () => {
    const s = spec();
    s.root = { path: 'rootfs', readonly: true };
    const steps = compilePlan(s, monitor, host);
    expect(find(steps, 'mask').map((x) => x.args[0])).toContain('/proc/kcore');
    expect(find(steps, 'readonly').map((x) => x.args[0])).toContain('/proc/sys');
    const o = ops(steps);
    expect(o.lastIndexOf('readonly')).toBeLessThan(o.indexOf('remount'));
    expect(find(steps, 'remount').at(-1)!.args).toEqual(['/', hex(MS.BIND | MS.RDONLY)]);
  });

  it('computes capability masks, clamps rlimits, and keeps the user and groups', () => {
    const s = spec();
    s.process!.user = { uid: 1000, gid: 1000, additionalGids: [5, 27], umask: 0o077 };
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }];
    s.process!.capabilities = { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'], ambient: ['CAP_KILL'] };
    const steps = compilePlan(s, monitor, host);
    expect(find(steps, 'cap-bounding')[0]!.args).toEqual(['21']);
    expect(find(steps, 'caps')[0]!.args).toEqual(['20', '20', '20']);
    expect(find(steps, 'ambient')[0]!.args).toEqual(['20']);
    // The kernel raises ambient caps only when permitted and inheritable: others are left out (as runc does).
    s.process!.capabilities = { effective: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: ['CAP_KILL', 'CAP_CHOWN'] };
    expect(find(compilePlan(s, monitor, host), 'ambient')).toEqual([]);
    expect(find(steps, 'rlimit')[0]!.args).toEqual(['7', '20000', '20000']);
    expect(find(steps, 'user')[0]!.args).toEqual(['1000', '1000', '5,27']);
    expect(find(steps, 'umask')[0]!.args).toEqual(['77']);
    expect(find(steps, 'no-new-privs')).toHaveLength(1);
  });

  it('adds a default PATH when env has none, and waits for start only when asked', () => {
    const s = spec();
    s.process!.env = ['A=1'];
    const steps = compilePlan(s, { ...monitor, execFifo: '/run/x/exec.fifo', logFile: '/l.json', detach: true }, host);
    expect(find(steps, 'env')[0]!.args).toEqual(['A=1', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(ops(steps).slice(-2)).toEqual(['wait-start', 'exec']);
    expect(ops(steps)).toContain('exec-fifo');
    expect(ops(steps)).toContain('detach');
    expect(find(steps, 'log-file')[0]!.args).toEqual(['/l.json']);
  });

  it('gives the monitor an attach socket only when asked, and never without stdio of its own', () => {
    expect(find(compilePlan(spec(), monitor, host), 'attach-socket')).toEqual([]);
    const steps = compilePlan(spec(), { ...monitor, detach: true, stdin: true, attachSocket: '/run/x/attach' }, host);
    expect(find(steps, 'attach-socket')[0]!.args).toEqual(['/run/x/attach']);
    expect(ops(steps).indexOf('attach-socket')).toBeLessThan(ops(steps).indexOf('clone'));
    expect(decodePlan(encodePlan(steps))).toEqual(steps);
    for (const bad of [{ inheritStdio: true }, { noMonitor: true }, { consoleSocket: '/c.sock' }]) {
      expect(() => compilePlan(spec(), { ...monitor, ...bad, attachSocket: '/run/x/attach' }, host)).toThrow(LaunchError);
    }
  });

  it('places seccomp before dropping privileges without no_new_privs, else right before exec', () => {
    const prog = { bytes: Buffer.from([6, 0, 0, 0, 0, 0, 0xff, 0x7f]), flags: 0 };
    const withNnp = ops(compilePlan(spec(), { ...monitor, execFifo: '/f' }, host, prog));
    expect(withNnp.slice(-3)).toEqual(['wait-start', 'seccomp', 'exec']);
    const s = spec();
    s.process!.noNewPrivileges = false;
    const steps = compilePlan(s, monitor, host, prog);
    expect(ops(steps).indexOf('seccomp')).toBeLessThan(ops(steps).indexOf('cap-bounding'));
    expect(find(steps, 'seccomp')[0]!.args).toEqual(['060000000000ff7f', '0']);
  });

  it('converts sysctl keys to /proc/sys paths and sets the hostname', () => {
    const s = spec();
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.eth0/1.rp_filter': '0' };
    const steps = compilePlan(s, monitor, host);
    expect(find(steps, 'sysctl').map((x) => x.args)).toEqual([['net/ipv4/ip_forward', '1'], ['net/ipv4/conf/eth0.1/rp_filter', '0']]);
    expect(find(steps, 'hostname')[0]!.args).toEqual(['tsrun-test']);
    s.linux!.sysctl = { '../../etc/x': '1' };
    expect(() => compilePlan(s, monitor, host)).toThrow(/invalid sysctl/);
  });

  it('allocates the console inside the container when process.terminal is set', () => {
    const s = spec();
    s.process!.terminal = true;
    const steps = compilePlan(s, monitor, host);
    expect(ops(steps)).toContain('terminal');
    expect(ops(steps).indexOf('console')).toBeGreaterThan(ops(steps).indexOf('pivot-root'));
  });

  it('refuses a hostname without a UTS namespace', () => {
    const s = spec();
    s.linux!.namespaces = [{ type: 'mount' }];
    expect(() => compilePlan(s, monitor, host)).toThrow(/UTS/);
  });

  it('refuses empty args', () => {
    const s = spec();
    s.process!.args = [];
    expect(() => compilePlan(s, monitor, host)).toThrow(/no command/);
  });
});

describe('compileExecPlan', () => {
  it('joins the given namespaces (mount last) and runs the process', () => {
    const steps = compileExecPlan(
      { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/tmp', env: ['PATH=/bin'] },
      monitor,
      [{ type: 'mount', path: '/proc/5/ns/mnt' }, { type: 'pid', path: '/proc/5/ns/pid' }],
      { cgroupProcs: [], hardLimits: undefined },
    );
    expect(find(steps, 'setns').map((x) => x.args[0])).toEqual(['pid', 'mnt']);
    expect(find(steps, 'clone')[0]!.args).toEqual(['0']);
    expect(ops(steps)).not.toContain('pivot-root');
    expect(find(steps, 'chdir')[0]!.args).toEqual(['/tmp']);
  });
});

describe('encodePlan', () => {
  it('round-trips, including empty and binary-ish arguments', () => {
    const steps: PlanStep[] = [
      { op: 'lock-file', args: ['/a b,c:d'] },
      { op: 'mount', args: ['tmpfs', '/dev', 'tmpfs', '2', ''] },
      { op: 'env', args: [] },
    ];
    const buf = encodePlan(steps);
    expect(buf.toString().startsWith('12:tsrun-plan-1,9:lock-file,1:1,8:/a b,c:d,')).toBe(true);
    expect(decodePlan(buf)).toEqual(steps);
  });
  it('refuses NUL bytes', () => {
    expect(() => encodePlan([{ op: 'args', args: ['a\0b'] }])).toThrow(/NUL/);
  });
});
