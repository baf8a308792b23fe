// Docker CLI behaviour end to end through the built `tsrun`: exec's flags, top, rename,
// kill -s, logs -t/--tail/--since, --env-file, --tmpfs, stop signals, terminal resize,
// signal forwarding without a terminal, concurrent runs on the default bridge and the
// wording of usage errors. Runs real containers from the project's busybox image on the
// docker-registry at 127.0.0.1. Run as root under the integration lock.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRegistry } from '../support/registry-server.js';
import { REPO, TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { waitFor } from '../support/wait.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ registry: reg, cli, image } = env));

/** A shell line for `script -c`: this CLI with `args`. */
const cliLine = (args: string[]) => [process.execPath, ...cli.args(args)].join(' ');

/** A PID 1 that reports each signal it traps on stdout: `trap ...; echo ready; loop`. */
const trapping = (traps: Record<string, string>) =>
  [...Object.entries(traps).map(([sig, body]) => `trap '${body}' ${sig}`), 'echo ready', 'while :; do sleep 0.1; done'].join('; ');

const logsOf = (name: string) => cli.run(['logs', name]).stdout;
const waitForLog = (name: string, text: string, ms = 10_000) => waitFor(() => logsOf(name).includes(text), `"${text}" in the logs of ${name}`, ms);

describe('exec', () => {
  let id: string;
  beforeAll(() => {
    id = cli.ok(['run', '-d', '--name', 'ex', image, 'sleep', '600']).trim();
  });
  afterAll(() => {
    cli.run(['rm', '-f', 'ex']);
  });

  it('-it gives the process a pty and passes its exit code', () => {
    // `script` gives tsrun a terminal; the keystrokes arrive after the shell's prompt.
    const r = spawnSync(
      'sh',
      ['-c', `(sleep 1; printf 'echo in-tty $(tty) $(hostname)\\r'; sleep 0.5; printf 'exit 5\\r') | script -qfec "${cliLine(['exec', '-it', 'ex', 'sh'])}" /dev/null`],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stdout).toMatch(new RegExp(`in-tty /dev/pts/\\d+ ${id.slice(0, 12)}\r?\n`));
    expect(r.status).toBe(5);
  });

  it('-i passes stdin and its end to the process; without -i it gets none', () => {
    const withStdin = cli.run(['exec', '-i', 'ex', 'sh', '-c', 'cat; echo done'], { input: 'one\ntwo\n' });
    expect(withStdin.code, withStdin.stderr).toBe(0);
    expect(withStdin.stdout).toBe('one\ntwo\ndone\n');
    const without = cli.run(['exec', 'ex', 'sh', '-c', 'cat; echo done'], { input: 'one\n' });
    expect(without.stdout).toBe('done\n');
  });

  it('-e, -w and -u apply to the exec only', () => {
    const r = cli.run(['exec', '-e', 'A=1', '-e', 'B=two words', '-w', '/etc', '-u', 'tsuser', 'ex', 'sh', '-c', 'echo "$A|$B|$(pwd)|$(id -u)|$HOME"']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1|two words|/etc|1000|/home/tsuser\n');
    expect(cli.run(['exec', 'ex', 'sh', '-c', 'echo "${A-unset}|$(pwd)|$(id -u)"']).stdout).toBe('unset|/|0\n');
  });

  it('-d returns at once, prints nothing and leaves the process running', async () => {
    const started = Date.now();
    const r = cli.run(['exec', '-d', 'ex', 'sh', '-c', 'sleep 1; echo late > /tmp/marker; sleep 300']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(1000 + 5000);
    await waitFor(() => cli.run(['exec', 'ex', 'cat', '/tmp/marker']).stdout === 'late\n', 'the detached exec to write its marker');
    expect(cli.run(['exec', 'ex', 'ps', '-o', 'args']).stdout).toContain('sleep 300');
  });

  it("joins the container's cgroup", () => {
    const self = cli.run(['exec', 'ex', 'cat', '/proc/self/cgroup']);
    expect(self.code, self.stderr).toBe(0);
    const init = cli.run(['exec', 'ex', 'cat', '/proc/1/cgroup']).stdout;
    expect(self.stdout).toBe(init);
    // The container's own cgroup, not the one tsrun runs in.
    expect(init).not.toBe(readFileSync('/proc/self/cgroup', 'utf8'));
    const pid = cli.ok(['inspect', '-f', '{{.State.Pid}}', 'ex']).trim();
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(id);
  });
});

describe('top', () => {
  it("lists the container's processes only, in Docker's columns", async () => {
    cli.ok(['run', '-d', '--name', 'topped', image, 'sh', '-c', 'sleep 601 & sleep 602 & wait']);
    try {
      const pid = cli.ok(['inspect', '-f', '{{.State.Pid}}', 'topped']).trim();
      await waitFor(() => cli.run(['exec', 'topped', 'ps', '-o', 'args']).stdout.includes('sleep 602'), 'both sleeps to start');
      const r = cli.run(['top', 'topped']);
      expect(r.code, r.stderr).toBe(0);
      const [header, ...rows] = r.stdout.trimEnd().split('\n');
      expect(header).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
      const cmds = rows.map((row) => row.split(/\s+/).slice(7).join(' '));
      expect(cmds.sort()).toEqual(['sh -c sleep 601 & sleep 602 & wait', 'sleep 601', 'sleep 602']);
      const pids = rows.map((row) => row.split(/\s+/)[1]);
      expect(pids).toContain(pid);
      expect(cli.run(['top', 'no-such-box']).code).toBe(125);
    } finally {
      cli.run(['rm', '-f', 'topped']);
    }
  });

  it("lists only the container's own processes when it shares the host's pid namespace (--pid host)", async () => {
    cli.ok(['run', '-d', '--name', 'hostpid', '--pid', 'host', image, 'sh', '-c', 'sleep 603 & wait']);
    try {
      await waitFor(() => cli.run(['top', 'hostpid']).stdout.includes('sleep 603'), 'its sleep to start');
      const rows = cli.ok(['top', 'hostpid']).trimEnd().split('\n').slice(1);
      expect(rows.map((row) => row.split(/\s+/).slice(7).join(' ')).sort()).toEqual(['sh -c sleep 603 & wait', 'sleep 603']);
    } finally {
      cli.run(['rm', '-f', 'hostpid']);
    }
  });
});

describe('rename', () => {
  it('the new name works and the old one is gone; a name in use is refused with 125', () => {
    const id = cli.ok(['run', '-d', '--name', 'old1', image, 'sleep', '600']).trim();
    cli.ok(['create', '--name', 'taken1', image, 'true']);
    try {
      const r = cli.run(['rename', 'old1', 'new1']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(cli.run(['inspect', '-f', '{{.Id}} {{.Name}}', 'new1']).stdout).toBe(`${id} /new1\n`);
      expect(cli.run(['inspect', 'old1']).code).toBe(125);
      expect(cli.run(['ps', '--format', '{{.Names}}', '--no-trunc']).stdout).toContain('new1\n');
      expect(cli.run(['ps', '-a', '--format', '{{.Names}}']).stdout).not.toMatch(/^old1$/m);
      expect(cli.run(['exec', 'new1', 'echo', 'hi']).stdout).toBe('hi\n');

      const clash = cli.run(['rename', 'new1', 'taken1']);
      expect(clash.code).toBe(125);
      expect(clash.stderr).toMatch(/the container name "\/taken1" is already in use/);
      expect(cli.run(['inspect', '-f', '{{.Name}}', 'new1']).stdout).toBe('/new1\n');
      // The old name is free again.
      cli.ok(['create', '--name', 'old1', image, 'true']);
    } finally {
      cli.run(['rm', '-f', 'new1', 'taken1', 'old1']);
    }
  });
});

describe('kill -s', () => {
  it("delivers the named signal to the app's trap; SIGTERM ends it with the app's code and 9 with 137", async () => {
    cli.ok(['run', '-d', '--name', 'trapper', image, 'sh', '-c', trapping({ USR1: 'echo got-usr1', TERM: 'echo got-term; exit 3' })]);
    try {
      await waitForLog('trapper', 'ready');
      expect(cli.run(['kill', '-s', 'USR1', 'trapper']).code).toBe(0);
      await waitForLog('trapper', 'got-usr1');
      const bad = cli.run(['kill', '-s', 'NOPE', 'trapper']);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toMatch(/NOPE/);
      expect(cli.ok(['inspect', '-f', '{{.State.Status}}', 'trapper'])).toBe('running\n');
      expect(cli.run(['kill', '--signal=SIGTERM', 'trapper']).code).toBe(0);
      expect(cli.run(['wait', 'trapper']).stdout).toBe('3\n');
      expect(logsOf('trapper')).toBe('ready\ngot-usr1\ngot-term\n');

      cli.ok(['run', '-d', '--name', 'ninth', image, 'sh', '-c', trapping({ TERM: 'echo got-term' })]);
      await waitForLog('ninth', 'ready');
      expect(cli.run(['kill', '-s', '9', 'ninth']).code).toBe(0);
      expect(cli.run(['wait', 'ninth']).stdout).toBe('137\n');
      expect(logsOf('ninth')).toBe('ready\n');
    } finally {
      cli.run(['rm', '-f', 'trapper', 'ninth']);
    }
  });
});

describe('logs', () => {
  beforeAll(() => {
    cli.ok(['run', '--name', 'lines', image, 'sh', '-c', 'for i in 1 2 3 4 5; do echo l$i; done']);
  });
  afterAll(() => {
    cli.run(['rm', '-f', 'lines', 'timed']);
  });

  it('-t prefixes each line with its RFC3339Nano time', () => {
    const r = cli.run(['logs', '-t', 'lines']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    for (const [i, line] of lines.entries()) expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z l${i + 1}$`));
    const first = Date.parse(lines[0]!.split(' ')[0]!);
    expect(Math.abs(Date.now() - first)).toBeLessThan(120_000);
  });

  it('--tail N, --tail all and a bad value', () => {
    expect(cli.run(['logs', '--tail', '2', 'lines']).stdout).toBe('l4\nl5\n');
    expect(cli.run(['logs', '-n', '0', 'lines']).stdout).toBe('');
    expect(cli.run(['logs', '--tail', 'all', 'lines']).stdout).toBe('l1\nl2\nl3\nl4\nl5\n');
    expect(cli.run(['logs', '--tail', '9', 'lines']).stdout).toBe('l1\nl2\nl3\nl4\nl5\n');
    const bad = cli.run(['logs', '--tail', 'lots', 'lines']);
    expect(bad.code).toBe(125);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/lots/);
  });

  it('--since with a duration and with a timestamp', async () => {
    cli.ok(['run', '-d', '--name', 'timed', image, 'sh', '-c', 'echo early; sleep 5; echo late']);
    await waitForLog('timed', 'early');
    await sleep(1500);
    const between = new Date().toISOString();
    expect(cli.run(['wait', 'timed']).stdout).toBe('0\n');
    // early was written 5 s ago, late just now.
    expect(cli.run(['logs', '--since', '10m', 'timed']).stdout).toBe('early\nlate\n');
    expect(cli.run(['logs', '--since', '3s', 'timed']).stdout).toBe('late\n');
    expect(cli.run(['logs', '--since', between, 'timed']).stdout).toBe('late\n');
    expect(cli.run(['logs', '--since', String(Math.floor(Date.parse(between) / 1000)), 'timed']).stdout).toBe('late\n');
    expect(cli.run(['logs', '--since', 'yesterday-ish', 'timed']).code).toBe(125);
  });
});

describe('run options', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/tsrun-cli-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--env-file: comments and blank lines skipped, a bare NAME taken from the environment, -e wins', () => {
    const file = join(dir, 'vars.env');
    writeFileSync(file, ['# a comment', 'A=1', '', 'B=with spaces = and more', '   C=indented', 'FROM_HOST', 'NOT_IN_HOST', 'D=overridden', ''].join('\n'));
    const r = cli.run(['run', '--rm', '--env-file', file, '-e', 'D=from-e', image, 'env'], { env: { FROM_HOST: 'host value', NOT_IN_HOST: undefined } });
    expect(r.code, r.stderr).toBe(0);
    const env = r.stdout.split('\n');
    expect(env).toEqual(expect.arrayContaining(['A=1', 'B=with spaces = and more', 'C=indented', 'FROM_HOST=host value', 'D=from-e']));
    expect(env.filter((l) => /^(NOT_IN_HOST|#|D=overridden)/.test(l))).toEqual([]);
  });

  it('--env-file of a missing file: a tsrun error naming it, 125, through bin/tsrun as users run it', () => {
    const missing = join(dir, 'absent.env');
    // bin/tsrun, not the bundle: Node 20 itself takes an --env-file anywhere on its command line.
    const r = spawnSync(join(REPO, 'bin', 'tsrun'), ['--root', cli.root, '--runroot', cli.runroot, 'run', '--rm', '--env-file', missing, image, 'true'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(125);
    expect(r.stderr).toMatch(/^tsrun: .*absent\.env/);
    const present = join(dir, 'present.env');
    writeFileSync(present, 'FROM_FILE=1\n');
    const ok = spawnSync(join(REPO, 'bin', 'tsrun'), ['--root', cli.root, '--runroot', cli.runroot, 'run', '--rm', '--env-file', present, image, 'env'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('FROM_FILE=1\n');
  });

  it('--tmpfs /x:size=1m,mode=1777 mounts a tmpfs of that size and mode whose writes stay out of the container layer', () => {
    const script = [
      'grep " /x " /proc/mounts',
      'stat -c %a /x',
      'grep " /y " /proc/mounts',
      'stat -c %a /y',
      'echo in-tmpfs > /x/tmpfs-marker-1 && echo in-layer > /upper-marker-1',
      'dd if=/dev/zero of=/x/big bs=1024 count=2048 2>/dev/null || echo full',
    ].join('; ');
    // The kernel lists a tmpfs mode only when it is not 1777, its default: /y shows that mode= is applied.
    const r = cli.run(['run', '--name', 'tmpfsbox', '--tmpfs', '/x:size=1m,mode=1777', '--tmpfs', '/y:mode=700', image, 'sh', '-c', script]);
    try {
      expect(r.code, r.stderr).toBe(0);
      const [mountX, modeX, mountY, modeY, full] = r.stdout.trimEnd().split('\n');
      expect(mountX).toMatch(/^tmpfs \/x tmpfs (\S+,)?size=1024k(,\S+)? 0 0$/);
      expect(modeX).toBe('1777');
      expect(mountY).toMatch(/^tmpfs \/y tmpfs \S*,mode=700(,\S+)? 0 0$/);
      expect(modeY).toBe('700');
      expect(full).toBe('full');
      const found = spawnSync('find', [cli.root, '-name', '*-marker-1'], { encoding: 'utf8' }).stdout.trim().split('\n');
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((p) => p.endsWith('/upper-marker-1'))).toBe(true);
    } finally {
      cli.run(['rm', '-f', 'tmpfsbox']);
    }
  });
});

describe('stop signals', () => {
  it("stop sends the image's STOPSIGNAL and the app exits by itself, before -t", async () => {
    const tagged = `${reg.host}/stopsig:usr1`;
    cli.ok(['create', '--name', 'stopsig-base', image, 'true']);
    cli.ok(['commit', '--change', 'STOPSIGNAL SIGUSR1', 'stopsig-base', tagged]);
    cli.run(['rm', 'stopsig-base']);
    expect(cli.ok(['image', 'inspect', '-f', '{{.Config.StopSignal}}', tagged])).toBe('SIGUSR1\n');
    cli.ok(['run', '-d', '--name', 'usr1stop', tagged, 'sh', '-c', trapping({ USR1: 'echo got-usr1; exit 0', TERM: 'echo got-term; exit 0' })]);
    try {
      await waitForLog('usr1stop', 'ready');
      const started = Date.now();
      const stop = cli.run(['stop', '-t', '30', 'usr1stop']);
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.stdout).toBe('usr1stop\n');
      expect(stop.stderr).toBe('');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(cli.ok(['inspect', '-f', '{{.State.ExitCode}}', 'usr1stop'])).toBe('0\n');
      expect(logsOf('usr1stop')).toBe('ready\ngot-usr1\n');
    } finally {
      cli.run(['rm', '-f', 'usr1stop']);
      cli.run(['rmi', tagged]);
    }
  });

  it('run --stop-signal sets the signal stop sends', async () => {
    cli.ok(['run', '-d', '--name', 'usr2stop', '--stop-signal', 'SIGUSR2', image, 'sh', '-c', trapping({ USR2: 'echo got-usr2; exit 4', TERM: 'echo got-term; exit 0' })]);
    try {
      await waitForLog('usr2stop', 'ready');
      expect(cli.ok(['inspect', '-f', '{{.Config.StopSignal}}', 'usr2stop'])).toBe('SIGUSR2\n');
      const started = Date.now();
      const stop = cli.run(['stop', '-t', '30', 'usr2stop']);
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.stderr).toBe('');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(cli.ok(['inspect', '-f', '{{.State.ExitCode}}', 'usr2stop'])).toBe('4\n');
      expect(logsOf('usr2stop')).toBe('ready\ngot-usr2\n');
    } finally {
      cli.run(['rm', '-f', 'usr2stop']);
    }
  });
});

describe('terminals and signals', () => {
  it('run -it follows a change of the terminal size during the session', () => {
    // A background stty on script's pty resizes it; the kernel sends SIGWINCH to tsrun,
    // which must pass the new size on to the container's pty. (A background job of a
    // non-interactive shell has /dev/null as stdin: stty names the terminal.)
    const inner = `stty cols 91 rows 33; (sleep 4; stty cols 100 rows 30 </dev/tty) & exec ${cliLine(['run', '-it', '--rm', image, 'sh'])}`;
    const keys = `(sleep 1.5; printf 'echo before $(stty size)\\r'; sleep 4; printf 'echo after $(stty size)\\r'; sleep 0.5; printf 'exit 0\\r')`;
    const r = spawnSync('sh', ['-c', `${keys} | script -qfec '${inner}' /dev/null`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toMatch(/before 33 91/);
    expect(r.stdout).toMatch(/after 30 100/);
    expect(r.status).toBe(0);
  });

  it("without -t, SIGTERM to the foreground tsrun reaches the app's trap and the exit code is the app's", async () => {
    const child = spawn(process.execPath, cli.args(['run', '--rm', '--name', 'fg-term', image, 'sh', '-c', trapping({ TERM: 'echo got-term; exit 7' })]), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitFor(() => stdout.includes('ready'), 'the app to be ready', 20_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(7);
    expect(stdout).toBe('ready\ngot-term\n');
    // --rm still removes it.
    await waitFor(() => cli.run(['inspect', 'fg-term']).code !== 0, 'fg-term to be removed');
  });
});

describe('concurrency', () => {
  it('20 concurrent runs on the default bridge network all succeed, each with its own IPv4 address', async () => {
    const runs = await Promise.all(
      Array.from({ length: 20 }, () => cli.runAsync(['run', '--rm', image, 'sh', '-c', 'ip -4 addr show eth0'], { timeoutMs: 120_000 })),
    );
    expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    const addresses = runs.map((r) => /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1]);
    expect(addresses.every((a) => a !== undefined)).toBe(true);
    expect(new Set(addresses).size).toBe(20);
  }, 180_000);
});

describe('usage errors', () => {
  it("are worded as Docker's, in tsrun's one-line form, and exit 125", () => {
    const cases: [string[], string][] = [
      [['run', '--foo', image], "tsrun: unknown flag: --foo\nSee 'tsrun run --help'.\n"],
      [['ps', '-z'], "tsrun: unknown shorthand flag: 'z' in -z\nSee 'tsrun ps --help'.\n"],
      [['run'], '"tsrun run" requires at least 1 argument.'],
      [['rename', 'a'], '"tsrun rename" requires exactly 2 arguments.'],
      [['rename', 'a', 'b', 'c'], '"tsrun rename" requires exactly 2 arguments.'],
      [['logs', 'x', '--tail'], "tsrun: flag needs an argument: --tail\nSee 'tsrun logs --help'.\n"],
      [['logs', 'x', '-n'], "tsrun: flag needs an argument: 'n' in -n\n"],
      [['container', 'ls', '--bad'], "tsrun: unknown flag: --bad\nSee 'tsrun container ls --help'.\n"],
      [['no-such-verb'], "tsrun: 'no-such-verb' is not a tsrun command.\nSee 'tsrun --help'.\n"],
    ];
    for (const [args, text] of cases) {
      const r = cli.run(args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr.startsWith('tsrun: '), r.stderr).toBe(true);
      expect(r.stderr).toContain(text);
      expect(r.stderr).not.toContain('error:');
    }
  });

  it("tsrkt keeps commander's wording and exits 254", () => {
    const rkt = new TsrunCli('tsrkt', join(cli.root, '..'));
    const r = rkt.run(['list', '--bogus']);
    expect(r.code).toBe(254);
    expect(r.stderr).toBe("error: unknown option '--bogus'\n");
  });
});
