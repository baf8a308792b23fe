import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  normalizeCapability,
  parseAddHost,
  parseDevice,
  parseEnvFile,
  parseEnvFlag,
  parseExecFlags,
  parseIpcMode,
  parseNetworkMode,
  parsePidMode,
  parsePublish,
  parseResources,
  parseRestart,
  parseRunFlags,
  parseSecurityOpts,
  parseUlimit,
  parseUtsMode,
} from '../../../src/spec/options.js';
import { ALL_CAPABILITIES } from '../../../src/spec/defaults.js';

const hostEnv = { HOST_ONLY: 'from-host', EMPTY: '' };

describe('-e / --env', () => {
  it('keeps VAR=value as is, including "=" in the value and empty values', () => {
    expect(parseEnvFlag('A=b=c', hostEnv)).toBe('A=b=c');
    expect(parseEnvFlag('A=', hostEnv)).toBe('A=');
  });
  it('copies the host value for a bare VAR when set (even empty)', () => {
    expect(parseEnvFlag('HOST_ONLY', hostEnv)).toBe('HOST_ONLY=from-host');
    expect(parseEnvFlag('EMPTY', hostEnv)).toBe('EMPTY=');
  });
  it('keeps a bare VAR unset on the host as a bare name (it removes the image value later)', () => {
    expect(parseEnvFlag('NOPE', hostEnv)).toBe('NOPE');
  });
  it('rejects an empty name', () => {
    expect(() => parseEnvFlag('=x', hostEnv)).toThrow('invalid environment variable: "=x"');
    expect(() => parseEnvFlag('', hostEnv)).toThrow(UsageError);
  });
});

describe('--env-file', () => {
  it('reads VAR=v and VAR lines; only a leading # is a comment; blank lines are ignored', () => {
    const text = [
      '# a comment',
      '   # an indented comment',
      '',
      '   ',
      'A=1',
      'B=two words  ',
      'C="quoted"',
      'D=x#not-a-comment',
      '  E=leading spaces trimmed',
      'HOST_ONLY',
      'MISSING_ON_HOST',
      'F=',
    ].join('\n');
    expect(parseEnvFile(text, 'env.list', hostEnv)).toEqual([
      'A=1',
      'B=two words  ',
      'C="quoted"',
      'D=x#not-a-comment',
      'E=leading spaces trimmed',
      'HOST_ONLY=from-host',
      'F=',
    ]);
  });
  it('handles CRLF and a BOM', () => {
    expect(parseEnvFile('\uFEFFA=1\r\nB=2\r\n', 'f', {})).toEqual(['A=1', 'B=2']);
  });
  it('rejects names with whitespace and empty names, naming file and line', () => {
    expect(() => parseEnvFile('OK=1\nBAD NAME=1', 'my.env', {})).toThrow('my.env line 2: variable "BAD NAME" contains whitespace');
    expect(() => parseEnvFile('=value', 'my.env', {})).toThrow('my.env line 1: no variable name');
  });
});

describe('capabilities', () => {
  it('normalises with or without CAP_, any case, and ALL', () => {
    expect(normalizeCapability('net_admin', ALL_CAPABILITIES)).toBe('CAP_NET_ADMIN');
    expect(normalizeCapability('CAP_SYS_ADMIN', ALL_CAPABILITIES)).toBe('CAP_SYS_ADMIN');
    expect(normalizeCapability('all', ALL_CAPABILITIES)).toBe('ALL');
  });
  it('rejects unknown names', () => {
    expect(() => normalizeCapability('FLY', ALL_CAPABILITIES)).toThrow('unknown capability: "FLY"');
  });
  it('a capability both added and dropped is added', () => {
    const o = parseRunFlags({ capAdd: ['NET_ADMIN'], capDrop: ['net_admin', 'CHOWN'] }, { hostEnv: {} });
    expect(o.capAdd).toEqual(['CAP_NET_ADMIN']);
    expect(o.capDrop).toEqual(['CAP_CHOWN']);
  });
});

describe('--security-opt', () => {
  it('no-new-privileges in all its spellings', () => {
    expect(parseSecurityOpts(['no-new-privileges']).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(['no-new-privileges:true']).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(['no-new-privileges=true']).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(['no-new-privileges:false']).noNewPrivileges).toBe(false);
    expect(() => parseSecurityOpts(['no-new-privileges:maybe'])).toThrow('maybe');
  });
  it('seccomp=unconfined and systempaths=unconfined; profiles from files refused clearly', () => {
    expect(parseSecurityOpts(['seccomp=unconfined']).seccomp).toBe('unconfined');
    expect(parseSecurityOpts(['systempaths=unconfined']).unmaskSystemPaths).toBe(true);
    expect(() => parseSecurityOpts(['seccomp=/tmp/profile.json'])).toThrow('seccomp profiles from files are not supported yet');
    expect(() => parseSecurityOpts(['bogus'])).toThrow('invalid --security-opt "bogus"');
    expect(parseSecurityOpts(['label=disable', 'apparmor=unconfined'])).toEqual({});
    expect(() => parseSecurityOpts(['apparmor=docker-default'])).toThrow('not supported');
  });
});

describe('--ulimit', () => {
  it('name=soft[:hard]', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ name: 'nofile', soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=100')).toEqual({ name: 'nproc', soft: 100, hard: 100 });
    expect(parseUlimit('core=-1')).toEqual({ name: 'core', soft: -1, hard: -1 });
    expect(parseUlimit('core=0:-1')).toEqual({ name: 'core', soft: 0, hard: -1 });
  });
  it('rejects bad forms, unknown names and soft > hard', () => {
    expect(() => parseUlimit('nofile')).toThrow('invalid ulimit argument "nofile"');
    expect(() => parseUlimit('files=1')).toThrow('invalid ulimit type "files"');
    expect(() => parseUlimit('nofile=2048:1024')).toThrow('soft limit 2048 is greater than hard limit 1024');
    expect(() => parseUlimit('nofile=-1:1024')).toThrow('greater than hard limit');
    expect(() => parseUlimit('nofile=-2')).toThrow(UsageError);
  });
  it('a later --ulimit of the same name wins', () => {
    const o = parseRunFlags({ ulimit: ['nofile=10', 'nproc=5', 'nofile=20:30'] }, { hostEnv: {} });
    expect(o.ulimits).toEqual([
      { name: 'nofile', soft: 20, hard: 30 },
      { name: 'nproc', soft: 5, hard: 5 },
    ]);
  });
});

describe('--sysctl', () => {
  it('accepts namespaced sysctls', () => {
    const o = parseRunFlags({ sysctl: ['net.ipv4.ip_forward=1', 'kernel.shmmax=100', 'fs.mqueue.msg_max=20', 'kernel.domainname=x'] }, { hostEnv: {} });
    expect(o.sysctls).toEqual({ 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '100', 'fs.mqueue.msg_max': '20', 'kernel.domainname': 'x' });
  });
  it('refuses non-namespaced ones and ones in shared namespaces', () => {
    expect(() => parseRunFlags({ sysctl: ['vm.swappiness=1'] })).toThrow('sysctl "vm.swappiness" is not allowed');
    expect(() => parseRunFlags({ sysctl: ['net.ipv4.ip_forward=1'], network: 'host' })).toThrow('network namespace is shared (--network host)');
    expect(() => parseRunFlags({ sysctl: ['kernel.shmmax=1'], ipc: 'host' })).toThrow('IPC namespace is shared');
    expect(() => parseRunFlags({ sysctl: ['kernel.hostname=x'] })).toThrow('use --hostname');
    expect(() => parseRunFlags({ sysctl: ['net.x'] })).toThrow('expected key=value');
  });
});

describe('--add-host, --hostname, --dns', () => {
  it('name:ip, name=ip, IPv6 and host-gateway', () => {
    expect(parseAddHost('db:10.0.0.2')).toBe('db:10.0.0.2');
    expect(parseAddHost('db=10.0.0.2')).toBe('db:10.0.0.2');
    expect(parseAddHost('v6:::1')).toBe('v6:::1');
    expect(parseAddHost('v6:[fe80::1]')).toBe('v6:fe80::1');
    expect(parseAddHost('gw:host-gateway')).toBe('gw:host-gateway');
  });
  it('rejects bad ones naming them', () => {
    expect(() => parseAddHost('db')).toThrow('invalid --add-host "db"');
    expect(() => parseAddHost('db:notanip')).toThrow('"notanip" is not an IP address');
    expect(() => parseAddHost(':1.2.3.4')).toThrow('bad host name');
  });
  it('validates hostnames', () => {
    expect(parseRunFlags({ hostname: 'web-1.example' }).hostname).toBe('web-1.example');
    expect(() => parseRunFlags({ hostname: 'bad_name' })).toThrow('invalid hostname format: "bad_name"');
    expect(() => parseRunFlags({ hostname: 'a'.repeat(65) })).toThrow('invalid hostname format');
  });
  it('validates --dns addresses', () => {
    expect(parseRunFlags({ dns: ['1.1.1.1'] }).dns).toEqual(['1.1.1.1']);
    expect(() => parseRunFlags({ dns: ['dns.example'] })).toThrow('invalid --dns "dns.example"');
  });
});

describe('--device', () => {
  it('host[:container][:perms]', () => {
    expect(parseDevice('/dev/fuse')).toEqual({ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rwm' });
    expect(parseDevice('/dev/sda:/dev/xvda')).toEqual({ hostPath: '/dev/sda', containerPath: '/dev/xvda', permissions: 'rwm' });
    expect(parseDevice('/dev/sda:r')).toEqual({ hostPath: '/dev/sda', containerPath: '/dev/sda', permissions: 'r' });
    expect(parseDevice('/dev/sda:/dev/xvda:rw')).toEqual({ hostPath: '/dev/sda', containerPath: '/dev/xvda', permissions: 'rw' });
  });
  it('rejects bad ones', () => {
    expect(() => parseDevice('/dev/sda:/dev/xvda:rwx')).toThrow('bad permissions "rwx"');
    expect(() => parseDevice('/dev/sda:/dev/xvda:rr')).toThrow('bad permissions');
    expect(() => parseDevice('sda')).toThrow('host path "sda" must be absolute');
    expect(() => parseDevice('/dev/sda:xvda')).toThrow('container path "xvda" must be absolute');
    expect(() => parseDevice('/a:/b:r:x')).toThrow('invalid --device');
  });
});

describe('--publish', () => {
  it('all the forms', () => {
    expect(parsePublish('80')).toEqual([{ hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('8080:80')).toEqual([{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
    expect(parsePublish('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('[::1]:8080:80')).toEqual([{ hostIp: '::1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('8000-8001:80-81')).toEqual([
      { hostIp: '', hostPort: 8000, containerPort: 80, protocol: 'tcp' },
      { hostIp: '', hostPort: 8001, containerPort: 81, protocol: 'tcp' },
    ]);
    expect(parsePublish('8000-8010:80')).toEqual([{ hostIp: '', hostPort: 8000, hostPortEnd: 8010, containerPort: 80, protocol: 'tcp' }]);
  });
  it('rejects bad ones', () => {
    expect(() => parsePublish('80/icmp')).toThrow('unknown protocol "icmp"');
    expect(() => parsePublish('70000')).toThrow('1-65535');
    expect(() => parsePublish('nope:80:80')).toThrow('"nope" is not an IP address');
    expect(() => parsePublish('8000-8002:80-81')).toThrow('ranges differ');
    expect(() => parsePublish('a:b:c:d')).toThrow('invalid --publish');
  });
});

describe('--restart', () => {
  it('policies', () => {
    expect(parseRestart('no')).toEqual({ name: 'no' });
    expect(parseRestart('always')).toEqual({ name: 'always' });
    expect(parseRestart('unless-stopped')).toEqual({ name: 'unless-stopped' });
    expect(parseRestart('on-failure')).toEqual({ name: 'on-failure' });
    expect(parseRestart('on-failure:3')).toEqual({ name: 'on-failure', maxRetries: 3 });
    expect(() => parseRestart('always:3')).toThrow('only goes with on-failure');
    expect(() => parseRestart('sometimes')).toThrow('invalid restart policy "sometimes"');
  });
  it('--rm conflicts with a restart policy', () => {
    expect(() => parseRunFlags({ rm: true, restart: 'always' })).toThrow('conflicting options: --restart and --rm');
    expect(parseRunFlags({ rm: true, restart: 'no' }).autoRemove).toBe(true);
  });
});

describe('namespace modes', () => {
  it('--network', () => {
    expect(parseNetworkMode(undefined)).toEqual({ mode: 'bridge', network: 'bridge' });
    expect(parseNetworkMode('default')).toEqual({ mode: 'bridge', network: 'bridge' });
    expect(parseNetworkMode('none')).toEqual({ mode: 'none' });
    expect(parseNetworkMode('host')).toEqual({ mode: 'host' });
    expect(parseNetworkMode('container:web')).toEqual({ mode: 'container', container: 'web' });
    expect(parseNetworkMode('ns:/run/netns/x')).toEqual({ mode: 'path', path: '/run/netns/x' });
    expect(parseNetworkMode('mynet')).toEqual({ mode: 'bridge', network: 'mynet' });
    expect(() => parseNetworkMode('container:')).toThrow('missing container name');
    expect(() => parseNetworkMode('ns:relative')).toThrow('must be absolute');
    expect(() => parseNetworkMode('bad name')).toThrow('invalid --network "bad name"');
  });
  it('--ipc, --pid, --uts', () => {
    expect(parseIpcMode('')).toEqual({ mode: 'private' });
    expect(parseIpcMode('shareable')).toEqual({ mode: 'shareable' });
    expect(parseIpcMode('none')).toEqual({ mode: 'none' });
    expect(parseIpcMode('container:db')).toEqual({ mode: 'container', container: 'db' });
    expect(() => parseIpcMode('weird')).toThrow('invalid --ipc "weird"');
    expect(parsePidMode('host')).toEqual({ mode: 'host' });
    expect(parsePidMode('container:db')).toEqual({ mode: 'container', container: 'db' });
    expect(() => parsePidMode('none')).toThrow('invalid --pid "none"');
    expect(parseUtsMode('host')).toEqual({ mode: 'host' });
    expect(() => parseUtsMode('container:x')).toThrow('invalid --uts');
  });
  it('conflicts with --network container:X', () => {
    const net = { network: 'container:web' };
    expect(() => parseRunFlags({ ...net, hostname: 'x' })).toThrow('conflicting options: --hostname and --network container');
    expect(() => parseRunFlags({ ...net, addHost: ['a:1.2.3.4'] })).toThrow('--add-host and --network container');
    expect(() => parseRunFlags({ ...net, dns: ['1.1.1.1'] })).toThrow('--dns/--dns-search');
    expect(() => parseRunFlags({ ...net, publish: ['80'] })).toThrow('--publish and --network container');
    expect(() => parseRunFlags({ uts: 'host', hostname: 'x' })).toThrow('--hostname and --uts=host');
  });
  it('--net is an alias; published ports are dropped with a warning under host networking', () => {
    const o = parseRunFlags({ net: 'host', publish: ['80:80'] });
    expect(o.network).toEqual({ mode: 'host' });
    expect(o.publish).toEqual([]);
    expect(o.warnings).toEqual(['published ports are discarded when using --network host']);
  });
});

describe('resources', () => {
  it('memory sizes with the 6MB minimum', () => {
    expect(parseResources({ memory: '512m' }).memory).toBe(512 * 1024 ** 2);
    expect(parseResources({ memory: '6m' }).memory).toBe(6 * 1024 ** 2);
    expect(() => parseResources({ memory: '5m' })).toThrow('"5m" for --memory: the minimum memory limit is 6MB');
    expect(() => parseResources({ memory: 'lots' })).toThrow('"lots" for --memory');
    expect(parseResources({ memory: '0' }).memory).toBeUndefined();
  });
  it('swap and reservation rules', () => {
    expect(parseResources({ memory: '512m', memorySwap: '1g' }).memorySwap).toBe(1024 ** 3);
    expect(parseResources({ memory: '512m', memorySwap: '-1' }).memorySwap).toBe(-1);
    expect(parseResources({ memorySwap: '-1' }).memorySwap).toBe(-1);
    expect(() => parseResources({ memorySwap: '1g' })).toThrow('--memory-swap needs --memory');
    expect(() => parseResources({ memory: '1g', memorySwap: '512m' })).toThrow('--memory-swap 512m is smaller than --memory 1g');
    expect(parseResources({ memory: '1g', memoryReservation: '512m' }).memoryReservation).toBe(512 * 1024 ** 2);
    expect(() => parseResources({ memory: '512m', memoryReservation: '1g' })).toThrow('--memory-reservation 1g is larger than --memory 512m');
    expect(() => parseResources({ memoryReservation: '1m' })).toThrow('minimum memory reservation is 6MB');
  });
  it('cpus, shares, quota, period, cpusets', () => {
    expect(parseResources({ cpus: '1.5' }).nanoCpus).toBe(1_500_000_000);
    expect(parseResources({ cpuShares: '512' }).cpuShares).toBe(512);
    expect(parseResources({ cpuShares: 1 }).cpuShares).toBe(2);
    expect(parseResources({ cpuShares: '0' }).cpuShares).toBeUndefined();
    expect(parseResources({ cpuQuota: '50000', cpuPeriod: '100000' })).toMatchObject({ cpuQuota: 50000, cpuPeriod: 100000 });
    expect(() => parseResources({ cpus: '1', cpuQuota: '50000' })).toThrow('--cpus and --cpu-period/--cpu-quota');
    expect(() => parseResources({ cpuPeriod: '500' })).toThrow('between 1000 and 1000000');
    expect(() => parseResources({ cpuQuota: '500' })).toThrow('at least 1000');
    expect(parseResources({ cpusetCpus: '0-1', cpusetMems: '0' })).toMatchObject({ cpusetCpus: '0-1', cpusetMems: '0' });
    expect(() => parseResources({ cpusetCpus: 'x' })).toThrow('--cpuset-cpus');
  });
  it('pids, blkio, swappiness, device rates', () => {
    expect(parseResources({ pidsLimit: '-1' }).pidsLimit).toBe(-1);
    expect(parseResources({ pidsLimit: '100' }).pidsLimit).toBe(100);
    expect(() => parseResources({ pidsLimit: '-2' })).toThrow('--pids-limit');
    expect(parseResources({ blkioWeight: '500' }).blkioWeight).toBe(500);
    expect(() => parseResources({ blkioWeight: '5' })).toThrow('between 10 and 1000');
    expect(parseResources({ memorySwappiness: '10' }).memorySwappiness).toBe(10);
    expect(() => parseResources({ memorySwappiness: '101' })).toThrow('--memory-swappiness');
    expect(parseResources({ deviceReadBps: ['/dev/sda:1mb'] }).deviceReadBps).toEqual([{ path: '/dev/sda', rate: 1024 ** 2 }]);
    expect(() => parseResources({ deviceWriteBps: ['sda:1mb'] })).toThrow('must be absolute');
  });
  it('warns about --kernel-memory and --oom-kill-disable without --memory', () => {
    const warnings: string[] = [];
    expect(parseResources({ kernelMemory: '1g', oomKillDisable: true }, warnings).oomKillDisable).toBe(true);
    expect(warnings).toHaveLength(2);
  });
});

describe('parseRunFlags', () => {
  it('gives Docker defaults for an empty option object', () => {
    const o = parseRunFlags({}, { hostEnv: {} });
    expect(o).toMatchObject({
      command: [],
      env: [],
      groupAdd: [],
      tty: false,
      privileged: false,
      readOnly: false,
      init: false,
      capAdd: [],
      capDrop: [],
      noNewPrivileges: false,
      ulimits: [],
      sysctls: {},
      network: { mode: 'bridge', network: 'bridge' },
      ipc: { mode: 'private' },
      uts: { mode: 'private' },
      pid: { mode: 'private' },
      mounts: [],
      devices: [],
      restart: { name: 'no' },
      resources: {},
    });
    expect(o.entrypoint).toBeUndefined();
    expect(o.user).toBeUndefined();
    expect(o.workdir).toBeUndefined();
  });

  it('reads env files before -e, so -e wins later', () => {
    const files: Record<string, string> = { '/e1': 'A=file\nB=file\n', '/e2': 'C=file2' };
    const o = parseRunFlags(
      { envFile: ['/e1', '/e2'], env: ['A=flag', 'HOST_ONLY'] },
      { hostEnv, readFile: (p) => files[p] ?? '' },
    );
    expect(o.env).toEqual(['A=file', 'B=file', 'C=file2', 'A=flag', 'HOST_ONLY=from-host']);
  });
  it('names an unreadable env file', () => {
    expect(() => parseRunFlags({ envFile: '/does/not/exist' })).toThrow('cannot read --env-file /does/not/exist');
  });

  it('--entrypoint: unset, reset with "", or one word never split', () => {
    expect(parseRunFlags({}).entrypoint).toBeUndefined();
    expect(parseRunFlags({ entrypoint: '' }).entrypoint).toEqual([]);
    expect(parseRunFlags({ entrypoint: '/bin/sh -c' }).entrypoint).toEqual(['/bin/sh -c']);
  });

  it('-w must be absolute and is normalised; -u is kept verbatim', () => {
    expect(parseRunFlags({ workdir: '/app/../srv/' }).workdir).toBe('/srv');
    expect(() => parseRunFlags({ workdir: 'app' })).toThrow('the working directory "app" is invalid: it needs to be an absolute path');
    expect(parseRunFlags({ user: 'app:staff' }).user).toBe('app:staff');
    expect(() => parseRunFlags({ user: 'a:b:c' })).toThrow('invalid --user "a:b:c"');
  });

  it('takes the last value of a single-valued flag given as a list, and a lone string for a repeatable one', () => {
    const o = parseRunFlags({ workdir: ['/a', '/b'], env: 'X=1', command: ['sh', '-c', 'true'] });
    expect(o.workdir).toBe('/b');
    expect(o.env).toEqual(['X=1']);
    expect(o.command).toEqual(['sh', '-c', 'true']);
  });

  it('collects mounts in order -v, --mount, --tmpfs and refuses duplicate destinations', () => {
    const o = parseRunFlags({ volume: ['/h:/a'], mount: ['type=bind,src=/h2,dst=/b'], tmpfs: ['/c'] });
    expect(o.mounts!.map((m) => m.target)).toEqual(['/a', '/b', '/c']);
    expect(() => parseRunFlags({ volume: ['/h:/a'], tmpfs: ['/a/'] })).toThrow('duplicate mount point: /a');
  });

  it('shm size, stop signal and timeout, labels, annotations, group-add, cgroupns', () => {
    const o = parseRunFlags({
      shmSize: '128m',
      stopSignal: 'INT',
      stopTimeout: '30',
      label: ['a=1', 'flag'],
      annotation: ['org.example/x=y'],
      groupAdd: ['audio', '44'],
      cgroupns: 'private',
      cgroupParent: '/custom',
    });
    expect(o).toMatchObject({
      shmSize: 128 * 1024 ** 2,
      stopSignal: 'SIGINT',
      stopTimeout: 30,
      labels: { a: '1', flag: '' },
      annotations: { 'org.example/x': 'y' },
      groupAdd: ['audio', '44'],
      cgroupns: 'private',
      cgroupParent: '/custom',
    });
    expect(() => parseRunFlags({ shmSize: '0' })).toThrow('--shm-size: must be greater than 0');
    expect(() => parseRunFlags({ annotation: ['novalue'] })).toThrow('"novalue" for --annotation: expected key=value');
    expect(() => parseRunFlags({ cgroupns: 'maybe' })).toThrow('invalid --cgroupns "maybe"');
    expect(() => parseRunFlags({ stopTimeout: 'soon' })).toThrow('"soon" for --stop-timeout');
  });

  it('rejects a non-string value for a repeatable flag', () => {
    expect(() => parseRunFlags({ env: { a: 1 } })).toThrow(UsageError);
  });
});

describe('parseExecFlags', () => {
  it('parses exec flags and requires a command', () => {
    const e = parseExecFlags({ command: ['ls'], env: ['A=1', 'HOST_ONLY'], workdir: '/tmp', user: 'nobody', tty: true }, { hostEnv });
    expect(e).toEqual({
      command: ['ls'],
      env: ['A=1', 'HOST_ONLY=from-host'],
      workdir: '/tmp',
      user: 'nobody',
      tty: true,
      interactive: false,
      privileged: false,
      detach: false,
    });
    expect(() => parseExecFlags({ command: [] })).toThrow('exec needs a command');
    expect(() => parseExecFlags({ command: ['ls'], workdir: 'tmp' })).toThrow('needs to be an absolute path');
  });
});

describe('--network-alias', () => {
  it('is kept for a user network and refused elsewhere, with a reason', () => {
    expect(parseRunFlags({ network: 'appnet', networkAlias: ['www', 'api'] }).networkAliases).toEqual(['www', 'api']);
    expect(() => parseRunFlags({ networkAlias: ['www'] })).toThrow(/user-defined networks/);
    expect(() => parseRunFlags({ network: 'host', networkAlias: ['www'] })).toThrow(/user-defined networks/);
    expect(() => parseRunFlags({ network: 'appnet', networkAlias: ['bad name'] })).toThrow(/invalid --network-alias "bad name"/);
  });
});
