// `tsrun ps --filter` and `tsrun container prune` (question, --filter) end to end, with
// real containers from the project's busybox image on the local docker-registry.
import { describe, expect, it } from 'vitest';
import type { RunningRegistry } from '../support/registry-server.js';
import type { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ registry: reg, cli, image } = env));

const ok = (args: string[]) => cli.ok(args);
/** Names `ps` lists for these flags, newest first. */
const names = (...args: string[]) => ok(['ps', '--format', '{{.Names}}', ...args]).split('\n').filter(Boolean);
const idOf = (name: string) => ok(['inspect', '--format', '{{.Id}}', name]).trim();

describe('ps --filter', () => {
  it('filters as Docker: name, id, label, status, exited, before/since, volume, network, ancestor; with -a, -q, --no-trunc, --format, -n, -l', () => {
    // Oldest first: psa exits 0, psb exits 3, psc is only created, psd runs.
    ok(['run', '--name', 'psa', '--label', 'tier=front', '--label', 'env=prod', '-v', 'psvol:/data', image, 'true']);
    expect(cli.run(['run', '--name', 'psb', '--label', 'tier=back', image, 'sh', '-c', 'exit 3']).code).toBe(3);
    ok(['create', '--name', 'psc', '--network', 'none', image, 'true']);
    ok(['run', '-d', '--name', 'psd', image, 'sleep', '600']);

    expect(names('-a', '-f', 'name=ps')).toEqual(['psd', 'psc', 'psb', 'psa']);
    expect(names('-f', 'name=ps')).toEqual(['psd']);
    expect(names('-a', '-f', 'name=^psa$')).toEqual(['psa']);
    expect(names('-a', '--filter', 'name=psa', '--filter', 'name=psc')).toEqual(['psc', 'psa']);
    // Different keys AND.
    expect(names('-a', '-f', 'name=ps', '-f', 'label=tier=back')).toEqual(['psb']);
    expect(names('-a', '-f', 'label=tier')).toEqual(['psb', 'psa']);
    expect(names('-a', '-f', 'label=tier', '-f', 'label=env=prod')).toEqual(['psa']);

    // A status filter lists stopped containers without -a, as Docker's does; exited needs -a.
    expect(names('-f', 'status=exited')).toEqual(['psb', 'psa']);
    expect(names('-f', 'status=created')).toEqual(['psc']);
    expect(names('-f', 'status=running')).toEqual(['psd']);
    expect(names('-f', 'status=created', '-f', 'status=running')).toEqual(['psd', 'psc']);
    expect(names('-a', '-f', 'exited=3')).toEqual(['psb']);
    expect(names('-a', '-f', 'exited=0')).toEqual(['psa']); // psc never ran
    expect(names('-f', 'exited=0')).toEqual([]);

    expect(names('-a', '-f', 'since=psb')).toEqual(['psd', 'psc']);
    expect(names('-a', '-f', 'before=psc')).toEqual(['psb', 'psa']);
    expect(names('-a', '-f', `before=${idOf('psd').slice(0, 12)}`, '-f', 'since=psa')).toEqual(['psc', 'psb']);

    expect(names('-a', '-f', 'volume=psvol')).toEqual(['psa']);
    expect(names('-a', '-f', 'volume=/data')).toEqual(['psa']);
    expect(names('-a', '-f', 'network=none')).toEqual(['psc']);
    expect(names('-f', 'network=bridge')).toEqual(['psd']);
    expect(names('-a', '-f', 'health=none', '-f', 'name=ps')).toEqual(['psd', 'psc', 'psb', 'psa']);

    const psd = idOf('psd');
    expect(ok(['ps', '-q', '-f', `id=${psd.slice(0, 8)}`])).toBe(`${psd.slice(0, 12)}\n`);
    expect(ok(['ps', '-aq', '--no-trunc', '-f', 'name=psd'])).toBe(`${psd}\n`);
    expect(ok(['ps', '-a', '-f', 'name=psb', '--format', '{{.Names}} {{.Status}}'])).toMatch(/^psb Exited \(3\) .* ago\n$/);
    const table = ok(['ps', '-a', '-f', 'name=psa']).split('\n');
    expect(table[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(table.slice(1).filter(Boolean)).toHaveLength(1);
    expect(table[1]).toMatch(/Exited \(0\).*psa$/);

    // -n and -l count all states, after the filters.
    expect(names('-l')).toEqual(['psd']);
    expect(names('-n', '2', '-f', 'label=tier')).toEqual(['psb', 'psa']);
    expect(names('-n', '1', '-f', 'label=tier')).toEqual(['psb']);
    expect(names('-n', '5', '-f', 'label=tier')).toEqual(['psb', 'psa']);
  });

  it('ancestor: the image by name, name:tag, ID or digest, and images built on it', () => {
    const derived = `${reg.host}/derived-ps:1`;
    ok(['commit', 'psa', derived]);
    ok(['run', '--name', 'pse', derived, 'true']);
    const all = ['pse', 'psd', 'psc', 'psb', 'psa'];
    expect(names('-a', '-f', `ancestor=${image}`, '-f', 'name=ps')).toEqual(all);
    expect(names('-a', '-f', `ancestor=${image}:latest`, '-f', 'name=ps')).toEqual(all);
    const id = ok(['image', 'inspect', '--format', '{{.Id}}', image]).trim();
    expect(names('-a', '-f', `ancestor=${id.replace('sha256:', '').slice(0, 12)}`, '-f', 'name=ps')).toEqual(all);
    const digest = ok(['image', 'inspect', '--format', '{{index .RepoDigests 0}}', image]).trim();
    expect(digest).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(names('-a', '-f', `ancestor=${digest}`, '-f', 'name=ps')).toEqual(all);
    expect(names('-a', '-f', `ancestor=${derived}`)).toEqual(['pse']);
    // An image tsrun does not have matches nothing (Docker's rule).
    expect(names('-a', '-f', `ancestor=${reg.host}/not-here`)).toEqual([]);
    ok(['rm', 'pse']);
  });

  it('finds a container by name the way docker-verbs.test.ts\'s "ps -aq -f name=mn1" expects it gone', () => {
    const id = ok(['run', '-d', '--name', 'mn1', image, 'sleep', '600']).trim();
    expect(ok(['ps', '-aq', '-f', 'name=mn1'])).toBe(`${id.slice(0, 12)}\n`);
    ok(['rm', '-f', 'mn1']);
    expect(ok(['ps', '-aq', '-f', 'name=mn1'])).toBe('');
  });

  it('refuses unknown keys and bad values in Docker\'s words, through tsrun\'s error form, with 125', () => {
    for (const [flag, message] of [
      ['colour=red', "invalid filter 'colour'"],
      ['status=sometimes', "invalid filter 'status=sometimes'"],
      ['exited=zero', "invalid filter 'exited=zero'"],
      ['name', 'bad format of filter (expected name=value): name'],
    ] as const) {
      const r = cli.run(['ps', '-a', '-f', flag]);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }, flag).toEqual({ code: 125, stdout: '', stderr: `tsrun: ${message}\n` });
    }
    const ghost = cli.run(['ps', '-a', '-f', 'since=ghost']);
    expect({ code: ghost.code, stderr: ghost.stderr }).toEqual({ code: 125, stderr: 'tsrun: no such container: ghost\n' });
  });
});

describe('container prune', () => {
  const question = 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ';
  const present = () => names('-a', '-f', 'name=ps');

  it('asks first; no answer or anything but y removes nothing', () => {
    for (const input of ['', 'n\n', 'maybe\n']) {
      const r = cli.run(['container', 'prune'], { input });
      expect({ code: r.code, stdout: r.stdout }, JSON.stringify(input)).toEqual({ code: 0, stdout: question });
      expect(present()).toEqual(['psd', 'psc', 'psb', 'psa']);
    }
  });

  it('--filter label / until removes only the stopped containers it selects, after a yes', () => {
    const psb = idOf('psb');
    const r = cli.run(['container', 'prune', '--filter', 'label=tier=back'], { input: 'y\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${question.replace(/[[\]?.]/g, '\\$&')}Deleted Containers:\n${psb}\n\nTotal reclaimed space: `));
    expect(present()).toEqual(['psd', 'psc', 'psa']);
    // Everything here is younger than an hour: until=1h keeps it all.
    expect(ok(['container', 'prune', '-f', '--filter', 'until=1h'])).toBe('Total reclaimed space: 0B\n');
    const psc = idOf('psc');
    expect(ok(['container', 'prune', '-f', '--filter', 'label!=tier'])).toMatch(new RegExp(`^Deleted Containers:\n${psc}\n\n`));
    expect(present()).toEqual(['psd', 'psa']);
    const bad = cli.run(['container', 'prune', '-f', '--filter', 'name=psa']);
    expect({ code: bad.code, stderr: bad.stderr }).toEqual({ code: 125, stderr: "tsrun: invalid filter 'name'\n" });
    // -f: no question; the running one stays.
    expect(ok(['container', 'prune', '-f'])).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: /);
    expect(present()).toEqual(['psd']);
    ok(['rm', '-f', 'psd']);
  });
});
