// `tsrun attach` end to end: the monitor's attach socket, stdin kept open for
// detached -i containers, the pty and its size with -t, detach keys, exit
// codes, Docker's refusals, `start -a -i`, detach keys in the foreground
// (`run -it`, `start -ai`) and StdinOnce. Real containers from the project's
// busybox image, pulled from the real docker-registry on 127.0.0.1.
// Run as root under the integration lock.
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { CTRL_P_Q, Session as ClientSession, tsrunLine as quoteTsrun } from '../support/pty-session.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

/** A client: `tsrun attach` (or another verb) with pipes as stdio, or in a terminal. */
class Session extends ClientSession {
  /** The verb with pipes as stdio. */
  static tsrun(args: string[]): Session {
    return new Session(process.execPath, cli.args(args));
  }

  /** The verb in a pty of `script`, whose terminal is 33 rows by 91 columns; tsrun is script's child (exec). */
  static inPty(args: string[]): Session {
    return Session.shellInPty(`exec ${tsrunLine(args)}`);
  }

  /**
   * inPty() for checking the last output of a quick command: `script` (util-linux 2.38) can lose
   * what its child wrote just before it exited, so a shell stays a moment after tsrun. (Under
   * load, 11 of 200 quick `run -it` lost their output in `script`, 0 of 200 in a pty read to its end.)
   */
  static inPtyDrained(args: string[]): Session {
    return Session.shellInPty(`${tsrunLine(args)}; rc=$?; sleep 0.3; exit $rc`);
  }
}

const tsrunLine = (args: string[]) => quoteTsrun(cli, args);

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
    // Status, not Running: as Docker's, Running is true already while the restart waits out its backoff.
    await until(() => cli.run(['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'again']).stdout.trim() === '1 running');
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

const exists = (name: string) => cli.run(['inspect', name]).code === 0;
const inspect = (name: string, format: string) => cli.run(['inspect', '-f', format, name]).stdout.trim();

/** The pid of the tsrun process that `script` runs (Session.inPty execs it as script's child). */
function tsrunPidIn(s: Session): number {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(s.pid)], { encoding: 'utf8' }).trim();
  expect(out).toMatch(/^\d+$/);
  return Number(out);
}

describe('detach keys in the foreground (run -it, start -ai)', () => {
  it('run -it: ctrl-p ctrl-q leaves the container running, attach takes it back, `exit 3` ends it with 3', async () => {
    const first = Session.inPty(['run', '-it', '--network', 'none', '--name', 'fg1', image, 'sh']);
    await first.waitFor(/\/ # /);
    first.write('echo fg-$((6*7)); stty size\r');
    await first.waitFor(/fg-42\r*\n33 91/); // the terminal's size from the start
    first.write(CTRL_P_Q);
    expect(await first.exitCode()).toBe(0); // docker/cli's run returns quietly on the escape sequence
    expect(first.out).not.toMatch(/read escape sequence/);
    expect(running('fg1')).toBe('true');
    expect(inspect('fg1', '{{.Config.StdinOnce}} {{.Config.OpenStdin}} {{.Config.Tty}}')).toBe('true true true');

    const again = Session.inPty(['attach', 'fg1']);
    await again.waitFor(/\/ # /);
    again.write('echo back-$((2+3))\r');
    await again.waitFor(/back-5/);
    again.write('exit 3\r');
    expect(await again.exitCode()).toBe(3);
    expect(inspect('fg1', '{{.State.Running}} {{.State.ExitCode}}')).toBe('false 3');
    expect(cli.run(['rm', 'fg1']).code).toBe(0);
  }, 60_000);

  it('run -it misses no output of a quick command, passes its code, and --rm removes it before returning', async () => {
    const s = Session.inPtyDrained(['run', '-it', '--rm', '--network', 'none', '--name', 'quick', image, 'sh', '-c', 'echo early-$((1+1)); exit 5']);
    expect(await s.exitCode()).toBe(5);
    expect(s.out).toMatch(/early-2/);
    expect(exists('quick')).toBe(false);
    // tsrun's own errors keep Docker's codes.
    const missing = Session.inPty(['run', '-it', '--rm', '--network', 'none', image, 'no-such-command']);
    expect(await missing.exitCode()).toBe(127);
    const dir = Session.inPty(['run', '-it', '--rm', '--network', 'none', image, '/etc']);
    expect(await dir.exitCode()).toBe(126);
    expect(cli.run(['ps', '-aq']).stdout).toBe('');
  }, 60_000);

  it('run -it --rm: detached, then ended later, the container is still removed', async () => {
    const s = Session.inPty(['run', '-it', '--rm', '--network', 'none', '--name', 'rmlater', image, 'sh']);
    await s.waitFor(/\/ # /);
    s.write(CTRL_P_Q);
    expect(await s.exitCode()).toBe(0);
    expect(running('rmlater')).toBe('true');
    expect(cli.run(['kill', 'rmlater']).code).toBe(0);
    await until(() => !exists('rmlater')); // the monitor's exit command applied --rm
  }, 60_000);

  it('run -it forwards signals sent to tsrun to the container', async () => {
    const s = Session.inPty(['run', '-it', '--rm', '--network', 'none', image, 'sh', '-c', 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done']);
    await s.waitFor(/ready/);
    process.kill(tsrunPidIn(s), 'SIGTERM');
    expect(await s.exitCode()).toBe(9);
    expect(s.out).toMatch(/got-term/);
  }, 60_000);

  it('start -ai with --detach-keys detaches a container created with -it, which attach then ends', async () => {
    expect(cli.run(['create', '-it', '--network', 'none', '--name', 'st1', image, 'sh']).code).toBe(0);
    const s = Session.inPty(['start', '-ai', '--detach-keys', 'ctrl-x', 'st1']);
    await s.waitFor(/\/ # /);
    s.write('echo st-$((5*5)); stty size\r');
    await s.waitFor(/st-25\r*\n33 91/);
    s.write('\x18');
    expect(await s.exitCode()).toBe(0);
    expect(running('st1')).toBe('true');

    const again = Session.inPty(['attach', 'st1']);
    await again.waitFor(/\/ # /);
    again.write('exit 6\r');
    expect(await again.exitCode()).toBe(6);
    expect(inspect('st1', '{{.State.ExitCode}}')).toBe('6');
    expect(cli.run(['rm', 'st1']).code).toBe(0);
  }, 60_000);
});

describe('stdin without a terminal (run -i) and StdinOnce', () => {
  it('piped run -i: the data and its EOF reach the container', () => {
    const cat = cli.run(['run', '-i', '--rm', '--network', 'none', image, 'cat'], { input: 'hi\n' });
    expect(cat.stdout).toBe('hi\n');
    expect(cat.code).toBe(0);
    const eof = cli.run(['run', '-i', '--rm', '--network', 'none', image, 'sh', '-c', 'cat; echo eof-seen; exit 4'], { input: 'a\nb\n' });
    expect(eof.stdout).toBe('a\nb\neof-seen\n');
    expect(eof.code).toBe(4);
  });

  it('StdinOnce (run -i): the end of an attached client\'s stdin closes the container\'s', async () => {
    // The run client keeps its stdin open; the attach client's EOF is the one that ends the container's.
    const run = Session.tsrun(['run', '-i', '--network', 'none', '--name', 'once1', image, 'sh', '-c', 'cat; echo after-eof']);
    await until(() => running('once1') === 'true');
    expect(inspect('once1', '{{.Config.StdinOnce}}')).toBe('true');
    const att = cli.run(['attach', 'once1'], { input: 'via-attach\n' });
    expect(att.stdout).toBe('via-attach\nafter-eof\n');
    expect(att.code).toBe(0);
    expect(await run.exitCode()).toBe(0);
    expect(run.out).toBe('via-attach\nafter-eof\n');
    expect(cli.run(['rm', 'once1']).code).toBe(0);

    expect(cli.run(['create', '-i', '--network', 'none', '--name', 'once2', image, 'cat']).code).toBe(0);
    expect(inspect('once2', '{{.Config.StdinOnce}}')).toBe('true');
    expect(cli.run(['rm', 'once2']).code).toBe(0);
  }, 60_000);

  it('run -d -i (StdinOnce=false): stdin stays open when a client\'s stdin ends', async () => {
    expect(cli.run(['run', '-d', '-i', '--network', 'none', '--name', 'open1', image, 'cat']).code).toBe(0);
    expect(inspect('open1', '{{.Config.StdinOnce}}')).toBe('false');
    const first = Session.tsrun(['attach', 'open1']);
    first.write('one\n');
    first.end();
    await first.waitFor(/one\n/);
    const second = Session.tsrun(['attach', 'open1']);
    await sleep(300);
    second.write('two\n');
    await second.waitFor(/two\n/);
    await first.waitFor(/one\ntwo\n/); // a client whose stdin ended still gets the output
    expect(running('open1')).toBe('true');
    expect(cli.run(['kill', 'open1']).code).toBe(0);
    expect(await first.exitCode()).toBe(137);
    expect(await second.exitCode()).toBe(137);
    expect(cli.run(['rm', 'open1']).code).toBe(0);
  }, 60_000);

  it('start -a -i of a run -d -i container (StdinOnce=false): the end of our stdin leaves the container\'s open, we wait for its exit', async () => {
    expect(cli.run(['run', '-d', '-i', '--network', 'none', '--name', 'open2', image, 'sh', '-c', 'cat; echo after-eof; exit 3']).code).toBe(0);
    expect(cli.run(['kill', 'open2']).code).toBe(0);
    await until(() => running('open2') === 'false');
    const s = Session.tsrun(['start', '-a', '-i', 'open2']);
    s.write('one\n');
    s.end();
    await s.waitFor(/one\n/);
    await sleep(500);
    expect(running('open2')).toBe('true'); // cat saw no EOF
    const other = Session.tsrun(['attach', 'open2']);
    await sleep(300);
    other.write('two\n');
    await s.waitFor(/one\ntwo\n/); // its stdin is still open, and we still get its output
    expect(cli.run(['kill', 'open2']).code).toBe(0);
    expect(await s.exitCode()).toBe(137);
    expect(await other.exitCode()).toBe(137);
    expect(s.out).toBe('one\ntwo\n');

    // start -a without -i attaches no stdin: the container's stays open too.
    const watch = Session.tsrun(['start', '-a', 'open2']);
    watch.end();
    await until(() => running('open2') === 'true');
    await sleep(500);
    expect(running('open2')).toBe('true');
    expect(cli.run(['kill', 'open2']).code).toBe(0);
    expect(await watch.exitCode()).toBe(137);
    expect(watch.out).toBe('');
    expect(cli.run(['rm', 'open2']).code).toBe(0);
  }, 60_000);

  it('start -a -i of a container created with -i (StdinOnce): the end of our stdin reaches it, at every start', () => {
    expect(cli.run(['create', '-i', '--network', 'none', '--name', 'once3', image, 'sh', '-c', 'cat; echo eof-seen; exit 4']).code).toBe(0);
    for (const input of ['a\n', 'b\n']) {
      const r = cli.run(['start', '-a', '-i', 'once3'], { input });
      expect(r.stdout).toBe(`${input}eof-seen\n`);
      expect(r.code).toBe(4);
    }
    expect(cli.run(['rm', 'once3']).code).toBe(0);
  }, 60_000);
});

/** The pid of the one process whose command line matches. */
function pidOf(re: RegExp): number {
  const pids = execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => re.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
  expect(pids).toHaveLength(1);
  return pids[0]!;
}

/** What `stty -g` printed before and after the command between them: the first line, and the end of the last (after the container's last output). */
function sttyBeforeAfter(out: string): [string, string] {
  const lines = out.split('\r\n');
  expect(lines.at(-1)).toBe(''); // ends with a line of its own
  const before = lines[0]!;
  expect(before).toMatch(/^[0-9a-f]+(:[0-9a-f]+)+$/);
  return [before, /[0-9a-f]+(:[0-9a-f]+)+$/.exec(lines.at(-2)!)?.[0] ?? lines.at(-2)!];
}

describe('the user\'s terminal in raw mode (Docker\'s: cfmakeraw, output processing off too)', () => {
  it('run --rm -it: the pty\'s "hi\\r\\n" reaches the terminal as is, and its settings are back afterwards', async () => {
    const s = Session.shellInPty(`stty -g; ${tsrunLine(['run', '--rm', '-it', '--network', 'none', image, 'echo', 'hi'])}; stty -g`);
    expect(await s.exitCode()).toBe(0);
    const [before] = sttyBeforeAfter(s.out);
    expect(s.out).toBe(`${before}\r\nhi\r\n${before}\r\n`);

    // -t without -i leaves the terminal alone, as Docker does: its ONLCR adds a \r.
    const t = Session.shellInPty(tsrunLine(['run', '--rm', '-t', '--network', 'none', image, 'echo', 'hi']));
    expect(await t.exitCode()).toBe(0);
    expect(t.out).toBe('hi\r\r\n');
  }, 60_000);

  it('run -it: the settings are back after a detach with ctrl-p ctrl-q', async () => {
    const s = Session.shellInPty(`stty -g; ${tsrunLine(['run', '-it', '--network', 'none', '--name', 'raw1', image, 'sh'])}; stty -g`);
    await s.waitFor(/\/ # /);
    s.write(CTRL_P_Q);
    expect(await s.exitCode()).toBe(0);
    const [before, after] = sttyBeforeAfter(s.out);
    expect(after).toBe(before);
    expect(running('raw1')).toBe('true');
    expect(cli.run(['rm', '-f', 'raw1']).code).toBe(0);
  }, 60_000);

  it('attach: the settings are back when SIGTERM or SIGHUP ends the client (a tty has no signal proxy)', async () => {
    expect(cli.run(['run', '-dit', '--network', 'none', '--name', 'raw2', image, 'sh']).code).toBe(0);
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
      const s = Session.shellInPty(`stty -g; ${tsrunLine(['attach', 'raw2'])}; stty -g`);
      await s.waitFor(/\/ # /);
      process.kill(pidOf(/tsrun\.cjs .* attach raw2$/), sig);
      expect(await s.exitCode()).toBe(0);
      const [before, after] = sttyBeforeAfter(s.out);
      expect(after).toBe(before);
      expect(running('raw2')).toBe('true');
    }
    expect(cli.run(['rm', '-f', 'raw2']).code).toBe(0);
  }, 60_000);
});
