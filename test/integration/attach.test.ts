// `tsrun attach` end to end: the monitor's attach socket, stdin kept open for
// detached -i containers, the pty and its size with -t, detach keys, exit
// codes, Docker's refusals, and `start -a -i`. Real containers from the
// project's busybox image, pulled from the real docker-registry on 127.0.0.1.
// Run as root under the integration lock.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRegistry, serveBusybox } from '../support/registry-server.js';
import { TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let image: string;

beforeAll(async () => {
  ({ registry: reg, image } = await serveBusybox());
  cli = new TsrunCli();
  const pulled = cli.run(['pull', '-q', image]);
  expect(pulled.code, pulled.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  cli?.destroy();
  await reg?.stop();
});

const CTRL_P_Q = '\x10\x11';

/** A client process whose output we can wait for and whose stdin we type into. */
class Session {
  out = '';
  err = '';
  readonly exited: Promise<number>;
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((res) => this.child.on('close', (code, signal) => res(code ?? (signal ? 128 : -1))));
  }

  /** `tsrun attach` (or another verb) with pipes as stdio. */
  static tsrun(args: string[]): Session {
    return new Session(process.execPath, cli.args(args));
  }

  /** The verb in a pty of `script`, whose terminal is 33 rows by 91 columns. */
  static inPty(args: string[]): Session {
    return new Session('script', ['-qfec', `stty cols 91 rows 33; ${process.execPath} ${cli.args(args).join(' ')}`, '/dev/null']);
  }

  write(s: string): void {
    this.child.stdin.write(s);
  }

  async waitFor(re: RegExp, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; stdout: ${JSON.stringify(this.out)} stderr: ${JSON.stringify(this.err)}`);
      await sleep(25);
    }
  }

  async exitCode(ms = 20_000): Promise<number> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

const running = (name: string) => cli.run(['inspect', '-f', '{{.State.Running}}', name]).stdout.trim();

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(50);
  }
}

describe('tsrun attach', () => {
  it('run -d -i: stdin reaches the container, output comes back to every client, detach keys leave it running', async () => {
    const run = cli.run(['run', '-d', '-i', '--network', 'none', '--name', 'cat1', image, 'cat']);
    expect(run.code, run.stderr).toBe(0);

    const first = Session.tsrun(['attach', 'cat1']);
    first.write('hello 1\n');
    await first.waitFor(/hello 1\n/);
    first.write(CTRL_P_Q);
    expect(await first.exitCode()).toBe(1); // Docker's: "read escape sequence", exit 1
    expect(first.err).toBe('read escape sequence\n');
    expect(first.out).toBe('hello 1\n');
    expect(running('cat1')).toBe('true');

    // Attach again, with a second client watching without stdin: both get the output.
    const watcher = Session.tsrun(['attach', '--no-stdin', 'cat1']);
    const second = Session.tsrun(['attach', '--detach-keys', 'ctrl-x', 'cat1']);
    await sleep(500); // both connected before the line goes in
    second.write('hello 2\n');
    await second.waitFor(/hello 2\n/);
    await watcher.waitFor(/hello 2\n/);
    second.write('\x10\x11 is not the detach sequence now\n');
    await second.waitFor(/is not the detach sequence now\n/);
    second.write('\x18');
    expect(await second.exitCode()).toBe(1);
    expect(second.out).toBe('hello 2\n\x10\x11 is not the detach sequence now\n');
    expect(running('cat1')).toBe('true');

    // The log has everything too; the watcher ends with the container's exit code.
    expect(cli.run(['logs', 'cat1']).stdout).toBe('hello 1\nhello 2\n\x10\x11 is not the detach sequence now\n');
    expect(cli.run(['kill', 'cat1']).code).toBe(0);
    expect(await watcher.exitCode()).toBe(137);
    expect(watcher.out).toBe('hello 2\n\x10\x11 is not the detach sequence now\n');
    expect(cli.run(['rm', 'cat1']).code).toBe(0);
  }, 60_000);

  it('run -dit: attach in a pty passes the terminal size, detaches, and `exit` ends it with the container\'s code', async () => {
    const run = cli.run(['run', '-dit', '--network', 'none', '--name', 'sh1', image, 'sh']);
    expect(run.code, run.stderr).toBe(0);

    const first = Session.inPty(['attach', 'sh1']);
    await first.waitFor(/\/ # /); // the shell redraws its prompt on the resize attach makes
    first.write('echo marker-$((6*7)); stty size\r');
    await first.waitFor(/marker-42\r*\n33 91/);
    first.write(CTRL_P_Q);
    expect(await first.exitCode()).toBe(1);
    expect(first.out).toMatch(/read escape sequence/);
    expect(running('sh1')).toBe('true');

    const second = Session.inPty(['attach', 'sh1']);
    await second.waitFor(/\/ # /);
    second.write('echo again-$((2+3))\r');
    await second.waitFor(/again-5/);
    second.write('exit 7\r');
    expect(await second.exitCode()).toBe(7);
    expect(cli.run(['inspect', '-f', '{{.State.ExitCode}}', 'sh1']).stdout.trim()).toBe('7');

    // With stdin on a pipe, a container with a terminal is refused as Docker does.
    expect(cli.run(['start', 'sh1']).code).toBe(0);
    const piped = cli.run(['attach', 'sh1']);
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/the input device is not a TTY/);
    expect(cli.run(['rm', '-f', 'sh1']).code).toBe(0);
  }, 60_000);

  it('refuses a stopped, a never started and an unknown container with exit 1', async () => {
    const created = cli.run(['create', '--network', 'none', '--name', 'never', image, 'true']);
    expect(created.code, created.stderr).toBe(0);
    const never = cli.run(['attach', 'never']);
    expect(never.code).toBe(1);
    expect(never.stderr).toMatch(/You cannot attach to a stopped container, start it first/);

    expect(cli.run(['run', '-d', '--network', 'none', '--name', 'done', image, 'true']).code).toBe(0);
    expect(cli.run(['wait', 'done']).stdout).toBe('0\n');
    const stopped = cli.run(['attach', 'done']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/You cannot attach to a stopped container, start it first/);

    const unknown = cli.run(['attach', 'no-such-container']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no-such-container/);
    expect(cli.run(['rm', 'never', 'done']).code).toBe(0);
  }, 60_000);

  it('ends with the exit code when the container exits, and finds it again once its restart policy restarted it', async () => {
    const run = cli.run(['run', '-d', '-i', '--network', 'none', '--name', 'again', '--restart', 'on-failure:1', image, 'sh', '-c', 'read x; echo got $x; exit 3']);
    expect(run.code, run.stderr).toBe(0);
    const first = Session.tsrun(['attach', 'again']);
    first.write('one\n');
    expect(await first.exitCode()).toBe(3);
    expect(first.out).toBe('got one\n');
    await until(() => cli.run(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', 'again']).stdout.trim() === '1 true');
    const second = Session.tsrun(['attach', 'again']);
    second.write('two\n');
    expect(await second.exitCode()).toBe(3);
    expect(second.out).toBe('got two\n');
    await until(() => running('again') === 'false');
    expect(cli.run(['rm', 'again']).code).toBe(0);
  }, 60_000);
});

describe('tsrun start -a -i', () => {
  it('relays stdin to a container created with -i, and a terminal to one created with -it', async () => {
    const id = cli.run(['create', '-i', '--network', 'none', image, 'sh', '-c', 'read x; echo got-$x; exit 3']).stdout.trim();
    const r = cli.run(['start', '-a', '-i', id], { input: 'hello\n' });
    expect(r.stdout).toBe('got-hello\n');
    expect(r.code).toBe(3);
    expect(cli.run(['rm', id]).code).toBe(0);

    const tty = cli.run(['create', '-it', '--network', 'none', image, 'sh']).stdout.trim();
    const s = Session.inPty(['start', '-a', '-i', tty]);
    await s.waitFor(/\/ # /);
    s.write('echo in-$(tty); stty size\r');
    await s.waitFor(/in-\/dev\/pts\/0\r*\n33 91/);
    s.write('exit 5\r');
    expect(await s.exitCode()).toBe(5);
    expect(cli.run(['rm', tty]).code).toBe(0);
  }, 60_000);
});
