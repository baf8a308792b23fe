import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpecError, UsageError } from '../../../src/errors.js';
import type { ImageConfig } from '../../../src/oci/image.js';
import type { Mount } from '../../../src/oci/runtime.js';
import {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH,
  DEFAULT_READONLY_PATHS,
  defaultDeviceRules,
  defaultDevices,
} from '../../../src/spec/defaults.js';
import {
  applyEnv,
  buildExecProcess,
  buildSpec,
  composeArgs,
  effectiveStopSignal,
  INIT_PATH_IN_CONTAINER,
  parseRunFlags,
  RLIMIT_UNLIMITED,
  type RunOptions,
  type SpecHost,
} from '../../../src/spec/index.js';

let tmp: string;
let rootfs: string;
let warnings: string[];

const host: SpecHost = {
  processLimits: () => ({ nofile: { soft: 20000, hard: 20000 }, core: { soft: 0, hard: Infinity } }),
  boundingCapabilities: () => ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE'),
  statDevice: (path) => {
    if (path === '/dev/fuse') return { type: 'c', major: 10, minor: 229, mode: 0o666, uid: 0, gid: 0 };
    if (path === '/dev/sda') return { type: 'b', major: 8, minor: 0, mode: 0o660, uid: 0, gid: 6 };
    throw new SpecError(`cannot add device ${path}: no such device`);
  },
  hostDevices: () => [{ path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 }],
  cpuCount: () => 2,
  warn: (msg) => warnings.push(msg),
};

function image(config: ImageConfig['config'] = {}): ImageConfig {
  return { architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } };
}

const sh = image({ Cmd: ['/bin/sh'] });

function build(opts: RunOptions, img: ImageConfig = sh) {
  return buildSpec(img, opts, rootfs, host);
}

function dests(mounts: Mount[] | undefined): string[] {
  return (mounts ?? []).map((m) => m.destination);
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsrun-spec-build-'));
  rootfs = join(tmp, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\naudio:x:29:app\nstaff:x:50:\n');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeEach(() => {
  warnings = [];
});

describe('buildSpec with no options (Docker defaults)', () => {
  it('produces the default container', () => {
    const spec = build({});
    expect(spec.ociVersion).toMatch(/^1\.0\./);
    expect(spec.root).toEqual({ path: rootfs, readonly: false });
    expect(spec.hostname).toBeUndefined();
    expect(spec.process).toEqual({
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/bin/sh'],
      env: [`PATH=${DEFAULT_PATH}`, 'HOME=/root'],
      cwd: '/',
      capabilities: { bounding: [...DEFAULT_CAPABILITIES], effective: [...DEFAULT_CAPABILITIES], permitted: [...DEFAULT_CAPABILITIES] },
      noNewPrivileges: false,
    });
    expect(dests(spec.mounts)).toEqual(['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
    expect(spec.mounts!.find((m) => m.destination === '/sys')!.options).toContain('ro');
    expect(spec.mounts!.find((m) => m.destination === '/sys/fs/cgroup')!.options).toContain('ro');
    expect(spec.mounts!.find((m) => m.destination === '/dev/shm')!.options).toContain(`size=${64 * 1024 * 1024}`);
    // The cgroup namespace is private by default (as Docker's on cgroup v2), on every host.
    expect(spec.linux!.namespaces).toEqual([{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }, { type: 'cgroup' }]);
    expect(spec.linux!.devices).toEqual(defaultDevices());
    expect(spec.linux!.resources).toEqual({ devices: defaultDeviceRules() });
    expect(spec.linux!.maskedPaths).toEqual([...DEFAULT_MASKED_PATHS]);
    expect(spec.linux!.readonlyPaths).toEqual([...DEFAULT_READONLY_PATHS]);
    expect(spec.linux!.cgroupsPath).toBeUndefined();
    expect(spec.linux!.sysctl).toBeUndefined();
    expect(spec.annotations).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('is deterministic and survives a JSON round trip unchanged', () => {
    const opts = parseRunFlags(
      { env: ['A=1'], volume: ['/h:/data:ro'], memory: '512m', cpus: '1.5', ulimit: ['nofile=1024'], tty: true, hostname: 'box' },
      { hostEnv: {} },
    );
    const a = build(opts);
    const b = build(opts);
    expect(b).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it('the default masked and readonly paths and default capabilities are Docker\'s', () => {
    expect(DEFAULT_CAPABILITIES).toEqual([
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
      'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
    ]);
    expect(DEFAULT_MASKED_PATHS).toContain('/proc/kcore');
    expect(DEFAULT_MASKED_PATHS).toContain('/sys/devices/virtual/powercap');
    expect(DEFAULT_READONLY_PATHS).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });
});

describe('process args (Docker rules)', () => {
  const img = image({ Entrypoint: ['/entry.sh'], Cmd: ['serve', '--port', '80'] });
  it.each<[string, RunOptions, string[]]>([
    ['image entrypoint + cmd', {}, ['/entry.sh', 'serve', '--port', '80']],
    ['user args replace Cmd', { command: ['debug'] }, ['/entry.sh', 'debug']],
    ['--entrypoint clears Cmd', { entrypoint: ['/bin/sh'] }, ['/bin/sh']],
    ['--entrypoint with args', { entrypoint: ['/bin/sh'], command: ['-c', 'echo hi'] }, ['/bin/sh', '-c', 'echo hi']],
    ["--entrypoint '' resets it and keeps the image Cmd", { entrypoint: [] }, ['serve', '--port', '80']],
    ["--entrypoint '' with args", { entrypoint: [], command: ['ls'] }, ['ls']],
  ])('%s', (_name, opts, args) => {
    expect(composeArgs(img, opts)).toEqual(args);
    expect(buildSpec(img, opts, rootfs, host).process!.args).toEqual(args);
  });

  it('null Entrypoint/Cmd in the image are empty', () => {
    expect(composeArgs(image({ Entrypoint: null, Cmd: ['x'] }), {})).toEqual(['x']);
  });

  it('an empty command is "no command specified"', () => {
    expect(() => build({}, image({}))).toThrow(UsageError);
    expect(() => build({}, image({}))).toThrow('no command specified');
    expect(() => build({ entrypoint: [] }, image({ Entrypoint: ['/e'] }))).toThrow('no command specified');
    expect(() => build({}, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })).toThrow('no command specified');
  });

  it('--init runs the mounted init as PID 1', () => {
    const spec = build({ init: true, initPath: '/usr/bin/tini' });
    expect(spec.process!.args).toEqual([INIT_PATH_IN_CONTAINER, '--', '/bin/sh']);
    expect(spec.mounts!.find((m) => m.destination === INIT_PATH_IN_CONTAINER)).toEqual({
      destination: INIT_PATH_IN_CONTAINER,
      type: 'bind',
      source: '/usr/bin/tini',
      options: ['rbind', 'rprivate', 'ro'],
    });
    expect(() => build({ init: true })).toThrow('--init needs an init binary');
  });
});

describe('env', () => {
  it('image Env, then -e (later wins), PATH default, HOSTNAME, TERM with a tty, HOME from passwd', () => {
    const img = image({ Cmd: ['x'], Env: ['A=image', 'B=image', 'KEEP=1'] });
    const spec = build({ env: ['A=flag', 'C=new', 'A=last', 'B'], hostname: 'web', tty: true, user: 'app' }, img);
    expect(spec.process!.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=web', 'TERM=xterm', 'A=last', 'KEEP=1', 'C=new', 'HOME=/home/app']);
  });
  it('the image PATH replaces the default; -e HOME and -e TERM win', () => {
    const img = image({ Cmd: ['x'], Env: ['PATH=/opt/bin'] });
    const spec = build({ env: ['HOME=/custom', 'TERM=vt100'], tty: true }, img);
    expect(spec.process!.env).toEqual(['PATH=/opt/bin', 'TERM=vt100', 'HOME=/custom']);
  });
  it('applyEnv replaces in place, appends and removes', () => {
    expect(applyEnv(['A=1', 'B=2'], ['B=3', 'C=4', 'A'])).toEqual(['B=3', 'C=4']);
    expect(applyEnv(['AB=1'], ['A=2'])).toEqual(['AB=1', 'A=2']);
  });
});

describe('cwd, user, hostname, read-only', () => {
  it('cwd: -w, else image WorkingDir, else /', () => {
    expect(build({ workdir: '/srv' }, image({ Cmd: ['x'], WorkingDir: '/app' })).process!.cwd).toBe('/srv');
    expect(build({}, image({ Cmd: ['x'], WorkingDir: '/app' })).process!.cwd).toBe('/app');
    expect(build({}, image({ Cmd: ['x'], WorkingDir: '' })).process!.cwd).toBe('/');
  });
  it('user from -u, else the image User, with groups and --group-add', () => {
    expect(build({ user: 'app', groupAdd: ['staff'] }).process!.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [29, 50] });
    expect(build({}, image({ Cmd: ['x'], User: 'nobody' })).process!.user).toEqual({ uid: 65534, gid: 65534 });
    expect(build({ user: '123:456' }, image({ Cmd: ['x'], User: 'nobody' })).process!.user).toEqual({ uid: 123, gid: 456 });
    expect(() => build({}, image({ Cmd: ['x'], User: 'tsuser' }))).toThrow('unable to find user tsuser: no matching entries in passwd file');
  });
  it('hostname only with a UTS namespace of our own', () => {
    expect(build({ hostname: 'box' }).hostname).toBe('box');
    const hostUts = build({ hostname: 'hostbox', uts: { mode: 'host' } });
    expect(hostUts.hostname).toBeUndefined();
    expect(hostUts.linux!.namespaces!.map((n) => n.type)).not.toContain('uts');
    expect(hostUts.process!.env).toContain('HOSTNAME=hostbox');
  });
  it('--read-only makes the root and the /etc files read-only', () => {
    const spec = build({ readOnly: true, etcFiles: { hosts: '/c/hosts' } });
    expect(spec.root!.readonly).toBe(true);
    expect(spec.mounts!.find((m) => m.destination === '/etc/hosts')!.options).toEqual(['rbind', 'rprivate', 'ro']);
  });
});

describe('namespaces', () => {
  const types = (opts: RunOptions) => build(opts).linux!.namespaces!;
  it('host modes share the caller namespace', () => {
    expect(types({ network: { mode: 'host' }, pid: { mode: 'host' }, ipc: { mode: 'host' }, cgroupns: 'host' })).toEqual([{ type: 'mount' }, { type: 'uts' }]);
  });
  it('none and bridge get a new network namespace, or the one the engine prepared', () => {
    expect(types({ network: { mode: 'none' } })).toContainEqual({ type: 'network' });
    expect(types({ network: { mode: 'bridge', network: 'bridge' }, namespacePaths: { network: '/run/netns/c1' } })).toContainEqual({
      type: 'network',
      path: '/run/netns/c1',
    });
  });
  it('container:X joins the path the engine resolved, and fails clearly without one', () => {
    const ns = types({
      network: { mode: 'container', container: 'web' },
      pid: { mode: 'container', container: 'web' },
      ipc: { mode: 'container', container: 'web' },
      namespacePaths: { network: '/proc/42/ns/net', pid: '/proc/42/ns/pid', ipc: '/proc/42/ns/ipc' },
    });
    expect(ns).toEqual([
      { type: 'mount' },
      { type: 'network', path: '/proc/42/ns/net' },
      { type: 'uts' },
      { type: 'pid', path: '/proc/42/ns/pid' },
      { type: 'ipc', path: '/proc/42/ns/ipc' },
      { type: 'cgroup' },
    ]);
    expect(() => build({ network: { mode: 'container', container: 'web' } })).toThrow('--network container:web');
  });
  it('ns:PATH joins that path; --cgroupns private adds a cgroup namespace', () => {
    expect(types({ uts: { mode: 'path', path: '/run/uts/x' } })).toContainEqual({ type: 'uts', path: '/run/uts/x' });
    expect(types({ cgroupns: 'private' })).toContainEqual({ type: 'cgroup' });
    expect(types({ cgroupns: 'host' }).map((n) => n.type)).not.toContain('cgroup');
  });
  it('a cgroup namespace of its own without --cgroupns; the cgroup mount stays one read-only "cgroup" entry either way', () => {
    expect(types({})).toContainEqual({ type: 'cgroup' });
    // The runtime expands it for the host's hierarchies (runc does the same with this entry).
    for (const cgroupns of [undefined, 'host', 'private'] as const) {
      expect(build({ cgroupns }).mounts!.filter((m) => m.destination.startsWith('/sys/fs/cgroup'))).toEqual([
        { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      ]);
    }
  });
});

describe('mounts', () => {
  it('user mounts follow the defaults, parents before children, and replace defaults at the same destination', () => {
    const opts = parseRunFlags({ volume: ['/h/sub:/data/sub', '/h:/data:ro'], tmpfs: ['/dev/shm:size=1m', '/run'] }, { hostEnv: {} });
    const spec = build({ ...opts, etcFiles: { resolvConf: '/c/resolv.conf', hostname: '/c/hostname', hosts: '/c/hosts' } });
    expect(dests(spec.mounts)).toEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/sys',
      '/sys/fs/cgroup',
      '/dev/mqueue',
      // depth 1, then depth 2; equal depths keep -v, --tmpfs, /etc files order
      '/data',
      '/run',
      '/data/sub',
      '/dev/shm',
      '/etc/resolv.conf',
      '/etc/hostname',
      '/etc/hosts',
    ]);
    expect(spec.mounts!.find((m) => m.destination === '/dev/shm')).toEqual({
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'noexec', 'size=1m'],
    });
    expect(spec.mounts!.find((m) => m.destination === '/data')).toEqual({ destination: '/data', type: 'bind', source: '/h', options: ['rbind', 'rprivate', 'ro'] });
    expect(spec.mounts!.find((m) => m.destination === '/etc/hosts')).toEqual({
      destination: '/etc/hosts',
      type: 'bind',
      source: '/c/hosts',
      options: ['rbind', 'rprivate'],
    });
  });
  it('a user mount of an /etc file wins over the engine\'s', () => {
    const opts = parseRunFlags({ volume: ['/mine/hosts:/etc/hosts:ro'] }, { hostEnv: {} });
    const spec = build({ ...opts, etcFiles: { hosts: '/c/hosts' } });
    const hosts = spec.mounts!.filter((m) => m.destination === '/etc/hosts');
    expect(hosts).toEqual([{ destination: '/etc/hosts', type: 'bind', source: '/mine/hosts', options: ['rbind', 'rprivate', 'ro'] }]);
  });
  it('--shm-size; --ipc none has no /dev/shm; --ipc host binds the host /dev/shm; a joined IPC uses shmSource', () => {
    expect(build({ shmSize: 1024 * 1024 }).mounts!.find((m) => m.destination === '/dev/shm')!.options).toContain('size=1048576');
    expect(dests(build({ ipc: { mode: 'none' } }).mounts)).not.toContain('/dev/shm');
    expect(build({ ipc: { mode: 'host' } }).mounts!.find((m) => m.destination === '/dev/shm')).toEqual({
      destination: '/dev/shm',
      type: 'bind',
      source: '/dev/shm',
      options: ['rbind', 'rprivate'],
    });
    const joined = build({ ipc: { mode: 'container', container: 'db' }, namespacePaths: { ipc: '/proc/9/ns/ipc' }, shmSource: '/var/c/db/shm' });
    expect(joined.mounts!.filter((m) => m.destination === '/dev/shm')).toEqual([
      { destination: '/dev/shm', type: 'bind', source: '/var/c/db/shm', options: ['rbind', 'rprivate'] },
    ]);
  });
});

describe('privileged and security', () => {
  it('--privileged: every capability the caller holds, no masked paths, rw /sys, all devices', () => {
    const spec = build({ privileged: true });
    const caps = spec.process!.capabilities!.bounding!;
    expect(caps).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(caps).not.toContain('CAP_SYS_RESOURCE');
    expect(spec.linux!.maskedPaths).toBeUndefined();
    expect(spec.linux!.readonlyPaths).toBeUndefined();
    expect(spec.mounts!.find((m) => m.destination === '/sys')!.options).not.toContain('ro');
    expect(spec.linux!.resources!.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(spec.linux!.devices!.map((d) => d.path)).toContain('/dev/sda');
  });
  it('cap-add/cap-drop and no-new-privileges', () => {
    const opts = parseRunFlags({ capAdd: ['net_admin'], capDrop: ['chown'], securityOpt: ['no-new-privileges'] }, { hostEnv: {} });
    const p = build(opts).process!;
    expect(p.capabilities!.effective).toContain('CAP_NET_ADMIN');
    expect(p.capabilities!.effective).not.toContain('CAP_CHOWN');
    expect(p.capabilities!.inheritable).toBeUndefined();
    expect(p.noNewPrivileges).toBe(true);
  });
  it('systempaths=unconfined drops masked and readonly paths', () => {
    const spec = build(parseRunFlags({ securityOpt: ['systempaths=unconfined'] }, { hostEnv: {} }));
    expect(spec.linux!.maskedPaths).toBeUndefined();
  });
});

describe('devices', () => {
  it('--device adds the node at its container path and an allow rule', () => {
    const spec = build(parseRunFlags({ device: ['/dev/fuse', '/dev/sda:/dev/xvda:r'] }, { hostEnv: {} }));
    expect(spec.linux!.devices).toContainEqual({ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 });
    expect(spec.linux!.devices).toContainEqual({ path: '/dev/xvda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 });
    const rules = spec.linux!.resources!.devices!;
    expect(rules[0]).toEqual({ allow: false, access: 'rwm' });
    expect(rules).toContainEqual({ allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' });
    expect(rules).toContainEqual({ allow: true, type: 'b', major: 8, minor: 0, access: 'r' });
  });
  it('an unusable device fails naming it', () => {
    expect(() => build(parseRunFlags({ device: ['/dev/nothing'] }, { hostEnv: {} }))).toThrow('cannot add device /dev/nothing');
  });
});

describe('resources', () => {
  const res = (raw: Record<string, unknown>) => build(parseRunFlags(raw, { hostEnv: {} })).linux!.resources!;
  it('memory: limit, swap twice the limit by default, explicit swap, unlimited swap, reservation, oom', () => {
    expect(res({ memory: '512m' }).memory).toEqual({ limit: 512 * 1024 ** 2, swap: 1024 ** 3 });
    expect(res({ memory: '512m', memorySwap: '768m' }).memory).toEqual({ limit: 512 * 1024 ** 2, swap: 768 * 1024 ** 2 });
    expect(res({ memory: '512m', memorySwap: '-1' }).memory).toEqual({ limit: 512 * 1024 ** 2, swap: -1 });
    expect(res({ memory: '1g', memoryReservation: '256m', oomKillDisable: true }).memory).toEqual({
      limit: 1024 ** 3,
      swap: 2 * 1024 ** 3,
      reservation: 256 * 1024 ** 2,
      disableOOMKiller: true,
    });
  });
  it('cpu: --cpus as quota over a 100000 period, shares, cpusets, explicit quota/period', () => {
    expect(res({ cpus: '1.5' }).cpu).toEqual({ period: 100000, quota: 150000 });
    expect(res({ cpus: '0.01' }).cpu).toEqual({ period: 100000, quota: 1000 });
    expect(res({ cpuShares: '512', cpusetCpus: '0-1', cpusetMems: '0' }).cpu).toEqual({ shares: 512, cpus: '0-1', mems: '0' });
    expect(res({ cpuQuota: '20000', cpuPeriod: '50000' }).cpu).toEqual({ quota: 20000, period: 50000 });
    expect(() => res({ cpus: '3' })).toThrow('the range of CPUs is from 0.01 to 2.00');
    expect(() => res({ cpus: '0.001' })).toThrow('range of CPUs');
  });
  it('pids: -1 is unlimited ("max"), positive values pass through', () => {
    expect(res({ pidsLimit: '-1' }).pids).toEqual({ limit: -1 });
    expect(res({ pidsLimit: '100' }).pids).toEqual({ limit: 100 });
    expect(res({}).pids).toBeUndefined();
  });
  it('blkio weight and device rates', () => {
    expect(res({ blkioWeight: '300', deviceReadBps: ['/dev/sda:1mb'], deviceWriteBps: ['/dev/sda:2mb'] }).blockIO).toEqual({
      weight: 300,
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 ** 2 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2 * 1024 ** 2 }],
    });
    expect(() => res({ deviceReadBps: ['/dev/fuse:1mb'] })).toThrow('/dev/fuse: not a block device');
  });
});

describe('rlimits, sysctls, annotations, cgroupsPath', () => {
  it('ulimits become rlimits, clamped to the caller hard limit with a warning', () => {
    const spec = build(parseRunFlags({ ulimit: ['nofile=65536:65536', 'core=-1'] }, { hostEnv: {} }));
    expect(spec.process!.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
      { type: 'RLIMIT_CORE', soft: RLIMIT_UNLIMITED, hard: RLIMIT_UNLIMITED },
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('nofile');
  });
  it('no rlimits by default', () => {
    expect(build({}).process!.rlimits).toBeUndefined();
  });
  it('sysctls, annotations and cgroupsPath are copied', () => {
    const opts = parseRunFlags({ sysctl: ['net.ipv4.ip_forward=1'], annotation: ['a=b'] }, { hostEnv: {} });
    const spec = build({ ...opts, cgroupsPath: '/tsrun/abc' });
    expect(spec.linux!.sysctl).toEqual({ 'net.ipv4.ip_forward': '1' });
    expect(spec.annotations).toEqual({ a: 'b' });
    expect(spec.linux!.cgroupsPath).toBe('/tsrun/abc');
  });
});

describe('buildExecProcess', () => {
  const containerSpec = () => build({ user: 'app', env: ['FOO=1'], workdir: '/srv', ulimits: [{ name: 'nofile', soft: 10, hard: 10 }] });

  it('inherits env, cwd, user, capabilities and rlimits', () => {
    const spec = containerSpec();
    const p = buildExecProcess(spec, { command: ['ls', '-l'] }, rootfs, host);
    expect(p).toEqual({
      terminal: false,
      user: spec.process!.user,
      args: ['ls', '-l'],
      env: spec.process!.env,
      cwd: '/srv',
      noNewPrivileges: false,
      capabilities: spec.process!.capabilities,
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 10 }],
    });
    expect(p.env).not.toBe(spec.process!.env);
  });
  it('-e, -w, -u (HOME follows the user), -t (TERM)', () => {
    const p = buildExecProcess(containerSpec(), { command: ['sh'], env: ['FOO=2', 'BAR=3'], workdir: '/tmp', user: 'root', tty: true }, rootfs, host);
    expect(p.user).toEqual({ uid: 0, gid: 0 });
    expect(p.cwd).toBe('/tmp');
    expect(p.terminal).toBe(true);
    expect(p.env).toContain('FOO=2');
    expect(p.env).toContain('BAR=3');
    expect(p.env).toContain('HOME=/root');
    expect(p.env).not.toContain('HOME=/home/app');
    expect(p.env).toContain('TERM=xterm');
    const home = buildExecProcess(containerSpec(), { command: ['sh'], user: 'root', env: ['HOME=/x'] }, rootfs, host);
    expect(home.env).toContain('HOME=/x');
  });
  it('--privileged gives all capabilities the caller holds; errors are clear', () => {
    const p = buildExecProcess(containerSpec(), { command: ['sh'], privileged: true }, rootfs, host);
    expect(p.capabilities!.bounding).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(() => buildExecProcess(containerSpec(), { command: [] }, rootfs, host)).toThrow('no command specified');
    expect(() => buildExecProcess(containerSpec(), { command: ['sh'], user: 'ghost' }, rootfs, host)).toThrow('unable to find user ghost');
    expect(() => buildExecProcess({ ociVersion: '1.0.2' }, { command: ['sh'] }, rootfs, host)).toThrow('no process');
  });
});

describe('effectiveStopSignal', () => {
  it('flag, then image StopSignal, then SIGTERM', () => {
    expect(effectiveStopSignal(image({ StopSignal: 'SIGQUIT' }), { stopSignal: 'SIGINT' })).toBe('SIGINT');
    expect(effectiveStopSignal(image({ StopSignal: 'quit' }), {})).toBe('SIGQUIT');
    expect(effectiveStopSignal(image({ StopSignal: '9' }), {})).toBe('SIGKILL');
    expect(effectiveStopSignal(image({ StopSignal: 'BOGUS' }), {})).toBe('SIGTERM');
    expect(effectiveStopSignal(image({}), {})).toBe('SIGTERM');
  });
});
