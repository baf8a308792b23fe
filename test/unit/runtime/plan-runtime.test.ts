// The plan of a container an external OCI runtime makes (runtime-create): what TypeScript
// compiles, and what the helper does with it. The helper's part runs a stand-in "runtime" (a
// shell script) that leaves a process behind and writes its pid, as `runc create` does: no
// root and no container needed.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.js';
import { compileRuntimePlan, decodePlan, encodePlan, type MonitorConfig, type PlanStep } from '../../../src/runtime/plan.js';
import { StatusDecoder, type StatusMessage } from '../../../src/runtime/report.js';
import { helperPath } from '../../../src/util/paths.js';

const monitor: MonitorConfig = {
  lockFile: '/run/x/lock', exitFile: '/run/x/exit.json', pidFile: '/run/x/pid', startedFile: '/run/x/started',
  detach: true, stdin: false, terminal: false,
};
const create = { argv: ['/usr/sbin/runc', '--root', '/run/r', 'create', '--bundle', '/b', '--pid-file', '/run/x/runtime.pid', 'ID'], pidFile: '/run/x/runtime.pid' };
const find = (steps: PlanStep[], op: string) => steps.filter((s) => s.op === op);

describe('compileRuntimePlan', () => {
  it('is the monitor\'s config steps, then runtime-create with the pid file and the runtime\'s argv', () => {
    const exitCommand = ['/usr/bin/node', '/cli.cjs', 'container', 'cleanup', 'ID'];
    const steps = compileRuntimePlan({ ...monitor, logFile: '/c/log.json', exitCommand }, create);
    expect(steps.at(-1)).toEqual({ op: 'runtime-create', args: ['/run/x/runtime.pid', ...create.argv] });
    expect(find(steps, 'log-file')[0]!.args).toEqual(['/c/log.json']);
    expect(find(steps, 'exit-command')[0]!.args).toEqual(exitCommand);
    expect(find(steps, 'detach')).toHaveLength(1);
    // Nothing of our own set-up: the runtime does it.
    expect(steps.filter((s) => ['clone', 'setns', 'cgroup-procs', 'uid-map', 'exec', 'args'].includes(s.op))).toEqual([]);
    expect(decodePlan(encodePlan(steps))).toEqual(steps);
  });

  it('attached, it keeps the caller\'s lock, session and stdio steps', () => {
    const steps = compileRuntimePlan(
      { ...monitor, detach: false, stdin: true, exitCommand: ['/x'], callerLock: '/run/x/caller.lock', newSession: true, callerStdio: true },
      create,
    );
    expect(steps.map((s) => s.op)).toEqual(expect.arrayContaining(['stdin', 'caller-lock', 'new-session', 'caller-stdio', 'runtime-create']));
  });

  it('never asks for a parent-death signal: the runtime\'s container is not the monitor\'s child from the start', () => {
    expect(find(compileRuntimePlan({ ...monitor, dieWithMonitor: true }, create), 'die-with-monitor')).toEqual([]);
  });

  it('with a terminal, the monitor listens on the runtime\'s console socket (console-receive) and sets the size given', () => {
    const argv = [...create.argv.slice(0, -1), '--console-socket', '/tmp/tsrun-tty-x/console', 'ID'];
    const steps = compileRuntimePlan({ ...monitor, attachSocket: '/run/x/attach', consoleSize: { height: 33, width: 91 } }, { ...create, argv, consoleSocket: '/tmp/tsrun-tty-x/console' });
    expect(find(steps, 'console-receive')).toEqual([{ op: 'console-receive', args: ['/tmp/tsrun-tty-x/console'] }]);
    expect(find(steps, 'console-size')).toEqual([{ op: 'console-size', args: ['33', '91'] }]);
    expect(find(steps, 'attach-socket')[0]!.args).toEqual(['/run/x/attach']);
    // Not our own terminal step (the container's console step sends that one's master).
    expect(find(steps, 'terminal')).toEqual([]);
    expect(steps.at(-1)).toEqual({ op: 'runtime-create', args: ['/run/x/runtime.pid', ...argv] });
    // Without a terminal: neither, whatever size a caller gives.
    const plain = compileRuntimePlan({ ...monitor, consoleSize: { height: 33, width: 91 } }, create);
    expect(plain.filter((s) => s.op === 'console-receive' || s.op === 'console-size')).toEqual([]);
  });

  it('refuses a console socket the runtime could not connect to by name', () => {
    expect(() => compileRuntimePlan(monitor, { ...create, consoleSocket: 'console' })).toThrow(/absolute path of at most 107 bytes/);
    expect(() => compileRuntimePlan(monitor, { ...create, consoleSocket: `/tmp/${'x'.repeat(103)}` })).toThrow(LaunchError);
    expect(() => compileRuntimePlan(monitor, { ...create, consoleSocket: `/tmp/${'x'.repeat(102)}` })).not.toThrow();
  });

  it('refuses what a runtime\'s container cannot have under the monitor', () => {
    for (const other of [{ terminal: true }, { consoleSocket: '/s' }, { inheritStdio: true }, { execFifo: '/f' }, { preserveFds: 2 }, { noMonitor: true }]) {
      expect(() => compileRuntimePlan({ ...monitor, ...other }, create)).toThrow(LaunchError);
    }
    expect(() => compileRuntimePlan(monitor, { ...create, argv: ['runc', 'create'] })).toThrow(/absolute path/);
    expect(() => compileRuntimePlan(monitor, { ...create, argv: [] })).toThrow(LaunchError);
    expect(() => compileRuntimePlan(monitor, { ...create, pidFile: 'runtime.pid' })).toThrow(/absolute path/);
  });
});

const work = mkdtempSync(join(tmpdir(), 'tsrun-plan-runtime-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `tsrun-helper launch` attached with the plan on fd 3; returns its status messages and exit code. */
function launch(steps: PlanStep[], name: string): { messages: StatusMessage[]; code: number | null } {
  const planPath = join(work, `${name}.plan`);
  writeFileSync(planPath, encodePlan(steps));
  const planFd = openSync(planPath, 'r');
  try {
    const r = spawnSync(helperPath(), ['launch'], { stdio: ['ignore', 'ignore', 'ignore', planFd, 'pipe'], timeout: 10_000 });
    return { messages: new StatusDecoder().push(r.output[4] as Buffer), code: r.status };
  } finally {
    closeSync(planFd);
  }
}

function monitorIn(name: string): MonitorConfig {
  const dir = mkdtempSync(join(work, `${name}-`));
  return {
    lockFile: join(dir, 'lock'), exitFile: join(dir, 'exit.json'), pidFile: join(dir, 'pid'), startedFile: join(dir, 'started'),
    logFile: join(dir, 'log.json'), detach: false, stdin: false, terminal: false,
  };
}

describe('the helper with a runtime-create plan', () => {
  it('rejects a plan with runtime-create and our own set-up steps, or with clone too', () => {
    const m = monitorIn('parse');
    const rc = { op: 'runtime-create', args: ['/p', '/bin/true'] };
    const refusals: Array<[PlanStep[], RegExp]> = [
      [[{ op: 'args', args: ['x'] }], /a runtime-create plan has no setns, parent or init steps \(has 1\)/],
      [[{ op: 'clone', args: ['0'] }], /exactly one clone or runtime-create step \(has 2\)/],
      [[{ op: 'setns', args: ['net', '/proc/1/ns/net'] }], /a runtime-create plan has no setns, parent or init steps \(has 1\)/],
    ];
    for (const [extra, why] of refusals) {
      const steps = [...compileRuntimePlan(m, { argv: ['/bin/true'], pidFile: '/p' }).slice(0, -1), rc, ...extra];
      const { messages, code } = launch(steps, 'parse');
      expect(code).toBe(1);
      expect(messages[0]).toMatchObject({ kind: 'error', step: 'parse-plan' });
      expect((messages[0] as { path: string }).path).toMatch(why);
    }
  });

  it('reports the runtime\'s own output when its create fails, and writes no exit file', () => {
    const m = monitorIn('fails');
    const argv = ['/bin/sh', '-c', 'echo "runtime: no such bundle" >&2; exit 1'];
    const { messages, code } = launch(compileRuntimePlan(m, { argv, pidFile: join(work, 'never.pid') }), 'fails');
    expect(code).toBe(1);
    expect(messages[0]).toMatchObject({ kind: 'error', step: 'runtime-create', errno: 0, path: 'runtime: no such bundle' });
    expect(() => readFileSync(m.exitFile)).toThrow();
  });

  it('reports a runtime it cannot run with its errno and path', () => {
    const m = monitorIn('noexec');
    const { messages } = launch(compileRuntimePlan(m, { argv: [join(work, 'missing-runtime')], pidFile: join(work, 'x.pid') }), 'noexec');
    expect(messages[0]).toMatchObject({ kind: 'error', step: 'runtime-create', errno: 2, path: join(work, 'missing-runtime') });
  });

  it('adopts the process the runtime left (pid file), logs its output, reaps it and records its exit code', () => {
    const m = monitorIn('adopts');
    const pidFile = join(work, 'adopts.pid');
    // Like `runc create`: the container process outlives the command, which writes its pid and exits 0.
    const script = `(sleep 0.3; echo from-container; echo to-stderr >&2; exit 5) & echo "warning: from the runtime" >&2; echo $! > ${pidFile}`;
    const { messages, code } = launch(compileRuntimePlan(m, { argv: ['/bin/sh', '-c', script], pidFile }), 'adopts');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(messages[0]).toMatchObject({ kind: 'created', pid });
    expect(code).toBe(5);
    expect(JSON.parse(readFileSync(m.exitFile, 'utf8'))).toMatchObject({ exitCode: 5 });
    expect(Number(readFileSync(m.pidFile, 'utf8'))).toBe(pid);
    const log = readFileSync(m.logFile!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { log: string; stream: string });
    // The runtime's own output (while its create ran) is not the container's.
    // (Two pipes: the order between them is not kept.)
    expect(log.map((e) => `${e.stream}: ${e.log}`).sort()).toEqual(['stderr: to-stderr\n', 'stdout: from-container\n']);
  });
});

// A stand-in runtime with a terminal, as `runc create --console-socket` behaves: it makes a pty,
// sends the master to the console socket (SCM_RIGHTS), leaves a process on the slave and writes
// its pid. Python has socket.send_fds; the test is skipped where there is no python3.
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
const TTY_RUNTIME = `
import os, socket, sys, time
sock_path, pid_file, mode = sys.argv[1:4]
if mode == 'silent':
    sys.exit(0)  # "created", but no terminal sent
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    return s
def monitor_cpu_ticks():
    return sum(int(x) for x in open('/proc/%d/stat' % os.getppid()).read().rsplit(')', 1)[1].split()[11:13])
if mode == 'pipe':  # a pipe is no terminal
    r, w = os.pipe()
    socket.send_fds(connect(), [b'/dev/ptmx'], [w])
    sys.exit(0)
master, slave = os.openpty()
s = connect()
if mode == 'twice':  # a second connection waits while the first is idle: the monitor must not spin
    other = connect()
    before = monitor_cpu_ticks()
    time.sleep(1)
    open(sys.argv[4], 'w').write(str(monitor_cpu_ticks() - before))
    other.close()
extra = []
if mode == 'extra':  # a second fd beside the master: the write end of a pipe whose reader notes its end
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(w)
        os.read(r, 1)  # EOF once every copy of w is closed
        open(sys.argv[4], 'w').write(str(time.time()))
        os._exit(0)
    os.close(r)
    extra = [w]
socket.send_fds(s, [b'/dev/ptmx'], [master] + extra)
for fd in extra:
    os.close(fd)
s.close()
os.close(master)
pid = os.fork()
if pid == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
    time.sleep(1.5 if mode == 'extra' else 0.5)  # the monitor sets the size first
    os.execv('/bin/sh', ['sh', '-c', 'stty size; echo from-the-tty; exit 3'])
with open(pid_file, 'w') as f:
    f.write(str(pid))
`;

describe.skipIf(!PYTHON)('the helper with a runtime-create plan and a terminal (console-receive)', () => {
  const runtime = join(work, 'tty-runtime.py');
  writeFileSync(runtime, TTY_RUNTIME);

  /** The helper with the stand-in runtime in `mode` (and its extra argument: a file it writes). */
  function launchTtyRuntime(name: string, mode: string, extra: string[] = [], size?: { height: number; width: number }) {
    const m = { ...monitorIn(name), consoleSize: size };
    const consoleSocket = join(work, `${name}-console`);
    const pidFile = join(work, `${name}.pid`);
    return { m, consoleSocket, pidFile, ...launch(compileRuntimePlan(m, { argv: [PYTHON!, runtime, consoleSocket, pidFile, mode, ...extra], pidFile, consoleSocket }), name) };
  }

  it('takes the pty master the runtime sends: the output is logged, the size set, the exit code recorded', () => {
    const { m, consoleSocket, pidFile, messages, code } = launchTtyRuntime('tty', 'tty', [], { height: 33, width: 91 });
    expect(messages[0]).toMatchObject({ kind: 'created', pid: Number(readFileSync(pidFile, 'utf8')) });
    expect(code).toBe(3);
    expect(JSON.parse(readFileSync(m.exitFile, 'utf8'))).toMatchObject({ exitCode: 3 });
    const log = readFileSync(m.logFile!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { log: string; stream: string });
    // Through a pty: one stream, lines ended by CR LF.
    expect(log).toEqual([expect.objectContaining({ stream: 'stdout', log: '33 91\r\n' }), expect.objectContaining({ stream: 'stdout', log: 'from-the-tty\r\n' })]);
    expect(existsSync(consoleSocket)).toBe(false); // the monitor unlinked it once it had the master
  });

  it('reports a create that succeeded without sending a terminal as the runtime\'s failure', () => {
    const { m, messages, code } = launchTtyRuntime('notty', 'silent');
    expect(code).toBe(1);
    expect(messages[0]).toMatchObject({ kind: 'error', step: 'runtime-create', errno: 0, path: 'it sent no terminal to the console socket' });
    expect(existsSync(m.exitFile)).toBe(false);
  });

  it('refuses a descriptor that is no terminal, as if none was sent', () => {
    const { messages, code } = launchTtyRuntime('pipe', 'pipe');
    expect(code).toBe(1);
    expect(messages[0]).toMatchObject({ kind: 'error', step: 'runtime-create', path: 'it sent no terminal to the console socket' });
  });

  it('does not spin while a second connection waits behind an idle first one', () => {
    const ticks = join(work, 'twice.ticks');
    const { messages } = launchTtyRuntime('twice', 'twice', [ticks]);
    expect(messages[0]).toMatchObject({ kind: 'created' });
    expect(Number(readFileSync(ticks, 'utf8'))).toBeLessThan(20); // a busy loop takes ~100 a second
  });

  it('closes any descriptor sent beside the master at once', () => {
    const eofAt = join(work, 'extra.eof');
    const { m, messages, code } = launchTtyRuntime('extra', 'extra', [eofAt]);
    expect(messages[0]).toMatchObject({ kind: 'created' });
    expect(code).toBe(3);
    const finished = Date.parse((JSON.parse(readFileSync(m.exitFile, 'utf8')) as { finishedAt: string }).finishedAt);
    // Closed when received, not when the monitor ended (the container ran 1.5 s more).
    expect(finished - Number(readFileSync(eofAt, 'utf8')) * 1000).toBeGreaterThan(1000);
  });

  it('refuses console-receive without runtime-create', () => {
    const m = monitorIn('noruntime');
    const { messages, code } = launch([...compileRuntimePlan(m, { argv: ['/bin/true'], pidFile: '/p' }).slice(0, -1), { op: 'console-receive', args: ['/tmp/x'] }, { op: 'clone', args: ['0'] }], 'noruntime');
    expect(code).toBe(1);
    expect(messages[0]).toMatchObject({ kind: 'error', step: 'config' });
    expect((messages[0] as { path: string }).path).toMatch(/console-receive is for a runtime-create plan/);
  });
});
