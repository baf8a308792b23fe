// tsrun events: the engine's events log read back by the CLI, with real containers from the
// project's busybox image on the real docker-registry at 127.0.0.1. Run as root under the
// integration lock.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { waitFor as waitForCondition } from '../support/wait.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

const ok = (args: string[]) => cli.ok(args);

const waitFor = (cond: () => boolean, what: string) => waitForCondition(cond, what, 15_000);

const actions = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => l.split(' ')[2]);

describe('tsrun events', () => {
  it('records create, start, die, stop and destroy of a detached container, read back with --since/--until', async () => {
    const since = (Date.now() / 1000).toFixed(3);
    const id = ok(['run', '-d', '--name', 'ev1', image, 'sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.1; done']).trim();
    ok(['stop', 'ev1']);
    ok(['rm', 'ev1']);
    const until = (Date.now() / 1000 + 0.001).toFixed(3);
    const r = cli.run(['events', '--since', since, '--until', until, '-f', `container=${id}`], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(actions(r.stdout)).toEqual(['create', 'start', 'kill', 'die', 'stop', 'destroy']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z container create ${id} \\(image=${image}, name=ev1\\)$`));
    expect(lines[3]).toContain('exitCode=3');
    expect(lines[2]).toContain('signal=15');
    // Filters: by name and by event; different keys AND-ed, repeated ones OR-ed.
    const byName = cli.run(['system', 'events', '--since', since, '--until', until, '-f', 'container=ev1', '-f', 'event=start', '-f', 'event=destroy']);
    expect(byName.code, byName.stderr).toBe(0);
    expect(actions(byName.stdout)).toEqual(['start', 'destroy']);
    const none = cli.run(['events', '--since', since, '--until', until, '-f', 'container=ev1', '-f', 'type=image']);
    expect(none.stdout).toBe('');
  });

  it('--format json gives Docker events.Message fields; a template gets .Actor.Attributes', () => {
    const since = (Date.now() / 1000).toFixed(3);
    ok(['create', '--name', 'ev2', '--label', 'team=a', image, 'true']);
    ok(['rm', 'ev2']);
    const until = (Date.now() / 1000 + 0.001).toFixed(3);
    const r = cli.run(['events', '--since', since, '--until', until, '-f', 'container=ev2', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(events.map((e) => e.Action)).toEqual(['create', 'destroy']);
    const e = events[0]!;
    expect(e).toMatchObject({ status: 'create', from: image, Type: 'container', Action: 'create', scope: 'local' });
    expect(e.id).toBe(e.Actor.ID);
    expect(e.Actor.Attributes).toEqual({ image, name: 'ev2', team: 'a' });
    expect(typeof e.time).toBe('number');
    expect(r.stdout).toMatch(/"timeNano":\d{19}\}/);
    const t = cli.run(['events', '--since', since, '--until', until, '-f', 'label=team=a', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Type}}']);
    expect(t.stdout).toBe('create ev2 container\ndestroy ev2 container\n');
  });

  it('a follower started before run --rm prints its start and die, then its destroy', async () => {
    const child = spawn(process.execPath, cli.args(['events', '-f', 'container=ev3']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      await sleep(500); // the follower has read the log's end
      const r = cli.run(['run', '--rm', '--name', 'ev3', image, 'sh', '-c', 'exit 7']);
      expect(r.code).toBe(7);
      await waitFor(() => out.includes(' destroy '), 'the destroy event');
      expect(actions(out)).toEqual(['create', 'start', 'die', 'destroy']);
      expect(out).toContain('exitCode=7');
    } finally {
      process.kill(child.pid!, 'SIGTERM');
    }
  });

  it('records the die of a detached --rm container seen by the monitor exit command', async () => {
    const since = (Date.now() / 1000).toFixed(3);
    ok(['run', '-d', '--rm', '--name', 'ev4', image, 'sh', '-c', 'exit 2']);
    await waitFor(() => cli.run(['inspect', 'ev4']).code !== 0, 'ev4 removed');
    const r = cli.run(['events', '--since', since, '--until', '0s', '-f', 'container=ev4']);
    expect(actions(r.stdout)).toEqual(['create', 'start', 'die', 'destroy']);
    expect(r.stdout).toContain('exitCode=2');
  });

  it('ends at a future --until while following', async () => {
    const t0 = Date.now();
    const r = await cli.runAsync(['events', '--until', String(Date.now() / 1000 + 1)], { timeoutMs: 10_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
  });
});
