// tsrun-oci as runc's callers drive it: the OCI lifecycle with exact state
// documents, exec, hooks, pid files, a console socket receiving the pty
// master (SCM_RIGHTS), preserved fds, pause/resume/ps/update, and errors.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Spec } from '../../src/oci/runtime.js';
import { ociHarness, OCI_BIN } from '../support/oci-harness.js';
import { waitFor as waitForCondition } from '../support/wait.js';

const CG_PARENT = 'tsrun-oci-test';
const h = ociHarness('oci', CG_PARENT);
const { oci, ok } = h;
/** Bundles carry an annotation, which state must report. */
const bundle = (args: string[], edit?: (s: Spec) => void) =>
  h.bundle(args, (s) => {
    s.annotations = { 'org.example.test': 'yes' };
    edit?.(s);
  });

function state(id: string): Record<string, unknown> {
  return JSON.parse(ok(['state', id])) as Record<string, unknown>;
}

const waitFor = (cond: () => boolean, what: string) => waitForCondition(cond, what, 5000, 20);

function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Running (not gone, not a zombie waiting for its reaper). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('tsrun-oci lifecycle', () => {
  it('create -> created (exact state), start -> running, kill -> stopped, delete -> gone', async () => {
    const { dir, id } = bundle(['sh', '-c', 'echo out-line; echo err-line >&2; exec sleep 30']);
    const pidFile = join(h.work, `${id}.pid`);
    const created = oci(['create', '--bundle', dir, '--pid-file', pidFile, id]);
    expect(created.code).toBe(0);
    const createdOut = h.lastOut;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(1);
    const s1 = state(id);
    expect(Object.keys(s1)).toEqual(['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner', 'annotations']);
    expect(s1).toEqual({
      ociVersion: '1.0.2',
      id,
      pid,
      status: 'created',
      bundle: dir,
      rootfs: h.rootfs,
      created: s1.created,
      owner: '',
      annotations: { 'org.example.test': 'yes' },
    });
    expect(Date.parse(String(s1.created))).toBeGreaterThan(Date.now() - 60_000);
    // The created process is in its cgroup but has not run the command yet.
    expect(created.out).toBe('');
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`/${CG_PARENT}/${id}`);

    ok(['start', id]);
    expect(state(id)).toMatchObject({ id, pid, status: 'running' });
    // The container wrote straight to the fds tsrun-oci was given at create.
    await waitFor(() => readFileSync(createdOut, 'utf8') === 'out-line\n', 'container output');

    ok(['kill', id, 'KILL']);
    await waitFor(() => state(id).status === 'stopped', 'stopped');
    expect(state(id)).toMatchObject({ pid: 0, status: 'stopped' });
    ok(['delete', id]);
    expect(existsSync(join(h.root, id))).toBe(false);
    const gone = oci(['state', id]);
    expect(gone.code).toBe(1);
    expect(gone.err).toBe(`tsrun-oci: container "${id}" does not exist\n`);
  });

  it('start twice fails, delete of a running container needs --force, kill takes signal names and numbers', async () => {
    const { dir, id } = bundle(['sh', '-c', 'trap "exit 0" USR1; while :; do sleep 0.05; done']);
    ok(['create', '--bundle', dir, id]);
    ok(['start', id]);
    const again = oci(['start', id]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/cannot start container .* it is running, not created/);
    const del = oci(['delete', id]);
    expect(del.code).toBe(1);
    expect(del.err).toMatch(/cannot delete running container/);
    ok(['kill', id, 'SIGUSR1']);
    await waitFor(() => state(id).status === 'stopped', 'exit on USR1');
    ok(['delete', id]);

    const b2 = bundle(['sleep', '30']);
    ok(['create', '--bundle', b2.dir, b2.id]);
    ok(['start', b2.id]);
    ok(['kill', b2.id, '9']);
    await waitFor(() => state(b2.id).status === 'stopped', 'exit on 9');
    ok(['delete', b2.id]);

    const b3 = bundle(['sleep', '30']);
    ok(['create', '--bundle', b3.dir, b3.id]);
    ok(['start', b3.id]);
    ok(['delete', '--force', b3.id]);
    expect(oci(['state', b3.id]).code).toBe(1);
    expect(oci(['delete', '--force', 'never-existed']).code).toBe(0);
  });

  it('run attached: stdio are inherited and the exit code is the container\'s; the container is removed', () => {
    const { dir, id } = bundle(['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
    const r = oci(['run', '--bundle', dir, id]);
    expect(r).toEqual({ code: 3, out: 'hello\n', err: 'oops\n' });
    expect(existsSync(join(h.root, id))).toBe(false);
  });

  it('the container process is a child of the caller\'s subreaper, not of a monitor', async () => {
    const { dir, id } = bundle(['sleep', '30']);
    const pidFile = join(h.work, `${id}.pid`);
    ok(['create', '--bundle', dir, '--pid-file', pidFile, id]);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // No subreaper here: the orphaned container belongs to init (pid 1) now.
    const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    expect(ppid).toBe(1);
    ok(['delete', '--force', id]);
    await waitFor(() => !alive(pid), 'container gone');
  });
});

describe('tsrun-oci exec', () => {
  it('runs a command line attached (exit code, env, cwd, user) and a process.json detached with a pid file', async () => {
    const { dir, id } = bundle(['sleep', '30']);
    ok(['create', '--bundle', dir, id]);
    ok(['start', id]);
    const r = oci(['exec', '--env', 'FOO=bar', '--cwd', '/tmp', '--user', '1000:1000', id, 'sh', '-c', 'echo "$FOO $(pwd) $(id -u):$(id -g)"; exit 5']);
    expect(r).toEqual({ code: 5, out: 'bar /tmp 1000:1000\n', err: '' });

    const procFile = join(h.work, `${id}-process.json`);
    const marker = `/tmp/detached-${id}`;
    writeFileSync(procFile, JSON.stringify({ user: { uid: 0, gid: 0 }, args: ['sh', '-c', `echo $$ > ${marker}; sleep 30`], cwd: '/', env: ['PATH=/bin'] }));
    const pidFile = join(h.work, `${id}-exec.pid`);
    ok(['exec', '--process', procFile, '--detach', '--pid-file', pidFile, id]);
    const execPid = Number(readFileSync(pidFile, 'utf8'));
    expect(processStartTime(execPid)).toBeDefined();
    await waitFor(() => existsSync(join(h.rootfs, marker)), 'exec marker');
    // The exec'd process is in the container's pid namespace (its own pid differs there).
    expect(Number(readFileSync(join(h.rootfs, marker), 'utf8'))).not.toBe(execPid);
    ok(['delete', '--force', id]);
    await waitFor(() => !alive(execPid), 'exec process gone with the container');
    rmSync(join(h.rootfs, marker), { force: true });
  });
});

describe('tsrun-oci hooks', () => {
  it('runs each hook at its point with the state JSON on stdin', async () => {
    const hookDir = join(h.work, 'hooks');
    execFileSync('mkdir', ['-p', hookDir]);
    const hook = join(hookDir, 'record.sh');
    writeFileSync(hook, `#!/bin/sh\ncat > "${hookDir}/$1.json"\n`, { mode: 0o755 });
    // startContainer runs in the container's namespaces: its path resolves in the rootfs.
    writeFileSync(join(h.rootfs, 'bin/in-container-hook'), '#!/bin/sh\n(cat; echo; hostname) > /tmp/$1.json\n', { mode: 0o755 });
    const hookAt = (name: string) => ({ path: hook, args: ['record.sh', name], timeout: 5 });
    const { dir, id } = bundle(['sleep', '30'], (s) => {
      s.hooks = {
        prestart: [hookAt('prestart')],
        createRuntime: [hookAt('createRuntime')],
        createContainer: [{ path: '/bin/in-container-hook', args: ['in-container-hook', 'createContainer'] }],
        startContainer: [{ path: '/bin/in-container-hook', args: ['in-container-hook', 'startContainer'] }],
        poststart: [hookAt('poststart')],
        poststop: [hookAt('poststop')],
      };
    });
    const read = (n: string) => JSON.parse(readFileSync(join(hookDir, `${n}.json`), 'utf8')) as Record<string, unknown>;
    ok(['create', '--bundle', dir, id]);
    const pid = state(id).pid;
    expect(read('prestart')).toEqual({ ociVersion: '1.0.2', id, status: 'creating', pid, bundle: dir, annotations: { 'org.example.test': 'yes' } });
    expect(read('createRuntime')).toMatchObject({ id, status: 'creating', pid });
    const created = readFileSync(join(h.rootfs, 'tmp/createContainer.json'), 'utf8').split('\n');
    expect(JSON.parse(created[0]!)).toMatchObject({ id, status: 'creating', pid });
    expect(created[1]).toBe('tsrun-test');
    expect(existsSync(join(h.rootfs, 'tmp/startContainer.json'))).toBe(false);
    expect(existsSync(join(hookDir, 'poststart.json'))).toBe(false);
    ok(['start', id]);
    const inside = readFileSync(join(h.rootfs, 'tmp/startContainer.json'), 'utf8').split('\n');
    expect(JSON.parse(inside[0]!)).toMatchObject({ id, status: 'created', pid });
    expect(inside[1]).toBe('tsrun-test'); // the container's UTS namespace
    expect(read('poststart')).toMatchObject({ id, status: 'running', pid });
    expect(existsSync(join(hookDir, 'poststop.json'))).toBe(false);
    ok(['delete', '--force', id]);
    expect(read('poststop')).toEqual({ ociVersion: '1.0.2', id, status: 'stopped', bundle: dir, annotations: { 'org.example.test': 'yes' } });
    rmSync(join(h.rootfs, 'tmp/startContainer.json'));
    rmSync(join(h.rootfs, 'tmp/createContainer.json'));
  });

  it('a failing or slow createRuntime hook fails create with its name and destroys the container', () => {
    const fail = bundle(['true'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo hook-broke >&2; exit 2'] }] };
    });
    const r = oci(['create', '--bundle', fail.dir, fail.id]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('tsrun-oci: createRuntime hook /bin/sh exited with status 2: hook-broke\n');
    expect(existsSync(join(h.root, fail.id))).toBe(false);
    const slow = bundle(['true'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }] };
    });
    const t0 = Date.now();
    const r2 = oci(['create', '--bundle', slow.dir, slow.id]);
    expect(r2.err).toBe('tsrun-oci: createRuntime hook /bin/sleep timed out after 1s\n');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(existsSync(join(h.root, slow.id))).toBe(false);
  });
});

describe('tsrun-oci terminal and fds', () => {
  it('sends the pty master to --console-socket (SCM_RIGHTS) and the container runs on that terminal', async () => {
    const sock = join(h.work, 'console.sock');
    const outFile = join(h.work, 'console.out');
    // A tiny receiver: accept one connection, take the fd, read the container's output from the master.
    const receiver = spawn('python3', ['-c', `
import socket, os, sys, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
msg, fds, flags, addr = socket.recv_fds(c, 1024, 1)
out = b""
while True:
    try:
        d = os.read(fds[0], 4096)
    except OSError:
        break
    if not d:
        break
    out += d
open(sys.argv[2], "wb").write(msg + b"|" + out)
`, sock, outFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => receiver.stdout!.once('data', () => res()));
    const { dir, id } = bundle(['sh', '-c', 'tty; stty size; echo on-the-tty'], (s) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 33, width: 101 };
    });
    ok(['create', '--bundle', dir, '--console-socket', sock, id]);
    ok(['start', id]);
    await new Promise<void>((res) => receiver.on('exit', () => res()));
    const got = readFileSync(outFile, 'utf8');
    expect(got).toBe('/dev/ptmx|/dev/pts/0\r\n33 101\r\non-the-tty\r\n');
    ok(['delete', '--force', id]);
  });

  it('a terminal container without --console-socket is refused clearly', () => {
    const { dir, id } = bundle(['true'], (s) => {
      s.process!.terminal = true;
    });
    const r = oci(['create', '--bundle', dir, id]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/needs --console-socket/);
  });

  it('--preserve-fds hands our fds 3.. to the container as 3..', async () => {
    const extra = join(h.work, 'fd3.txt');
    const fd = openSync(extra, 'w');
    const { dir, id } = bundle(['sh', '-c', 'echo via-fd3 >&3; ls /proc/self/fd | sort -n | tr "\\n" " "']);
    try {
      const r = oci(['run', '--preserve-fds', '1', '--bundle', dir, id], [fd]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      // 0-2 stdio, 3 the preserved fd, and ls's own directory fd.
      expect(r.out.trim().split(' ').slice(0, 4)).toEqual(['0', '1', '2', '3']);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(extra, 'utf8')).toBe('via-fd3\n');
  });
});

describe('tsrun-oci cgroup verbs', () => {
  it('pause/resume freeze the container; ps lists its pids; update changes limits', async () => {
    const { dir, id } = bundle(['sh', '-c', 'sleep 30 & sleep 30']);
    const pidFile = join(h.work, `${id}.pid`);
    ok(['create', '--bundle', dir, '--pid-file', pidFile, id]);
    ok(['start', id]);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => (JSON.parse(ok(['ps', '--format', 'json', id])) as number[]).length === 2, 'two processes');
    const pids = JSON.parse(ok(['ps', '--format', 'json', id])) as number[];
    expect(pids).toContain(pid);
    expect(ok(['ps', id]).split('\n')[0]).toMatch(/PID/);
    ok(['pause', id]);
    expect(state(id).status).toBe('paused');
    expect(readFileSync(`/sys/fs/cgroup/freezer/${CG_PARENT}/${id}/freezer.state`, 'utf8').trim()).toBe('FROZEN');
    expect(oci(['exec', id, 'true']).err).toMatch(/it is paused/);
    ok(['resume', id]);
    expect(state(id).status).toBe('running');
    expect(readFileSync(`/sys/fs/cgroup/freezer/${CG_PARENT}/${id}/freezer.state`, 'utf8').trim()).toBe('THAWED');
    ok(['update', '--pids-limit', '42', '--memory', '64m', id]);
    expect(readFileSync(`/sys/fs/cgroup/pids/${CG_PARENT}/${id}/pids.max`, 'utf8').trim()).toBe('42');
    expect(readFileSync(`/sys/fs/cgroup/memory/${CG_PARENT}/${id}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    const resFile = join(h.work, `${id}-res.json`);
    writeFileSync(resFile, JSON.stringify({ pids: { limit: 77 } }));
    ok(['update', '-r', resFile, id]);
    expect(readFileSync(`/sys/fs/cgroup/pids/${CG_PARENT}/${id}/pids.max`, 'utf8').trim()).toBe('77');
    ok(['kill', '--all', id, 'KILL']);
    await waitFor(() => state(id).status === 'stopped', 'stopped');
    ok(['delete', id]);
    expect(existsSync(`/sys/fs/cgroup/pids/${CG_PARENT}/${id}`)).toBe(false);
  });
});

describe('tsrun-oci documents and errors', () => {
  it('features prints the runtime-spec features document', () => {
    const f = JSON.parse(ok(['features'])) as Record<string, any>;
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toMatch(/^1\.2\./);
    expect(f.hooks).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    expect(f.mountOptions).toContain('rbind');
    expect(f.linux.namespaces).toContain('user');
    expect(f.linux.capabilities).toContain('CAP_SYS_ADMIN');
    expect(f.linux.seccomp.enabled).toBe(true);
    expect(f.linux.seccomp.operators).toContain('SCMP_CMP_MASKED_EQ');
    expect(f.linux.cgroup.systemd).toBe(false);
    expect(f.linux.apparmor.enabled).toBe(false);
    expect(f.linux.selinux.enabled).toBe(false);
  });

  it('spec writes a runnable config.json once; --rootless is refused', () => {
    const dir = join(h.work, 'spec-bundle');
    execFileSync('mkdir', ['-p', dir]);
    ok(['spec', '--bundle', dir]);
    const s = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
    expect(s.ociVersion).toBe('1.0.2');
    expect(s.process!.args).toEqual(['sh']);
    expect(s.root!.path).toBe('rootfs');
    expect(oci(['spec', '--bundle', dir]).err).toMatch(/config.json exists/);
    const rl = oci(['spec', '--rootless', '--bundle', join(h.work, 'nope')]);
    expect(rl.code).toBe(1);
    expect(rl.err).toMatch(/--rootless is not supported/);
    // The starter spec runs (with our rootfs and without a terminal).
    s.root = { path: h.rootfs, readonly: true };
    s.process!.terminal = false;
    s.process!.args = ['sh', '-c', 'echo starter'];
    writeFileSync(join(dir, 'config.json'), JSON.stringify(s));
    expect(oci(['run', '--bundle', dir, `starter-${process.pid}`])).toEqual({ code: 0, out: 'starter\n', err: '' });
  });

  it('a missing bundle, a bad ociVersion and --systemd-cgroup fail with clear messages; --log gets runc-style JSON', () => {
    const log = join(h.work, 'log.json');
    const missing = oci(['--log', log, '--log-format', 'json', 'create', '--bundle', join(h.work, 'no-such-bundle'), 'x1']);
    expect(missing.code).toBe(1);
    expect(missing.err.startsWith(`tsrun-oci: no such bundle config: ${join(h.work, 'no-such-bundle', 'config.json')}`)).toBe(true);
    const line = JSON.parse(readFileSync(log, 'utf8').trim()) as Record<string, string>;
    expect(Object.keys(line)).toEqual(['level', 'msg', 'time']);
    expect(line.level).toBe('error');
    expect(line.msg).toBe(missing.err.slice('tsrun-oci: '.length, -1));
    expect(Date.parse(line.time!)).toBeGreaterThan(0);

    const { dir, id } = bundle(['true'], (s) => {
      s.ociVersion = '2.0.0';
    });
    const bad = oci(['create', '--bundle', dir, id]);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe(`tsrun-oci: unsupported ociVersion "2.0.0" in ${join(dir, 'config.json')}: tsrun-oci supports runtime-spec 1.0.0 to 1.2.x\n`);
    expect(existsSync(join(h.root, id))).toBe(false);
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.0.2-dev']) {
      const b = bundle(['true'], (s) => {
        s.ociVersion = v;
      });
      expect([v, oci(['run', '--bundle', b.dir, b.id]).code]).toEqual([v, 0]);
    }
    const badFormat = oci(['list', '--format', 'yaml']);
    expect(badFormat.code).toBe(1);
    expect(badFormat.err).toBe('tsrun-oci: invalid format option "yaml": use table or json\n');
    expect(badFormat.out).toBe('');
    const sd = oci(['--systemd-cgroup', 'state', 'x']);
    expect(sd.code).toBe(1);
    expect(sd.err).toMatch(/--systemd-cgroup is not supported yet/);
    const text = join(h.work, 'log.txt');
    oci(['--log', text, 'state', 'nothing-here']);
    expect(readFileSync(text, 'utf8')).toMatch(/^time="[^"]+" level=error msg="container \\"nothing-here\\" does not exist"\n$/);
  });
});

describe('tsrun-oci config.json conformance', () => {
  /** Runs sh -c script in a fresh container from an edited bundle; returns stdout, stderr and the exit code. */
  const check = (script: string, edit: (s: Spec) => void) => {
    const { dir, id } = bundle(['sh', '-c', script], edit);
    return oci(['run', '--bundle', dir, id]);
  };

  it('hostname, domainname, env, cwd, user and additionalGids, umask', () => {
    const r = check('hostname; cat /proc/sys/kernel/domainname; echo "$GREETING"; pwd; id -u; id -g; id -G; umask', (s) => {
      s.hostname = 'conform-host';
      s.domainname = 'example.org';
      s.process!.env!.push('GREETING=hi there');
      s.process!.cwd = '/tmp';
      s.process!.user = { uid: 1000, gid: 1000, additionalGids: [5, 65534], umask: 0o027 };
    });
    expect(r).toEqual({ code: 0, out: 'conform-host\nexample.org\nhi there\n/tmp\n1000\n1000\n1000 5 65534\n0027\n', err: '' });
  });

  it('rlimits, oomScoreAdj, sysctl, noNewPrivileges and capabilities', () => {
    const r = check('ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward; grep -E "^(NoNewPrivs|CapBnd|CapEff)" /proc/self/status', (s) => {
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }];
      s.process!.oomScoreAdj = 123;
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
      s.process!.noNewPrivileges = true;
      s.process!.capabilities = { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] };
    });
    expect(r.err).toBe('');
    // CAP_CHOWN = bit 0, CAP_KILL = bit 5
    expect(r.out).toBe('321\n654\n123\n1\nCapEff:\t0000000000000020\nCapBnd:\t0000000000000021\nNoNewPrivs:\t1\n');
  });

  it('maskedPaths, readonlyPaths, h.root.readonly and mounts with options and propagation', () => {
    const src = join(h.work, 'bind-src');
    execFileSync('mkdir', ['-p', src]);
    writeFileSync(join(src, 'file'), 'from-host\n');
    const r = check(
      'wc -c < /proc/timer_list; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo ro-sys; touch /x 2>/dev/null || echo ro-root; ' +
        'cat /data/file; touch /data/new 2>/dev/null || echo ro-bind; grep " /data " /proc/self/mountinfo | grep -o "shared:[0-9]*\\|master:[0-9]*" | head -1; touch /scratch/ok && echo tmpfs-rw',
      (s) => {
        s.root!.readonly = true;
        s.mounts!.push({ destination: '/data', type: 'bind', source: src, options: ['rbind', 'ro', 'rslave'] });
        s.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m'] });
      },
    );
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^0\n0\nro-sys\nro-root\nfrom-host\nro-bind\n(master:\d+\n)?tmpfs-rw\n$/);
  });

  it('devices are created with their mode and the device cgroup enforces linux.resources.devices', () => {
    const r = check('ls -l /dev/mykmsg | cut -c1-10; head -c 1 /dev/mykmsg >/dev/null 2>&1 && echo readable || echo denied; echo x > /dev/null && echo null-ok', (s) => {
      s.linux!.devices = [{ path: '/dev/mykmsg', type: 'c', major: 1, minor: 11, fileMode: 0o640, uid: 0, gid: 0 }];
      s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
    });
    expect(r.out).toBe('crw-r-----\ndenied\nnull-ok\n');
  });

  it('uid/gid mappings put the container in its own user namespace', () => {
    const r = check('id -u; cat /proc/self/uid_map /proc/self/gid_map | tr -s " "', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    expect(r.err).toBe('');
    expect(r.out).toBe('0\n 0 100000 65536\n 0 100000 65536\n');
  });

  it('namespaces given by path are joined', async () => {
    const a = bundle(['sleep', '30']);
    const pidFile = join(h.work, `${a.id}.pid`);
    ok(['create', '--bundle', a.dir, '--pid-file', pidFile, a.id]);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const r = check('readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
        n.type === 'network' || n.type === 'uts' ? { type: n.type, path: `/proc/${pid}/ns/${n.type === 'network' ? 'net' : 'uts'}` } : n,
      );
      delete s.hostname;
    });
    const { readlinkSync } = await import('node:fs');
    expect(r.out).toBe(`${readlinkSync(`/proc/${pid}/ns/net`)}\n${readlinkSync(`/proc/${pid}/ns/uts`)}\ntsrun-test\n`);
    ok(['delete', '--force', a.id]);
  });

  it('linux.resources reach the cgroup and seccomp from the spec is loaded', () => {
    const r = check('cat /proc/self/cgroup | grep -c tsrun-oci-test; mkdir /tmp/m 2>&1 || true; grep Seccomp: /proc/self/status', (s) => {
      s.linux!.resources = { pids: { limit: 50 }, memory: { limit: 32 * 1024 * 1024 } };
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
      s.process!.args = ['sh', '-c', `cat /sys/fs/cgroup/../../proc/self/cgroup >/dev/null; ${'mkdir /tmp/m 2>&1 || true; grep Seccomp: /proc/self/status; cat /proc/self/cgroup | grep pids'}`];
    });
    expect(r.out).toMatch(/Operation not permitted/);
    expect(r.out).toMatch(/Seccomp:\t2/);
    expect(r.out).toMatch(new RegExp(`pids:/${CG_PARENT}/oci`));
  });

  it('a {type: "cgroup"} namespace as runc makes it: rooted at the container\'s cgroup, /sys/fs/cgroup mounted afresh, read-only', async () => {
    const { readlinkSync } = await import('node:fs');
    const script =
      'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max; ls /sys/fs/cgroup; ' +
      '(echo 9 > /sys/fs/cgroup/pids/pids.max) 2>/dev/null || echo limit-ro; touch /sys/fs/cgroup/x 2>/dev/null || echo tmpfs-ro';
    const edit = (s: Spec) => {
      s.linux!.namespaces!.push({ type: 'cgroup' });
      s.linux!.resources = { pids: { limit: 33 } };
    };
    const ours = check(script, edit);
    expect(ours.err).toBe('');
    const [ns, ...rest] = ours.out.trim().split('\n');
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/cgroup'));
    // The same bundle under runc gives the same view (the namespace inode aside), except
    // where runc 1.1.5 does less than Docker's read-only /sys/fs/cgroup: it leaves out a
    // hybrid host's cgroup2 ("unified") and its tmpfs stays writable.
    const theirs = bundle(['sh', '-c', script], edit);
    const runc = spawnSync('/usr/sbin/runc', ['--root', join(h.work, 'runc-state'), 'run', '--bundle', theirs.dir, theirs.id], { encoding: 'utf8', timeout: 30_000 });
    expect(runc.stderr).toBe('');
    const runcLines = runc.stdout.trim().split('\n').slice(1);
    expect(rest.filter((l) => l !== 'unified' && l !== 'tmpfs-ro')).toEqual(runcLines.filter((l) => l !== 'unified' && l !== 'tmpfs-ro'));
    expect(rest).toContain('0::/');
    expect(rest).toContain('33');
    expect(rest.slice(-2)).toEqual(['limit-ro', 'tmpfs-ro']);
  });
});
