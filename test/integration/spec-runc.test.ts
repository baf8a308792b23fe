// Specs from buildSpec (via parseRunFlags, as the CLI will call them) run
// under the real runc: the config.json we generate is accepted and means
// what Docker's flags mean, checked from inside the container.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageConfig } from '../../src/oci/image.js';
import { buildSpec, parseRunFlags, type RunOptions } from '../../src/spec/index.js';
import { makeBusyboxRootfs } from '../support/rootfs.js';

const RUNC = '/usr/sbin/runc';
let work: string;
let rootfs: string;
let seq = 0;
const warnings: string[] = [];

const image: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/bin', 'FROM_IMAGE=yes'], Cmd: ['sh'] },
  rootfs: { type: 'layers', diff_ids: [] },
};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsrun-spec-runc-'));
  rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  // runc removes each container's cgroup; remove the (now empty) parent we named.
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    try {
      rmdirSync(join('/sys/fs/cgroup', hierarchy, 'tsrun-spec-test'));
    } catch {
      // absent, or not a hierarchy
    }
  }
});

/** Build the spec from raw CLI options, run it with runc, return its output. */
function run(raw: Record<string, unknown>, extra: Partial<RunOptions> = {}): { code: number | null; stdout: string; stderr: string } {
  const id = `tsrun-spec-${process.pid}-${++seq}`;
  const opts = { ...parseRunFlags(raw, { hostEnv: {} }), cgroupsPath: `/tsrun-spec-test/${id}`, ...extra };
  const spec = buildSpec(image, opts, rootfs, { warn: (w) => warnings.push(w) });
  const bundle = join(work, id);
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  const r = spawnSync(RUNC, ['--root', join(work, 'runc-state'), 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
  spawnSync(RUNC, ['--root', join(work, 'runc-state'), 'delete', '--force', id]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sh(script: string, raw: Record<string, unknown> = {}, extra: Partial<RunOptions> = {}) {
  return run({ ...raw, command: ['sh', '-c', script] }, extra);
}

describe('buildSpec under runc', () => {
  it('defaults: root, HOME, env merge, hostname, Docker\'s 14 capabilities, masked and read-only /proc', () => {
    const r = sh(
      'id -u; id -g; echo "$HOME $FROM_IMAGE $HOSTNAME"; hostname; grep CapEff /proc/self/status; ' +
        'cat /proc/timer_list | wc -c; (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo sys-writable || echo sys-ro',
      { hostname: 'box' },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('0');
    expect(lines[1]).toBe('0');
    expect(lines[2]).toBe('/root yes box');
    expect(lines[3]).toBe('box');
    // /proc/timer_list is masked (reads empty); /proc/sys is read-only
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    expect(lines[4]).toMatch(/^CapEff:\s+00000000a80425fb$/);
    expect(lines[5]).toBe('0');
    expect(lines[6]).toBe('sys-ro');
  });

  it('-u, -w, -e and --group-add', () => {
    const r = sh('id -u; id -g; id -G; pwd; echo "$HOME $X"', { user: 'tsuser', workdir: '/tmp', env: ['X=1'], groupAdd: ['tty'] });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['1000', '1000', '1000 5', '/tmp', '/home/tsuser 1']);
  });

  it('--read-only with a --tmpfs', () => {
    const r = sh('touch /x 2>/dev/null && echo root-writable || echo root-ro; touch /run/x && echo tmpfs-ok', { readOnly: true, tmpfs: ['/run'] });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['root-ro', 'tmpfs-ok']);
  });

  it('-v host:ctr:ro binds a host directory read-only', () => {
    const host = join(work, 'shared');
    mkdirSync(host);
    writeFileSync(join(host, 'hello'), 'from host\n');
    const r = sh('cat /data/hello; touch /data/new 2>/dev/null && echo writable || echo ro', { volume: [`${host}:/data:ro`] });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('from host\nro\n');
  });

  it('--ulimit above the caller hard limit is clamped, not a launch failure', () => {
    const hardNofile = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
    warnings.length = 0;
    const r = sh('ulimit -n; ulimit -Hn', { ulimit: [`nofile=${hardNofile + 1000}`] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([String(hardNofile), String(hardNofile)]);
    expect(warnings.some((w) => w.includes('nofile'))).toBe(true);
  });

  it('--cap-drop ALL --cap-add CHOWN, and --privileged', () => {
    expect(sh('grep CapEff /proc/self/status', { capDrop: ['ALL'], capAdd: ['chown'] }).stdout).toMatch(/CapEff:\s+0000000000000001/);
    const priv = sh('grep CapBnd /proc/self/status; cat /proc/kcore >/dev/null 2>&1; ls /sys/firmware >/dev/null && echo unmasked', { privileged: true });
    expect(priv.code).toBe(0);
    const own = spawnSync('grep', ['CapBnd', '/proc/self/status'], { encoding: 'utf8' }).stdout.trim();
    expect(priv.stdout.split('\n')[0]).toBe(own);
  });

  it('--device maps a host device to a new path', () => {
    const r = sh('head -c 4 /dev/myzero | wc -c', { device: ['/dev/zero:/dev/myzero:rw'] });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('4');
  });

  it('--network none has only loopback', () => {
    const r = sh('ls /sys/class/net', { network: 'none' });
    expect(r.stdout.trim()).toBe('lo');
  });

  it('resource flags are accepted and applied (memory, pids, cpus)', () => {
    const r = sh(
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
      { memory: '64m', pidsLimit: '50', cpus: '0.5' },
    );
    expect(r.stderr).toBe('');
    // swap defaults to as much again as the memory limit: memsw = 2 x memory
    expect(r.stdout.trim().split('\n')).toEqual([String(64 * 1024 * 1024), String(128 * 1024 * 1024), '50', '50000']);
  });

  it('a cgroup namespace of its own by default (the cgroup shows as "/", its pids.max under /sys/fs/cgroup); --cgroupns host keeps the path', () => {
    const script = 'cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max';
    const own = sh(script, { pidsLimit: '21' });
    expect(own.stderr).toBe('');
    const ownLines = own.stdout.trim().split('\n');
    expect(ownLines.pop()).toBe('21');
    expect(ownLines).toContain('0::/');
    for (const line of ownLines) expect(line, own.stdout).toMatch(/^\d+:[^:]*:\/$/);
    const host = sh('cat /proc/self/cgroup', { cgroupns: 'host' });
    expect(host.stdout).toMatch(/:pids:\/tsrun-spec-test\/tsrun-spec-\d+-\d+\n/);
  });

  it('/etc files from the engine are bind-mounted', () => {
    const etc = join(work, 'etc-files');
    mkdirSync(etc);
    writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n10.1.2.3 db\n');
    writeFileSync(join(etc, 'hostname'), 'box\n');
    writeFileSync(join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    const r = sh('grep db /etc/hosts; cat /etc/hostname /etc/resolv.conf', {}, {
      etcFiles: { hosts: join(etc, 'hosts'), hostname: join(etc, 'hostname'), resolvConf: join(etc, 'resolv.conf') },
    });
    expect(r.stdout).toBe('10.1.2.3 db\nbox\nnameserver 127.0.0.1\n');
  });

  it('--init runs tini as PID 1 with the command as its child (needs Debian package tini)', () => {
    const r = sh('cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$', { init: true }, { initPath: '/usr/bin/tini-static' });
    expect(r.stderr).toBe('');
    const [pid1, self] = r.stdout.trim().split('\n');
    expect(pid1!.trim()).toBe('/sbin/docker-init -- sh -c cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$');
    expect(self).not.toBe('1');
  });

  it('an --entrypoint with user args', () => {
    const r = run({ entrypoint: '/bin/echo', command: ['hello', 'world'] });
    expect(r.stdout).toBe('hello world\n');
  });
});
