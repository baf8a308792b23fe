// Restart policies end to end, as Docker carries them out: an attached `run`/`start -a`
// returns the first run's exit code and the policy goes on after the CLI returned; the
// backoff between restarts (100 ms doubling) shows as "Restarting (N) ..." in ps and
// inspect, and stop or rm -f during it ends it. Real containers from the project's busybox
// image, pulled from the real docker-registry on 127.0.0.1. Run as root under the integration lock.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

const inspect = (name: string, template: string) => cli.run(['inspect', '-f', template, name]).stdout.trim();
const restartCount = (name: string) => Number(inspect(name, '{{.RestartCount}}'));

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Waits until the policy is done with the container: `count` restarts and exited for good. */
async function untilSettled(name: string, count: number): Promise<void> {
  await until(`${name} to be restarted ${count} times and exit`, () => inspect(name, '{{.RestartCount}} {{.State.Status}}') === `${count} exited`);
  await sleep(700); // more than the next backoff would be: nothing else comes
}

/** Waits until the container is in its backoff with at least `minCount` restarts behind it (the wait is then 100 ms * 2^(minCount-1) or more). */
async function untilRestarting(name: string, minCount: number): Promise<void> {
  await until(`${name} to wait out a backoff after ${minCount} restarts`, () => {
    const [count, status] = inspect(name, '{{.RestartCount}} {{.State.Status}}').split(' ');
    return Number(count) >= minCount && status === 'restarting';
  });
}

describe('restart policies of attached runs', () => {
  it('run --restart on-failure:2 without -d returns the first exit code, then the container is restarted twice', async () => {
    const r = cli.run(['run', '--name', 'fg', '--restart', 'on-failure:2', '--network', 'none', image, 'sh', '-c', 'echo run; exit 3']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('run\n');
    await untilSettled('fg', 2);
    expect(inspect('fg', '{{.State.ExitCode}} {{.State.Restarting}}')).toBe('3 false');
    expect(cli.run(['logs', 'fg']).stdout).toBe('run\nrun\nrun\n');
    expect(cli.run(['rm', 'fg']).code).toBe(0);
  });

  it('start -a of a container with --restart on-failure:2 returns its exit code, then it is restarted twice', async () => {
    expect(cli.run(['create', '--name', 'sa', '--restart', 'on-failure:2', '--network', 'none', image, 'sh', '-c', 'echo run; exit 4']).code).toBe(0);
    const r = cli.run(['start', '-a', 'sa']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toBe('run\n');
    await untilSettled('sa', 2);
    expect(cli.run(['logs', 'sa']).stdout).toBe('run\nrun\nrun\n');
    expect(cli.run(['rm', 'sa']).code).toBe(0);
  });

  it('run -it --restart on-failure:1 in a pty returns the first exit code, then the container is restarted', async () => {
    const line = [process.execPath, ...cli.args(['run', '-it', '--name', 'tty', '--restart', 'on-failure:1', '--network', 'none', image, 'sh', '-c', 'echo run; exit 5'])]
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    const child = spawn('script', ['-qfec', `exec ${line}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(code, out).toBe(5);
    expect(out).toContain('run');
    await untilSettled('tty', 1);
    expect(cli.run(['logs', 'tty']).stdout).toBe('run\r\nrun\r\n');
    expect(cli.run(['rm', 'tty']).code).toBe(0);
  });

  it('--restart with --rm is refused as Docker words it, leaving nothing', () => {
    const r = cli.run(['run', '--rm', '--restart', 'on-failure', '--name', 'both', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^tsrun: conflicting options: --restart and --rm$/im); // Docker's words, in tsrun's lower case
    expect(cli.run(['ps', '-a', '--format', '{{.Names}}']).stdout).not.toContain('both');
  });
});

describe('restart backoff', () => {
  it('waits 100, 200, 400 ms between the exits and the starts of --restart on-failure:3', async () => {
    const since = (Date.now() / 1000).toFixed(3);
    const id = cli.run(['run', '-d', '--name', 'timed', '--restart', 'on-failure:3', '--network', 'none', image, 'sh', '-c', 'exit 1']).stdout.trim();
    await untilSettled('timed', 3);
    const until = (Date.now() / 1000 + 0.001).toFixed(3);
    const r = cli.run(['events', '--since', since, '--until', until, '-f', `container=${id}`, '-f', 'event=start', '-f', 'event=die', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => ({ action: (JSON.parse(l) as { Action: string }).Action, ms: Number(BigInt(/"timeNano":(\d+)/.exec(l)![1]!) / 1000n) / 1000 }));
    expect(events.map((e) => e.action)).toEqual(['start', 'die', 'start', 'die', 'start', 'die', 'start', 'die']);
    // Each die to the next start: the backoff, plus the few ms a start takes.
    const waits = [1, 3, 5].map((i) => events[i + 1]!.ms - events[i]!.ms);
    const expected = [100, 200, 400];
    waits.forEach((w, i) => {
      expect(w, `wait ${i + 1}: ${waits.join(', ')} ms`).toBeGreaterThanOrEqual(expected[i]! - 5);
      // A start takes ~10 ms here; a wrong growth (x1.5, x3, x4) or none lands outside these bounds.
      expect(w, `wait ${i + 1}: ${waits.join(', ')} ms`).toBeLessThan(expected[i]! + 150);
    });
    // And start to start: each gap longer than the one before by about the delay's growth.
    const starts = events.filter((e) => e.action === 'start').map((e) => e.ms);
    const gaps = [1, 2, 3].map((i) => starts[i]! - starts[i - 1]!);
    expect(gaps[1]! - gaps[0]!, `start gaps ${gaps.join(', ')} ms`).toBeGreaterThan(50);
    expect(gaps[2]! - gaps[1]!, `start gaps ${gaps.join(', ')} ms`).toBeGreaterThan(120);
    expect(inspect('timed', '{{.RestartCount}} {{.State.ExitCode}}')).toBe('3 1');
    expect(cli.run(['rm', 'timed']).code).toBe(0);
  }, 60_000);

  it('shows Restarting during the backoff in ps (without -a) and inspect; stop ends it and leaves it exited', async () => {
    cli.run(['run', '-d', '--name', 'loop', '--restart', 'always', '--network', 'none', image, 'sh', '-c', 'echo run; exit 3']);
    await untilRestarting('loop', 6); // the wait is 3.2 s now
    // Listed without -a, as a running one, filtered or not.
    const row = cli.run(['ps', '-f', 'name=loop', '--format', '{{.Names}}|{{.State}}|{{.Status}}']).stdout;
    expect(row).toMatch(/^loop\|restarting\|Restarting \(3\) (Less than a second|\d+ seconds?) ago\n$/);
    expect(cli.run(['ps', '--format', '{{.Names}}|{{.State}}']).stdout).toContain('loop|restarting\n');
    expect(cli.run(['ps', '-f', 'status=restarting', '--format', '{{.Names}}']).stdout).toBe('loop\n');
    const state = JSON.parse(inspect('loop', '{{json .State}}')) as Record<string, unknown>;
    expect(state).toMatchObject({ Status: 'restarting', Restarting: true, Running: true, Pid: 0, ExitCode: 3 });
    const rm = cli.run(['rm', 'loop']);
    expect(rm.code).toBe(125);
    expect(rm.stderr).toContain('container is restarting');

    const count = restartCount('loop');
    expect(cli.run(['stop', 'loop']).code).toBe(0);
    expect(inspect('loop', '{{.State.Status}} {{.State.Restarting}} {{.State.Running}} {{.State.ExitCode}}')).toBe('exited false false 3');
    expect(cli.run(['ps', '-a', '--format', '{{.Names}} {{.Status}}']).stdout).toMatch(/^loop Exited \(3\) /m);
    expect(cli.run(['ps', '--format', '{{.Names}}']).stdout).not.toContain('loop');
    await sleep(3500); // past the restart that was due
    expect(inspect('loop', '{{.RestartCount}} {{.State.Status}}')).toBe(`${count} exited`);
    // The first run and one per restart but the last, called off: it is counted as its wait begins, as Docker's.
    expect(cli.run(['logs', 'loop']).stdout).toBe('run\n'.repeat(count));
    expect(cli.run(['rm', 'loop']).code).toBe(0);
  }, 60_000);

  it('reads Restarting from the exit on, while its exit command is still on its way to the backoff', async () => {
    // Every Node start under this env sleeps 800 ms first: so does the exit command the monitor runs.
    const dir = mkdtempSync(join(tmpdir(), 'tsrun-slow-node-'));
    const slow = join(dir, 'slow.cjs');
    writeFileSync(slow, 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);\n');
    const env = { NODE_OPTIONS: `--require ${slow}` };
    const r = cli.run(['run', '-d', '--name', 'soon', '--restart', 'on-failure:1', '--network', 'none', image, 'sh', '-c', 'sleep 0.3; exit 3'], { env });
    expect(r.code, r.stderr).toBe(0);
    let first = '';
    await until('soon to exit', () => (first = inspect('soon', '{{.State.Status}} {{.State.Restarting}} {{.State.ExitCode}}')).split(' ')[0] !== 'running');
    expect(first).toBe('restarting true 3');
    expect(cli.run(['ps', '-f', 'name=soon', '--format', '{{.Names}}|{{.Status}}']).stdout).toMatch(/^soon\|Restarting \(3\) /);
    await untilSettled('soon', 1);
    expect(cli.run(['rm', 'soon']).code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('stop during a backoff, then start: the policy still restarts it when it fails again (the called-off waiter sleeps on)', async () => {
    cli.run(['run', '-d', '--name', 'again', '--restart', 'always', '--network', 'none', image, 'sh', '-c', 'exit 5']);
    await untilRestarting('again', 5); // a wait of 1.6 s or more: its waiter sleeps on after the stop
    expect(cli.run(['stop', 'again']).code).toBe(0);
    expect(inspect('again', '{{.State.Status}} {{.State.Restarting}}')).toBe('exited false');
    const count = Number(inspect('again', '{{.RestartCount}}'));
    expect(cli.run(['start', 'again']).code).toBe(0);
    // It fails at once; its exit must get a wait of its own, not find the old waiter's hold.
    await until('again to be restarted after its manual start', () => Number(inspect('again', '{{.RestartCount}}')) > count, 10_000);
    expect(cli.run(['rm', '-f', 'again']).code).toBe(0);
  }, 60_000);

  it('rm -f during the backoff removes the container and nothing starts it again', async () => {
    const id = cli.run(['run', '-d', '--name', 'gone', '--restart', 'always', '--network', 'none', image, 'sh', '-c', 'exit 2']).stdout.trim();
    await untilRestarting('gone', 5); // the wait is 1.6 s now
    expect(cli.run(['rm', '-f', 'gone']).code).toBe(0);
    await sleep(2000);
    expect(cli.run(['ps', '-aq', '--no-trunc']).stdout).not.toContain(id);
    expect(cli.run(['inspect', 'gone']).code).not.toBe(0);
  }, 60_000);

  it('a waiter killed with -9 during the backoff leaves a plain exited container', async () => {
    const id = cli.run(['run', '-d', '--name', 'orphan', '--restart', 'always', '--network', 'none', image, 'sh', '-c', 'exit 6']).stdout.trim();
    await untilRestarting('orphan', 5);
    // The process waiting out the backoff is the helper (`tsrun-helper backoff`), small, which will
    // run `container restart-after-backoff`; the `container cleanup` its monitor ran (Node) is gone.
    const processesWith = (...words: string[]) =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            return words.every((w) => argv.includes(w));
          } catch {
            return false;
          }
        });
    const waiters = processesWith('backoff', 'restart-after-backoff', id);
    expect(waiters).toHaveLength(1);
    expect(processesWith('cleanup', id)).toEqual([]);
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${waiters[0]}/status`, 'utf8'))?.[1]);
    expect(rssKb).toBeLessThan(2048);
    process.kill(Number(waiters[0]), 'SIGKILL');
    await sleep(200);
    expect(inspect('orphan', '{{.State.Status}} {{.State.Restarting}} {{.State.ExitCode}}')).toBe('exited false 6');
    expect(cli.run(['ps', '-f', 'name=orphan', '--format', '{{.Names}}']).stdout).toBe('');
    expect(cli.run(['rm', 'orphan']).code).toBe(0);
  }, 60_000);
});
