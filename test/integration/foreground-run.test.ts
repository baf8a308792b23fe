// A foreground `tsrun run` without a tty towards signals and its caller's death, as
// Docker's: the container is not in the CLI's process group or session, so a terminal's
// Ctrl-C (SIGINT to the whole foreground group) reaches the CLI only, which forwards it
// once (--sig-proxy, none with --sig-proxy=false); a kill -9 of the CLI's whole group
// leaves the container running, and --rm still removes it once it exits; the container's
// output then stops reaching the CLI's stdout (it goes to the log only). Real
// containers from the project's busybox, as root, under the integration lock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mountsUnder, type TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { tsrunLine } from '../support/pty-session.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

// PID 1 counts the SIGINTs it gets and says so; SIGTERM ends it with the count.
const COUNT_SIGINTS = 'n=0; trap \'n=$((n+1)); echo "got $n"\' INT; trap \'echo "count $n"; exit 0\' TERM; echo ready; while true; do sleep 0.1; done';

/** The CLI as the leader of its own process group (as a shell's job is), stdout collected. */
function spawnJob(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; out: () => string; exited: Promise<number> } {
  const child = spawn(process.execPath, cli.args(args), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // 'exit', not 'close': a container that outlives the CLI holds its pipes.
  const exited = new Promise<number>((res) => child.on('exit', (code, signal) => res(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGKILL' ? 137 : 128))));
  return { child, out: () => out, exited };
}

/** After a test of a killed CLI: its group (if still there) and its container go. */
function killGroupAndRemove(child: ChildProcess, name: string): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
  cli.run(['rm', '-f', name]);
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Pids of the processes that run on this state (an exit command's argv names it) or hold a file in it open. */
function helperProcessesUnder(runroot: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const fds = readdirSync(`/proc/${name}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${name}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      if (argv.includes(runroot) || fds.some((f) => f.startsWith(runroot))) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function expectRemoved(id: string): void {
  expect(cli.run(['ps', '-a', '-q', '--no-trunc']).stdout).not.toContain(id);
  expect(existsSync(join(cli.root, 'containers', id))).toBe(false);
  expect(existsSync(join(cli.runroot, 'runtime', id))).toBe(false);
  expect(mountsUnder(join(cli.root, 'containers', id))).toEqual([]);
}

describe('a foreground run and the signals of its terminal', () => {
  it('SIGINT to the CLI\'s whole process group reaches the container once (sig-proxy)', async () => {
    const job = spawnJob(['run', '--rm', image, 'sh', '-c', COUNT_SIGINTS]);
    await until(() => job.out().includes('ready'), 20_000, 'the container to start');
    process.kill(-job.child.pid!, 'SIGINT');
    await until(() => job.out().includes('got 1'), 5_000, 'the first SIGINT');
    await sleep(1000); // room for a second copy, which must not come
    process.kill(-job.child.pid!, 'SIGTERM');
    expect(await job.exited).toBe(0);
    expect(job.out()).toContain('count 1');
    expect(job.out()).not.toContain('got 2');
  });

  it('--sig-proxy=false: the container gets none and keeps running while the CLI dies of it', async () => {
    const job = spawnJob(['run', '--sig-proxy=false', '--name', 'unproxied', image, 'sh', '-c', COUNT_SIGINTS]);
    await until(() => job.out().includes('ready'), 20_000, 'the container to start');
    expect(job.child.exitCode, job.out()).toBe(null);
    process.kill(-job.child.pid!, 'SIGINT');
    expect(await job.exited).toBe(130);
    await sleep(500);
    expect(cli.run(['ps']).stdout).toMatch(/Up .*unproxied/);
    expect(cli.run(['stop', 'unproxied']).code).toBe(0);
    const logs = cli.run(['logs', 'unproxied']).stdout;
    expect(logs).toContain('count 0');
    expect(logs).not.toContain('got');
    expect(cli.run(['rm', 'unproxied']).code).toBe(0);
  });

  it('a --sig-proxy that is not a boolean is refused naming it, exit 125, and nothing is created', () => {
    const r = cli.run(['run', '--sig-proxy=maybe', '--name', 'badproxy', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('invalid value "maybe" for --sig-proxy');
    expect(cli.run(['ps', '-a', '--format', '{{.Names}}']).stdout).not.toContain('badproxy');
  });

  it('-t: a signal to the CLI is not forwarded (Docker has no sig-proxy with a tty); the container runs on', async () => {
    const job = spawnJob(['run', '-t', '--name', 'ttyrun', image, 'sh', '-c', COUNT_SIGINTS]);
    await until(() => job.out().includes('ready'), 20_000, 'the container to start');
    process.kill(job.child.pid!, 'SIGTERM'); // the CLI alone, as `kill PID` does
    expect(await job.exited).toBe(128);
    await sleep(500);
    expect(cli.run(['ps']).stdout).toMatch(/Up .*ttyrun/);
    expect(cli.run(['stop', 'ttyrun']).code).toBe(0);
    expect(cli.run(['logs', 'ttyrun']).stdout).toContain('count 0');
    expect(cli.run(['rm', 'ttyrun']).code).toBe(0);
  });

  it('-t: Ctrl-C (SIGINT to the whole group) reaches the container once and ends the CLI by it', async () => {
    const job = spawnJob(['run', '-t', '--name', 'ttyint', image, 'sh', '-c', COUNT_SIGINTS]);
    try {
      await until(() => job.out().includes('ready'), 20_000, 'the container to start');
      process.kill(-job.child.pid!, 'SIGINT');
      expect(await job.exited).toBe(130);
      await until(() => cli.run(['logs', 'ttyint']).stdout.includes('got 1'), 5_000, 'the SIGINT to reach the container');
      await sleep(1000); // room for a second copy, which must not come
      expect(cli.run(['ps']).stdout).toMatch(/Up .*ttyint/);
      expect(cli.run(['stop', 'ttyint']).code).toBe(0);
      expect(cli.run(['logs', 'ttyint']).stdout).toContain('count 1');
    } finally {
      cli.run(['rm', '-f', 'ttyint']);
    }
  });

  it('-t --rm: kill -9 of the CLI\'s whole group leaves the container running, and removes it at its end', async () => {
    const job = spawnJob(['run', '-t', '--rm', '--name', 'ttykilled', image, 'sh', '-c', 'echo ready; sleep 2; echo bye']);
    await until(() => job.out().includes('ready'), 20_000, 'the container to start');
    const id = cli.run(['inspect', '-f', '{{.Id}}', 'ttykilled']).stdout.trim();
    process.kill(-job.child.pid!, 'SIGKILL');
    expect(await job.exited).toBe(137);
    await sleep(300);
    expect(cli.run(['ps']).stdout).toMatch(/Up .*ttykilled/);
    await until(() => !cli.run(['ps', '-a']).stdout.includes('ttykilled'), 15_000, 'the container to end and be removed');
    expectRemoved(id);
  });
});

describe('run -i without a tty', () => {
  it('a pipe on stdin is passed as it is: echo hi | tsrun run -i IMG cat', () => {
    const r = cli.run(['run', '--rm', '-i', image, 'cat'], { input: 'hi\n' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi\n');
    expect(r.code).toBe(0);
  });

  it('a terminal on stdin: the CLI relays it through a pipe, Ctrl-C reaches the container once, Ctrl-D closes its stdin', async () => {
    // PID 1 counts SIGINTs while its child copies stdin (to its end) with a mark on each line.
    const script = 'n=0; trap \'n=$((n+1)); echo "got $n"\' INT; echo ready; sed "s/^/line:/"; echo "count $n"';
    const args = ['run', '--rm', '-i', '--name', 'tty-relay', image, 'sh', '-c', script];
    const line = tsrunLine(cli, args);
    const pty = spawn('script', ['-qfec', `exec ${line}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    pty.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((res) => pty.on('close', (code) => res(code ?? -1)));
    try {
      await until(() => out.includes('ready'), 20_000, `the container to start (${JSON.stringify(out)})`);
      // The monitor reads a pipe the CLI feeds, not the terminal (which it is not in the foreground group of).
      const pid = Number(cli.run(['inspect', '-f', '{{.State.Pid}}', 'tty-relay']).stdout.trim());
      const monitorPid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      expect(readlinkSync(`/proc/${monitorPid}/fd/0`)).toMatch(/^pipe:/);
      pty.stdin!.write('hello\n');
      await sleep(300);
      pty.stdin!.write('\x03');
      await sleep(800); // room for a second copy, which must not come
      pty.stdin!.write('world\n');
      await sleep(300);
      pty.stdin!.write('\x04');
      expect(await exited).toBe(0);
      expect(out).toMatch(/line:hello\r?\nline:world\r?\ngot 1\r?\ncount 1/);
      expect(out).not.toContain('got 2');
    } finally {
      pty.kill('SIGKILL');
    }
  });
});

// Prints "line 1" .. "line 50", one every 100 ms (5 s).
const CHATTY = 'i=0; while [ $i -lt 50 ]; do i=$((i+1)); echo "line $i"; sleep 0.1; done';

/** Where each of a process's descriptors points (pipe:[inode], a path, ...). */
function fdLinks(pid: number): Map<number, string> {
  const links = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      links.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return links;
}

function monitorOf(containerPid: number): number {
  return Number(readFileSync(`/proc/${containerPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
}

describe('the output of a foreground run whose CLI is killed', () => {
  it('stops with the CLI: the reader of its stdout gets the end at once, the container runs on, logs has all of it', async () => {
    const child = spawn(process.execPath, cli.args(['run', '--name', 'chatty', image, 'sh', '-c', CHATTY]), {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const ended = (s: NodeJS.ReadableStream) => new Promise<number>((res) => s.on('end', () => res(Date.now())));
    const outEnded = ended(child.stdout!);
    const errEnded = ended(child.stderr!);
    try {
      await until(() => out.includes('line 3\n'), 20_000, `the first lines (${JSON.stringify(out)})`);
      // The container has only its monitor's pipes, none of the CLI's descriptors.
      const pid = Number(cli.run(['inspect', '-f', '{{.State.Pid}}', 'chatty']).stdout.trim());
      const cliStdio = [1, 2].map((fd) => readlinkSync(`/proc/${child.pid}/fd/${fd}`));
      const monitorPid = monitorOf(pid);
      expect([1, 2].map((fd) => readlinkSync(`/proc/${monitorPid}/fd/${fd}`))).toEqual(cliStdio);
      const containerFds = [...fdLinks(pid).values()];
      for (const link of cliStdio) expect(containerFds).not.toContain(link);
      for (const fd of [1, 2]) expect(fdLinks(pid).get(fd)).toMatch(/^pipe:/);

      const killedAt = Date.now();
      process.kill(-child.pid!, 'SIGKILL');
      const timeout = sleep(3000).then(() => Infinity);
      const [outAt, errAt] = await Promise.all([Promise.race([outEnded, timeout]), Promise.race([errEnded, timeout])]);
      expect(outAt - killedAt, 'stdout ended').toBeLessThan(1000);
      expect(errAt - killedAt, 'stderr ended').toBeLessThan(1000);
      const seen = out;
      expect(seen).not.toContain('line 50');
      // The container runs on; its monitor has let go of the CLI's descriptors.
      expect(cli.run(['ps']).stdout).toMatch(/Up .*chatty/);
      expect([0, 1, 2].map((fd) => fdLinks(monitorPid).get(fd))).toEqual(['/dev/null', '/dev/null', '/dev/null']);
      await until(() => !cli.run(['ps']).stdout.includes('chatty'), 15_000, 'the container to end');
      expect(out).toBe(seen);
      const logs = cli.run(['logs', 'chatty']);
      expect(logs.stdout).toBe(Array.from({ length: 50 }, (_, i) => `line ${i + 1}\n`).join(''));
      expect(cli.run(['inspect', '-f', '{{.State.ExitCode}}', 'chatty']).stdout.trim()).toBe('0');
    } finally {
      killGroupAndRemove(child, 'chatty');
    }
  });

  it('-i with a pipe on stdin: the CLI\'s death ends the container\'s stdin, whose output goes to the log', async () => {
    const script = 'echo ready; while read l; do echo "got $l"; done; echo "stdin ended"';
    // A fifo we hold open for writing all along (Node would close a 'pipe' stdin at the CLI's exit):
    // only the monitor's letting go of the CLI's stdin can end the container's.
    const fifo = join(cli.runroot, 'reader-stdin');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const stdinFd = openSync(fifo, 'r+');
    const child = spawn(process.execPath, cli.args(['run', '-i', '--name', 'reader', image, 'sh', '-c', script]), {
      detached: true,
      stdio: [stdinFd, 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      writeSync(stdinFd, 'one\n');
      await until(() => out.includes('got one\n'), 20_000, `the first line back (${JSON.stringify(out)})`);
      process.kill(-child.pid!, 'SIGKILL');
      await until(() => !cli.run(['ps']).stdout.includes('reader'), 5_000, 'the container to end');
      expect(cli.run(['logs', 'reader']).stdout).toBe('ready\ngot one\nstdin ended\n');
      expect(out).not.toContain('stdin ended');
    } finally {
      closeSync(stdinFd);
      rmSync(fifo, { force: true });
      killGroupAndRemove(child, 'reader');
    }
  });
});

/**
 * A foreground run whose stdout reader stops reading: `start(stdoutFd)` starts the CLI (or what
 * runs it) with its stdout on a pipe we hold open and never read; once the output is held up, the
 * CLI is killed (`cliPid`), and the container must still run to its end with all of it in the log.
 */
async function stalledReaderKeepsNoHold(
  name: string,
  start: (args: string[], stdoutFd: number) => ChildProcess,
  cliPid: (started: ChildProcess) => number,
  minLogged: number,
): Promise<void> {
  // ~400 kB of output, far more than a pipe (~64 kB) or a pty holds.
  const script = 'line=$(printf "%0999d" 0); i=0; while [ $i -lt 400 ]; do echo "$line"; i=$((i+1)); done; echo done';
  const fifo = join(cli.runroot, `${name}-stdout`);
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  const stdoutFd = openSync(fifo, 'r+');
  const started = start(['run', '--name', name, image, 'sh', '-c', script], stdoutFd);
  try {
    const logged = () => cli.run(['logs', name]).stdout.split('\n').length;
    await until(() => cli.run(['inspect', name]).code === 0 && logged() > minLogged, 20_000, 'the output to be held up');
    await sleep(300);
    expect(logged()).toBeLessThan(400); // held up by the reader
    process.kill(cliPid(started), 'SIGKILL');
    await until(() => !cli.run(['ps']).stdout.includes(name), 10_000, 'the container to run to its end');
    const logs = cli.run(['logs', name]).stdout.split('\n');
    expect(logs.length).toBe(402); // 400 lines, done, and the last newline
    expect(logs[400]).toBe('done');
  } finally {
    closeSync(stdoutFd);
    rmSync(fifo, { force: true });
    killGroupAndRemove(started, name);
  }
}

describe('a reader that stopped reading (a paused pager)', () => {
  it('does not hold the container up once the CLI is killed: the rest goes to the log', async () => {
    await stalledReaderKeepsNoHold(
      'paused',
      (args, stdoutFd) => spawn(process.execPath, cli.args(args), { detached: true, stdio: ['ignore', stdoutFd, 'pipe'] }),
      (child) => -child.pid!, // its whole group
      50,
    );
  });
});

describe('a terminal that stopped reading (a frozen terminal emulator)', () => {
  it('does not hold the container up once the CLI is killed either', async () => {
    // `script` gives the CLI a pty as its stdout and copies it to our pipe: once that pipe is full,
    // script stops reading the pty, which fills in turn.
    await stalledReaderKeepsNoHold(
      'frozen',
      (args, stdoutFd) => {
        return spawn('script', ['-qfec', `exec ${tsrunLine(cli, args)}`, '/dev/null'], { detached: true, stdio: ['ignore', stdoutFd, 'ignore'] });
      },
      (term) => {
        const pid = Number(readFileSync(`/proc/${term.pid}/task/${term.pid}/children`, 'utf8').trim().split(' ')[0]);
        expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('frozen');
        return pid;
      },
      20,
    );
  });
});

describe('run --rm when its CLI is killed', () => {
  it('kill -9 of the CLI\'s whole process group: the container runs to its end and is removed', async () => {
    const job = spawnJob(['run', '--rm', '--name', 'group-killed', image, 'sleep', '2']);
    await until(() => cli.run(['ps']).stdout.includes('group-killed'), 20_000, 'the container to start');
    const id = cli.run(['inspect', '-f', '{{.Id}}', 'group-killed']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    process.kill(-job.child.pid!, 'SIGKILL');
    await job.exited;
    await sleep(300);
    expect(cli.run(['ps']).stdout).toMatch(/Up .*group-killed/);
    await until(() => !cli.run(['ps', '-a']).stdout.includes('group-killed'), 15_000, 'the container to be removed');
    expectRemoved(id);
  });

  it('the CLI killed after the container exited, before it removed it: the monitor\'s exit command does', async () => {
    const job = spawnJob(['run', '--rm', '--name', 'late-killed', image, 'true'], { TSRUN_TEST_CRASH_AT: 'after-container-exit' });
    expect(await job.exited).toBe(137);
    await until(() => !cli.run(['ps', '-a']).stdout.includes('late-killed'), 15_000, 'the container to be removed');
    expect(mountsUnder(join(cli.root, 'containers'))).toEqual([]);
  });

  it('a CLI that did its part leaves nothing behind: the monitor\'s waiter saw it done and left', async () => {
    const r = cli.run(['run', '--rm', '--name', 'clean-exit', image, 'sh', '-c', 'exit 7']);
    expect(r.code).toBe(7);
    expect(cli.run(['ps', '-a']).stdout).not.toContain('clean-exit');
    const seen: number[][] = [];
    for (let i = 0; i < 10; i++, await sleep(20)) seen.push(helperProcessesUnder(cli.runroot));
    expect(seen.at(-1)).toEqual([]);
  });
});
