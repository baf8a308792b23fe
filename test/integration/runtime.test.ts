// The launcher against the real kernel, as root: lifecycle, isolation, errors,
// logs, exec; and the same bundles under runc for a differential check.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CannotInvokeError, CommandNotFoundError, StateError } from '../../src/errors.js';
import type { Spec } from '../../src/oci/runtime.js';
import { Launcher, OciBinaryLauncher, type ContainerLauncher, type ExitStatus } from '../../src/runtime/index.js';
import { makeBundle, makeBusyboxRootfs, type SpecOverrides } from '../support/rootfs.js';

const RUNC = '/usr/sbin/runc';
let work: string;
let rootfs: string;
let seq = 0;

beforeAll(() => {
  execFileSync('node', ['hack/build.mjs'], { stdio: 'inherit' });
  work = mkdtempSync(join(tmpdir(), 'tsrun-rt-'));
  chmodSync(work, 0o755); // a user-namespaced root (host uid 100000) must reach the rootfs
  rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  for (const h of ['pids', 'memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'devices', 'freezer', 'unified', 'systemd']) {
    try {
      rmdirSync(`/sys/fs/cgroup/${h}/tsrun-test`); // cgroupfs: rmdir, never recursive removal
    } catch {
      /* absent, or still in use by a container another test leaked: leave it */
    }
  }
});

function bundle(args: string[], overrides?: SpecOverrides): string {
  const dir = join(work, `bundle-${++seq}`);
  makeBundle(dir, rootfs, (spec: Spec) => {
    spec.process!.args = args;
    if (typeof overrides === 'function') overrides(spec);
    else if (overrides) {
      const { process: p, ...rest } = overrides;
      Object.assign(spec, rest);
      if (p) spec.process = { ...spec.process!, ...p };
    }
  });
  return dir;
}

/** Runs attached with stdout/stderr captured in files. */
async function runCaptured(
  l: ContainerLauncher,
  id: string,
  b: string,
): Promise<{ status: ExitStatus | undefined; stdout: string; stderr: string }> {
  const out = join(work, `${id}.out`);
  const err = join(work, `${id}.err`);
  const o = openSync(out, 'w');
  const e = openSync(err, 'w');
  try {
    const status = await l.run(id, b, { detach: false, stdio: ['ignore', o, e] });
    return { status, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
  } finally {
    closeSync(o);
    closeSync(e);
  }
}

function launcher(): Launcher {
  return new Launcher(join(work, 'state'));
}

describe('Launcher (C helper)', () => {
  const l = () => launcher();
  let n = 0;
  const id = () => `c${process.pid}-${++n}`;

  it('runs echo and returns its output and exit code', async () => {
    const cid = id();
    const r = await runCaptured(l(), cid, bundle(['echo', 'hello world']));
    expect(r.stdout).toBe('hello world\n');
    expect(r.status?.exitCode).toBe(0);
    expect(l().state(cid).status).toBe('stopped');
    await l().delete(cid);
    expect(existsSync(join(work, 'state', cid))).toBe(false);
  });

  it('returns exit code 3', async () => {
    const r = await runCaptured(l(), id(), bundle(['sh', '-c', 'echo err >&2; exit 3']));
    expect(r.status?.exitCode).toBe(3);
    expect(r.stderr).toBe('err\n');
  });

  it('reports death by SIGKILL as 137', async () => {
    // PID 1 cannot get SIGKILL from inside its namespace: kill it from outside.
    const cid = id();
    await l().run(cid, bundle(['sleep', '30']), { detach: true });
    await l().kill(cid, 9);
    const st = await l().wait(cid);
    expect(st.exitCode).toBe(137);
    expect(st.signal).toBe('SIGKILL');
    expect(l().exitStatus(cid)?.exitCode).toBe(137);
    await l().delete(cid);
  });

  it('maps a missing command to CommandNotFoundError and a non-executable one to CannotInvokeError', async () => {
    const cid = id();
    await expect(runCaptured(l(), cid, bundle(['no-such-command']))).rejects.toThrow(CommandNotFoundError);
    await expect(runCaptured(l(), cid, bundle(['no-such-command']))).rejects.toThrow(/no-such-command/);
    expect(existsSync(join(work, 'state', cid))).toBe(false);
    await expect(runCaptured(l(), id(), bundle(['/etc/passwd']))).rejects.toThrow(CannotInvokeError);
    await expect(runCaptured(l(), id(), bundle(['/etc']))).rejects.toThrow(CannotInvokeError);
  });

  it('isolates: PID 1, own hostname, no host processes, masked /proc/kcore, no CAP_SYS_ADMIN', async () => {
    const script = [
      'echo pid=$$',
      'echo host=$(hostname)',
      'echo procs=$(ls -d /proc/[0-9]* | wc -l)',
      `[ -e /proc/${process.pid} ] && echo host-pid-visible`,
      // This kernel has no /proc/kcore; the masking is checked on the masked paths that exist.
      '[ -e /proc/kcore ] && echo kcore=$(wc -c < /proc/kcore)',
      'echo timer_list=$(wc -c < /proc/timer_list) keys=$(wc -c < /proc/keys)',
      'echo procsys=$( (echo x > /proc/sys/kernel/hostname) 2>&1)',
      'grep CapEff /proc/self/status',
      'echo nofile=$(ulimit -n)',
    ].join('; ');
    const r = await runCaptured(l(), id(), bundle(['sh', '-c', script]));
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('pid=1\n');
    expect(r.stdout).toContain('host=tsrun-test\n');
    expect(Number(/procs=(\d+)/.exec(r.stdout)![1])).toBeLessThan(8); // sh and its pipeline only
    expect(r.stdout).not.toContain('host-pid-visible');
    if (existsSync('/proc/kcore')) expect(r.stdout).toContain('kcore=0\n');
    expect(r.stdout).toContain('timer_list=0 keys=0\n');
    expect(r.stdout).toMatch(/procsys=.*Read-only file system\n/);
    const capEff = BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec(r.stdout)![1]);
    expect(capEff & (1n << 21n)).toBe(0n);
    expect(capEff).toBe(0xa80425fbn); // Docker's default set
    expect(r.stdout).toContain('nofile=1024\n');
  });

  it('makes the rootfs read-only when root.readonly is set', async () => {
    const r = await runCaptured(l(), id(), bundle(['sh', '-c', 'touch /x && echo wrote; echo done'], { root: { path: rootfs, readonly: true } }));
    expect(r.stdout).toBe('done\n');
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  it('runs as another user with supplementary groups', async () => {
    const r = await runCaptured(l(), id(), bundle(['id'], { process: { user: { uid: 1000, gid: 1000, additionalGids: [5] } } }));
    expect(r.stdout.trim()).toBe('uid=1000(tsuser) gid=1000(tsuser) groups=5(tty)');
  });

  it('clamps rlimits above the hard limit instead of failing', async () => {
    const r = await runCaptured(l(), id(), bundle(['sh', '-c', 'ulimit -Hn'], { process: { rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }] } }));
    expect(r.status?.exitCode).toBe(0);
    const hostHard = Number(/Max open files\s+\S+\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'))![1]);
    expect(Number(r.stdout.trim())).toBe(Math.min(hostHard, 1048576));
  });

  it('detaches, logs as JSON lines, is killed and waited for', async () => {
    const cid = id();
    const log = join(work, `${cid}.log`);
    const res = await l().run(cid, bundle(['sh', '-c', 'echo one; echo two >&2; trap "echo bye; exit 7" TERM; while true; do sleep 0.1; done']), { detach: true, logPath: log });
    expect(res).toBeUndefined();
    expect(l().state(cid).status).toBe('running');
    expect(l().state(cid).pid).toBeGreaterThan(0);
    for (let i = 0; i < 100 && !readFileSync(log, 'utf8').includes('two'); i++) await sleep(20);
    await l().kill(cid, 'TERM');
    const status = await l().wait(cid);
    expect(status.exitCode).toBe(7);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as { log: string; stream: string; time: string });
    expect(lines.map((x) => [x.stream, x.log])).toEqual([
      ['stdout', 'one\n'],
      ['stderr', 'two\n'],
      ['stdout', 'bye\n'],
    ]);
    expect(lines[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(l().state(cid).status).toBe('stopped');
    await l().delete(cid);
  });

  it('create leaves the process waiting until start', async () => {
    const cid = id();
    const log = join(work, `${cid}.log`);
    await l().create(cid, bundle(['echo', 'started']), { detach: true, logPath: log });
    expect(l().state(cid).status).toBe('created');
    await sleep(100);
    expect(readFileSync(log, 'utf8')).toBe('');
    await l().start(cid);
    const st = await l().wait(cid);
    expect(st.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(log, 'utf8').trim()).log).toBe('started\n');
    await expect(l().start(cid)).rejects.toThrow(StateError);
    await l().delete(cid);
  });

  it('reports an exec format error as CannotInvokeError, at run and at start', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(rootfs, 'bin/garbage'), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]), { mode: 0o755 });
    await expect(runCaptured(l(), id(), bundle(['garbage']))).rejects.toThrow(/garbage.*ENOEXEC/);
    const cid = id();
    await l().create(cid, bundle(['garbage']), { detach: true });
    await expect(l().start(cid)).rejects.toThrow(CannotInvokeError);
    expect((await l().wait(cid)).exitCode).toBe(126);
    await l().delete(cid);
  });

  it('create reports a missing command before start', async () => {
    await expect(l().create(id(), bundle(['nope']), { detach: true })).rejects.toThrow(CommandNotFoundError);
  });

  it('execs into a running container (same namespaces, cwd, env, user)', async () => {
    const cid = id();
    await l().run(cid, bundle(['sleep', '30']), { detach: true });
    const out = join(work, `${cid}.exec`);
    const fd = openSync(out, 'w');
    const st = await l().exec(
      cid,
      {
        user: { uid: 1000, gid: 1000 },
        args: ['sh', '-c', 'echo $(hostname) $(pwd) $FOO $(id -u); ps -o pid,comm | grep -c sleep; exit 4'],
        env: ['PATH=/bin', 'FOO=bar'],
        cwd: '/tmp',
      },
      { detach: false, stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    expect(readFileSync(out, 'utf8')).toBe('tsrun-test /tmp bar 1000\n1\n');
    expect(st?.exitCode).toBe(4);
    await expect(l().exec(cid, { user: { uid: 0, gid: 0 }, args: ['nope'], cwd: '/' }, { detach: false, stdio: ['ignore', 'ignore', 'ignore'] })).rejects.toThrow(CommandNotFoundError);
    await l().delete(cid, true);
  });

  it('a killed monitor: its container outlives it and reads running (as runc\'s), or dies with it when asked; delete --force cleans up', async () => {
    const dying = id();
    await l().run(dying, bundle(['sleep', '60']), { detach: true, dieWithMonitor: true });
    const dyingRec = JSON.parse(readFileSync(join(work, 'state', dying, 'state.json'), 'utf8')) as { monitorPid: number; pid: number };
    process.kill(dyingRec.monitorPid, 'SIGKILL');
    for (let i = 0; i < 100 && l().state(dying).status !== 'stopped'; i++) await sleep(10);
    expect(l().state(dying).status).toBe('stopped');
    await l().delete(dying, true);

    const cid = id();
    await l().run(cid, bundle(['sleep', '60']), { detach: true });
    const rec = JSON.parse(readFileSync(join(work, 'state', cid, 'state.json'), 'utf8')) as { monitorPid: number; pid: number };
    process.kill(rec.monitorPid, 'SIGKILL');
    await sleep(200);
    expect(l().state(cid).status).toBe('running'); // the truth: its process lives on
    await l().delete(cid, true);
    expect(existsSync(join(work, 'state', cid))).toBe(false);
    for (let i = 0; i < 100 && existsSync(`/proc/${rec.pid}/stat`) && !/\) Z /.test(readFileSync(`/proc/${rec.pid}/stat`, 'utf8')); i++) await sleep(10);
    const gone = !existsSync(`/proc/${rec.pid}/stat`) || /\) Z /.test(readFileSync(`/proc/${rec.pid}/stat`, 'utf8'));
    expect(gone).toBe(true);
  });

  it('refuses bad ids and duplicate ids', async () => {
    await expect(l().run('../x', bundle(['true']), { detach: true })).rejects.toThrow(/invalid container id/);
    await expect(l().run('a/b', bundle(['true']), { detach: true })).rejects.toThrow(/invalid container id/);
    const cid = id();
    await l().run(cid, bundle(['sleep', '5']), { detach: true });
    await expect(l().run(cid, bundle(['true']), { detach: true })).rejects.toThrow(/already exists/);
    expect(l().list().map((s) => s.id)).toContain(cid);
    await expect(l().delete(cid)).rejects.toThrow(StateError);
    await l().delete(cid, true);
  });

  it('relays stdin when asked (-i), and not otherwise', async () => {
    const input = join(work, 'stdin.txt');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(input, 'line one\nline two\n');
    const inFd = openSync(input, 'r');
    const out = join(work, 'stdin.out');
    const o = openSync(out, 'w');
    const st = await l().run(id(), bundle(['sh', '-c', 'cat; echo end']), { detach: false, stdin: true, stdio: [inFd, o, o] });
    closeSync(inFd);
    closeSync(o);
    expect(st?.exitCode).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('line one\nline two\nend\n');
    const r = await runCaptured(l(), id(), bundle(['sh', '-c', 'cat; echo end']));
    expect(r.stdout).toBe('end\n');
  });

  it('forwards signals sent to the monitor to the container', async () => {
    const cid = id();
    await l().run(cid, bundle(['sh', '-c', 'trap "exit 9" USR1; while true; do sleep 0.05; done']), { detach: true });
    await sleep(100);
    const rec = JSON.parse(readFileSync(join(work, 'state', cid, 'state.json'), 'utf8')) as { monitorPid: number };
    process.kill(rec.monitorPid, 'SIGUSR1');
    expect((await l().wait(cid)).exitCode).toBe(9);
    await l().delete(cid);
  });

  it('runs in a new user namespace with id maps', async () => {
    const r = await runCaptured(
      l(),
      id(),
      bundle(['sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/gid_map | tr -s " "; ls -ln /bin/busybox | tr -s " " | cut -d" " -f3'], (spec) => {
        spec.linux!.namespaces!.push({ type: 'user' }, { type: 'cgroup' });
        spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }),
    );
    expect(r.stderr).toBe('');
    // The rootfs belongs to host root, which has no mapping inside: the overflow uid.
    expect(r.stdout).toBe('0\n 0 100000 65536\n 0 100000 65536\n65534\n');
  });

  it('places the container in its cgroup and removes the cgroup on delete', async () => {
    const cid = id();
    const cgPath = `/tsrun-test/${cid}`;
    await l().run(cid, bundle(['sleep', '30'], (spec) => {
      spec.linux!.cgroupsPath = cgPath;
      spec.linux!.resources = { pids: { limit: 64 } };
    }), { detach: true });
    const pid = l().state(cid).pid!;
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    expect(cg).toMatch(new RegExp(`:pids:${cgPath}\n`));
    expect(readFileSync(`/sys/fs/cgroup/pids${cgPath}/pids.max`, 'utf8').trim()).toBe('64');
    await l().delete(cid, true);
    expect(existsSync(`/sys/fs/cgroup/pids${cgPath}`)).toBe(false);
  });

  it('rejects a malformed plan before doing anything', () => {
    const helper = join(process.cwd(), 'build/tsrun-helper');
    const r = spawnSync('sh', ['-c', `printf '12:tsrun-plan-1,9:lock-file,1:2,1:a,1:b,' | ${helper} launch 3<&0 4>&1`], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('parse-plan');
    expect(r.stdout).toContain('lock-file): wrong number of arguments 2');
  });

  it('runs a pty session driven through a pty (script): tty, window size, input, raw mode', async () => {
    // `script` gives the helper a real terminal as stdin/stdout, as a user's shell would.
    const cid = id();
    const dir = join(work, 'state', cid);
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { compilePlan, encodePlan } = await import('../../src/runtime/plan.js');
    mkdirSync(dir, { recursive: true });
    const b = bundle(['sh', '-c', 'tty; stty size; read x; echo got:$x; exit 5'], { process: { terminal: true } });
    const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')) as Spec;
    const steps = compilePlan(
      spec,
      { lockFile: join(dir, 'lock'), exitFile: join(dir, 'exit.json'), pidFile: join(dir, 'pid'), startedFile: join(dir, 'started'), detach: false, stdin: true, terminal: true },
      { cgroupProcs: [], rootfs, bundle: b, isDirectory: () => true, hardLimits: new Map([[7, 1024n]]) },
    );
    const plan = join(dir, 'plan');
    writeFileSync(plan, encodePlan(steps));
    const helper = join(process.cwd(), 'build/tsrun-helper');
    const inner = `stty rows 22 cols 77; ${helper} launch 3<${plan} 4>${join(dir, 'status')}; echo helper=\\$?; stty -a | grep -o -- '-\\?icanon' | head -1`;
    const r = spawnSync('sh', ['-c', `(sleep 0.5; printf 'hello\\r'; sleep 1) | script -qec "${inner}" /dev/null`], { encoding: 'utf8', timeout: 20_000 });
    const out = r.stdout.replace(/\r/g, '');
    expect(out).toMatch(/\/dev\/pts\/\d+\n/);
    expect(out).toContain('22 77\n');
    expect(out).toContain('got:hello\n');
    expect(out).toContain('helper=5\n');
    // The user's terminal is back in canonical mode after the session.
    expect(out).toMatch(/\n-?icanon\n?$/);
    expect(out).not.toMatch(/\n-icanon/);
    expect(JSON.parse(readFileSync(join(dir, 'exit.json'), 'utf8')).exitCode).toBe(5);
  });
});

describe('differential: the same bundles under runc', () => {
  const cases: { name: string; args: string[]; overrides?: SpecOverrides }[] = [
    { name: 'echo', args: ['echo', 'a b  c'] },
    { name: 'exit 3', args: ['sh', '-c', 'echo out; echo err >&2; exit 3'] },
    { name: 'sigkill', args: ['sh', '-c', 'kill -9 $$'] },
    { name: 'identity', args: ['sh', '-c', 'echo $$ $(hostname) $(id); cat /proc/self/status | grep -E "^Cap(Eff|Bnd|Prm)"; wc -c < /proc/kcore'] },
    { name: 'user', args: ['id'], overrides: { process: { user: { uid: 65534, gid: 65534 } } } },
    { name: 'readonly', args: ['sh', '-c', 'touch /x; echo $?'], overrides: { root: { path: '', readonly: true } } },
    // /sys/fs/cgroup differs on purpose: runc binds each v1 hierarchy of this hybrid host, we mount cgroup2.
    { name: 'mounts', args: ['sh', '-c', 'grep -E " /(proc|dev|sys)[^ ]* " /proc/self/mounts | grep -v /sys/fs/cgroup | cut -d" " -f2,3,4 | sort; ls -l /dev | cut -c1-10,40- | sort'] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const fix = (spec: Spec) => {
        spec.process!.args = c.args;
        if (c.overrides && typeof c.overrides !== 'function') {
          const { process: p, root, ...rest } = c.overrides;
          Object.assign(spec, rest);
          if (root) spec.root = { path: rootfs, readonly: root.readonly };
          if (p) spec.process = { ...spec.process!, ...p };
        }
      };
      const b = bundle(c.args, fix);
      const ours = await runCaptured(launcher(), `d-ours-${++seq}`, b);
      const theirs = await runCaptured(new OciBinaryLauncher(RUNC, join(work, 'runc-state')), `d-runc-${seq}`, b);
      expect(ours.stdout).toBe(theirs.stdout);
      expect(ours.stderr.replace(/^.*runc.*$/gm, '')).toBe(theirs.stderr.replace(/^.*runc.*$/gm, ''));
      expect(ours.status?.exitCode).toBe(theirs.status?.exitCode);
    });
  }
});
