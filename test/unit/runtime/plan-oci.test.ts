// Plan decisions added for the OCI CLI: monitor modes, cgroup binds, default
// device rules, ociVersion checks, sysctl order.
import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.js';
import type { Spec } from '../../../src/oci/runtime.js';
import { checkOciVersion } from '../../../src/runtime/launcher.js';
import { compilePlan, MS, withDefaultDeviceRules, type MonitorConfig, type PlanHost, type PlanStep } from '../../../src/runtime/plan.js';
import { defaultSpec } from '../../support/rootfs.js';

const monitor: MonitorConfig = {
  lockFile: '/run/x/lock', exitFile: '/run/x/exit.json', pidFile: '/run/x/pid', startedFile: '/run/x/started',
  detach: false, stdin: false, terminal: false,
};
const host: PlanHost = { cgroupProcs: [], rootfs: '/b/rootfs', bundle: '/b', isDirectory: () => true };
const find = (steps: PlanStep[], op: string) => steps.filter((s) => s.op === op);
const spec = (): Spec => defaultSpec('/b/rootfs', ['true']);

describe('plan for the OCI CLI', () => {
  it('emits inherit-stdio, preserve-fds and no-monitor config steps only when asked', () => {
    const plain = compilePlan(spec(), monitor, host).map((s) => s.op);
    expect(plain).not.toContain('inherit-stdio');
    expect(plain).not.toContain('no-monitor');
    const steps = compilePlan(spec(), { ...monitor, inheritStdio: true, preserveFds: 2, noMonitor: true }, host);
    expect(find(steps, 'inherit-stdio')).toEqual([{ op: 'inherit-stdio', args: [] }]);
    expect(find(steps, 'preserve-fds')).toEqual([{ op: 'preserve-fds', args: ['2'] }]);
    expect(find(steps, 'no-monitor')).toEqual([{ op: 'no-monitor', args: [] }]);
    // config steps come before the clone
    expect(steps.findIndex((s) => s.op === 'no-monitor')).toBeLessThan(steps.findIndex((s) => s.op === 'clone'));
  });

  it('emits die-with-monitor only when asked, and never without a monitor', () => {
    expect(compilePlan(spec(), monitor, host).map((s) => s.op)).not.toContain('die-with-monitor');
    const steps = compilePlan(spec(), { ...monitor, dieWithMonitor: true }, host);
    expect(find(steps, 'die-with-monitor')).toEqual([{ op: 'die-with-monitor', args: [] }]);
    expect(steps.findIndex((s) => s.op === 'die-with-monitor')).toBeLessThan(steps.findIndex((s) => s.op === 'clone'));
    expect(compilePlan(spec(), { ...monitor, dieWithMonitor: true, noMonitor: true }, host).map((s) => s.op)).not.toContain('die-with-monitor');
  });

  it('binds the given cgroup2 directory for cgroup mounts (read-only kept), else mounts cgroup2', () => {
    const fresh = compilePlan(spec(), monitor, host);
    expect(find(fresh, 'mount').find((m) => m.args[1] === '/sys/fs/cgroup')!.args).toEqual([
      'cgroup', '/sys/fs/cgroup', 'cgroup2', (MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY).toString(16), '',
    ]);
    const bound = compilePlan(spec(), monitor, { ...host, cgroupMountSource: '/sys/fs/cgroup/unified/tsrun/c1' });
    expect(find(bound, 'mount').find((m) => m.args[1] === '/sys/fs/cgroup')!.args).toEqual([
      '/sys/fs/cgroup/unified/tsrun/c1', '/sys/fs/cgroup', '', MS.BIND.toString(16), '',
    ]);
    expect(find(bound, 'remount').find((m) => m.args[0] === '/sys/fs/cgroup')!.args).toEqual([
      '/sys/fs/cgroup', (MS.BIND | MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY).toString(16),
    ]);
  });

  it('writes sysctls before making /proc/sys read-only', () => {
    const s = spec();
    s.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 0' };
    const ops = compilePlan(s, monitor, host).map((x) => x.op);
    expect(ops.indexOf('sysctl')).toBeLessThan(ops.indexOf('readonly'));
    expect(ops.indexOf('sysctl')).toBeLessThan(ops.indexOf('mask'));
  });

  it('keeps the default devices usable after a deny-all device rule, after the spec\'s own rules', () => {
    expect(withDefaultDeviceRules({ pids: { limit: 5 } })).toEqual({ pids: { limit: 5 } });
    const r = withDefaultDeviceRules({ devices: [{ allow: false, access: 'rwm' }] });
    expect(r.devices![0]).toEqual({ allow: false, access: 'rwm' });
    const allowed = r.devices!.slice(1).map((d) => `${d.type} ${d.major}:${d.minor ?? '*'} ${d.access}`);
    expect(allowed).toEqual(['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm']);
    const withNodes = withDefaultDeviceRules({ devices: [{ allow: false, access: 'rwm' }] }, [{ path: '/dev/k', type: 'c', major: 1, minor: 11 }]);
    expect(withNodes.devices!.at(-1)).toEqual({ allow: true, type: 'c', major: 1, minor: 11, access: 'm' });
  });

  it('accepts ociVersion 1.0.x to 1.2.x and names anything else', () => {
    for (const v of ['1.0.0', '1.0.2', '1.0.2-dev', '1.1.0', '1.2.0', '1.2.1']) expect(() => checkOciVersion(v)).not.toThrow();
    for (const v of ['0.9.0', '1.3.0', '2.0.0', '1.0', '', undefined, 1]) {
      expect(() => checkOciVersion(v, 'b/config.json')).toThrow(LaunchError);
    }
    expect(() => checkOciVersion('1.3.0', 'b/config.json')).toThrow('unsupported ociVersion "1.3.0" in b/config.json: tsrun-oci supports runtime-spec 1.0.0 to 1.2.x');
    expect(() => checkOciVersion(undefined)).toThrow('unsupported ociVersion null');
  });
});
