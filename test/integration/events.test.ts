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

  it('records network create, connect (at run and network connect), disconnect (network disconnect and rm) and destroy', () => {
    const [net1, net2] = [`ev-net-${process.pid}`, `ev-net2-${process.pid}`];
    const since = (Date.now() / 1000).toFixed(3);
    try {
      const id1 = ok(['network', 'create', net1]).trim();
      const id2 = ok(['network', 'create', net2]).trim();
      const cid = ok(['run', '-d', '--name', 'ev5', '--network', net1, image, 'sleep', '300']).trim();
      ok(['network', 'connect', net2, 'ev5']);
      ok(['network', 'disconnect', net2, 'ev5']);
      ok(['rm', '-f', 'ev5']);
      const plain = ok(['run', '-d', '--name', 'ev6', image, 'sleep', '300']).trim();
      ok(['rm', '-f', 'ev6']);
      ok(['network', 'rm', net1]);
      ok(['network', 'prune', '-f']);
      const until = (Date.now() / 1000 + 0.001).toFixed(3);
      const events = (...filters: string[]) => {
        const r = cli.run(['events', '--since', since, '--until', until, '--format', '{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}', ...filters]);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout.trim().split('\n').filter(Boolean);
      };
      const attrs = (container: string | undefined, name: string) => JSON.stringify({ ...(container ? { container } : {}), name, type: 'bridge' });
      expect(events('-f', `network=${net1}`)).toEqual([
        `create ${id1} ${attrs(undefined, net1)}`,
        `connect ${id1} ${attrs(cid, net1)}`,
        `disconnect ${id1} ${attrs(cid, net1)}`,
        `destroy ${id1} ${attrs(undefined, net1)}`,
      ]);
      // By id prefix; prune's removal is a destroy too.
      expect(events('-f', `network=${id2.slice(0, 12)}`).map((l) => l.split(' ')[0])).toEqual(['create', 'connect', 'disconnect', 'destroy']);
      // A container on the default network joins and leaves Docker's "bridge".
      const bridge = events('-f', 'type=network', '-f', 'network=bridge');
      expect(bridge.map((l) => l.split(' ')[0])).toEqual(['connect', 'disconnect']);
      expect(bridge[0]).toContain(attrs(plain, 'bridge'));
      expect(events('-f', 'type=network', '-f', 'event=connect')).toHaveLength(3);
      // The default line: time, type network, action, network id, sorted attributes.
      const line = cli.run(['events', '--since', since, '--until', until, '-f', `network=${net1}`, '-f', 'event=connect']).stdout;
      expect(line).toMatch(new RegExp(` network connect ${id1} \\(container=${cid}, name=${net1}, type=bridge\\)\\n$`));
      // Network events are not the container's: its own filter leaves them out, as Docker's.
      expect(events('-f', 'container=ev5').map((l) => l.split(' ')[0])).not.toContain('connect');
    } finally {
      cli.run(['rm', '-f', 'ev5', 'ev6']);
      cli.run(['network', 'rm', net1, net2]);
    }
  });

  it('prints local times with their offset (TZ) and reads a zoneless --since as local time, as the Docker CLI', () => {
    const at = Date.now() - 2000;
    ok(['create', '--name', 'ev7', image, 'true']);
    ok(['rm', 'ev7']);
    const until = (Date.now() / 1000 + 0.001).toFixed(3);
    // Asia/Kolkata is UTC+05:30 all year; its wall clock 2 s ago, without a zone.
    const kolkataWall = new Date(at + 5.5 * 3_600_000).toISOString().slice(0, 19);
    const inKolkata = cli.run(['events', '--since', kolkataWall, '--until', until, '-f', 'container=ev7'], { env: { TZ: 'Asia/Kolkata' } });
    expect(inKolkata.code, inKolkata.stderr).toBe(0);
    const lines = inKolkata.stdout.trim().split('\n');
    expect(actions(inKolkata.stdout)).toEqual(['create', 'destroy']);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+05:30 container create /);
    // The same wall clock read in UTC is 5.5 hours from now: nothing since then.
    const inUtc = cli.run(['events', '--since', kolkataWall, '--until', until, '-f', 'container=ev7'], { env: { TZ: 'UTC' } });
    expect([inUtc.code, inUtc.stdout]).toEqual([0, '']);
    // json keeps epoch numbers whatever the zone.
    const json = cli.run(['events', '--since', String(at / 1000), '--until', until, '-f', 'container=ev7', '--format', '{{json .}}'], { env: { TZ: 'Asia/Kolkata' } });
    const first = JSON.parse(json.stdout.split('\n')[0]!) as { time: number; timeNano: number };
    expect(typeof first.time).toBe('number');
    expect(Math.abs(first.time * 1000 - at)).toBeLessThan(60_000);
  });

  it('ends at a future --until while following', async () => {
    const t0 = Date.now();
    const r = await cli.runAsync(['events', '--until', String(Date.now() / 1000 + 1)], { timeoutMs: 10_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
  });
});
