// tsrkt end to end, the rkt behaviours beyond rkt.test.ts: rkt-shaped image IDs
// ("sha512-..."), implicit empty volumes for an image's mount points, the pod's
// /etc/resolv.conf and /etc/hosts from --dns* and --hosts-entry, and per-app
// stdio modes with `tsrkt attach`. Real pods of the project's busybox (and a
// busybox with VOLUME paths derived from it here) from the real docker-registry
// on 127.0.0.1. No name is ever resolved: the DNS tests only read the files.
// Root, under the integration lock.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveOciLayout } from '../support/derive-layout.js';
import { tarOf } from '../support/oci-layout.js';
import { pushImage, type RunningRegistry, serveBusybox } from '../support/registry-server.js';
import { rktHarness } from '../support/rkt-cli.js';
import { REPO, type CliResult, type TsrunCli } from '../support/tsrun-cli.js';

const pods = rktHarness();
const { ok, podUuids, status, runInBackground, runSaving, waitFor } = pods;
let reg: RunningRegistry;
let rkt: TsrunCli;
let tsrun: TsrunCli;
let image: string;
/** busybox plus /data (mode 0750, with seed.txt) and an empty /cache; VOLUME /data, /cache and /fresh (absent from the image). */
let volImage: string;
let volConfig: Buffer;
let work: string;

beforeAll(async () => {
  ({ registry: reg, image } = await serveBusybox());
  work = mkdtempSync('/tmp/tsrkt-extra-work-');
  const layer = tarOf([{ path: 'data/', mode: 0o750 }, { path: 'data/seed.txt', content: 'seed\n', mode: 0o640 }, { path: 'cache/' }]);
  ({ configBlob: volConfig } = deriveOciLayout(join(REPO, 'images/out/busybox'), join(work, 'vol-layout'), 'latest', layer, (cfg) => {
    cfg.Volumes = { '/data': {}, '/cache': {}, '/fresh': {} };
  }));
  await pushImage(join(work, 'vol-layout'), reg.host, 'busybox-vol:latest');
  volImage = `${reg.host}/busybox-vol`;
  ({ rkt, tsrun } = pods);
  for (const img of [image, volImage]) ok(['fetch', img]);
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** An error of tsrkt's own: exit 254 and a message matching `msg`. */
function fails(args: string[], msg: RegExp): void {
  const r = rkt.run(args);
  expect(r.code, `tsrkt ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(254);
  expect(r.stderr, args.join(' ')).toMatch(msg);
}
/** App output without rkt's console prefix. */
const lines = (stdout: string) => stdout.split('\n').filter(Boolean).map((l) => l.replace(/^\[[^\]]*\] [a-z0-9.-]+\[\d+\]: /, ''));
const volumesOf = (uuid: string) => join(rkt.root, 'rkt', 'volumes', uuid);
/** `tsrkt attach ...` with `input` on its stdin (then EOF). */
const attach = (args: string[], input: string): Promise<CliResult> => rkt.runAsync(['attach', ...args], { input, timeoutMs: 30_000 });

describe('rkt image IDs (sha512-...)', () => {
  let busyboxId: string;
  const volId = () => `sha512-${createHash('sha512').update(volConfig).digest('hex').slice(0, 64)}`;

  it('fetch prints the rkt ID: sha512- and 64 hex digits of the SHA-512 of the config blob; tsrun keeps its sha256 ID', () => {
    busyboxId = ok(['fetch', image]).trim().split('\n').pop()!;
    expect(busyboxId).toMatch(/^sha512-[0-9a-f]{64}$/);
    expect(ok(['fetch', `docker://${volImage}`]).trim().split('\n').pop()).toBe(volId());
    const sha256 = `sha256:${createHash('sha256').update(volConfig).digest('hex')}`;
    expect(tsrun.run(['images', '-q', '--no-trunc', volImage]).stdout.trim()).toBe(sha256);
    expect(tsrun.run(['image', 'inspect', sha256]).code).toBe(0);
  });

  it('image list shows sha512- and 12 hex digits, --full and JSON the whole ID', () => {
    const rows = ok(['image', 'list', '--no-legend']).split('\n').filter(Boolean);
    expect(rows.find((r) => r.includes(`${volImage}:latest`))).toMatch(new RegExp(`^${volId().slice(0, 19)}\\s`));
    expect(rows.every((r) => /^sha512-[0-9a-f]{12}\s/.test(r))).toBe(true);
    const full = ok(['image', 'list', '--full', '--no-legend']).split('\n').filter(Boolean);
    expect(full.find((r) => r.includes(`${image}:latest`))).toMatch(new RegExp(`^${busyboxId}\\s`));
    const json = JSON.parse(ok(['image', 'list', '--format', 'json'])) as Array<{ id: string; name: string }>;
    expect(json.find((i) => i.name === `${volImage}:latest`)?.id).toBe(volId());
  });

  it('image list --fields picks and orders the columns, --sort/--order the rows; LAST USED follows prepare', () => {
    const table = (args: string[]) => ok(['image', 'list', ...args]).split('\n').filter(Boolean).map((l) => l.split(/\s{2,}/));
    const [header, ...rows] = table(['--fields=name,latest,id,size,lastused,importtime']);
    expect(header).toEqual(['NAME', 'LATEST', 'ID', 'SIZE', 'LAST USED', 'IMPORT TIME']);
    const vol = rows.find((r) => r[0] === `${volImage}:latest`)!;
    expect(vol.slice(1, 3)).toEqual(['true', volId().slice(0, 19)]);
    expect(vol[4]).toMatch(/ ago$/);
    // --full: sizes in bytes and Go's timestamps.
    const full = table(['--full', '--no-legend', '--fields=id,size,importtime']).find((r) => r[0] === volId())!;
    expect(full[1]).toMatch(/^\d+$/);
    expect(full[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,3})? \+0000 UTC$/);
    // Sorting: by name both ways; the default (import time, ascending) puts the first fetched first.
    const byName = table(['--no-legend', '--fields=name', '--sort=name']).map((r) => r[0]!);
    expect(byName).toEqual([...byName].sort());
    expect(table(['--no-legend', '--fields=name', '--sort=name', '--order=desc']).map((r) => r[0])).toEqual([...byName].reverse());
    const byImport = table(['--no-legend', '--fields=name']).map((r) => r[0]);
    expect(byImport.indexOf(`${image}:latest`)).toBeLessThan(byImport.indexOf(`${volImage}:latest`));
    // Preparing a pod makes its image the most recently used.
    const uuid = ok(['prepare', volImage, '--exec', '/bin/true']).trim();
    expect(table(['--no-legend', '--fields=name', '--sort=lastused', '--order=desc'])[0]![0]).toBe(`${volImage}:latest`);
    const fullUsed = table(['--full', '--no-legend', '--fields=name,lastused,importtime']).find((r) => r[0] === `${volImage}:latest`)!;
    expect(Date.parse(fullUsed[1]!.replace(' +0000 UTC', 'Z').replace(' ', 'T'))).toBeGreaterThan(Date.parse(fullUsed[2]!.replace(' +0000 UTC', 'Z').replace(' ', 'T')));
    ok(['rm', uuid]);
    // The default columns are unchanged.
    expect(ok(['image', 'list']).split('\n')[0]).toMatch(/^ID\s+NAME\s+SIZE\s+IMPORT TIME$/);
  });

  it('image list refuses unknown fields and orders with 254, naming them and the valid ones', () => {
    fails(['image', 'list', '--fields=id,bogus'], /unknown field "bogus" for --fields: valid fields are id, name, size, importtime, lastused, latest/);
    fails(['image', 'list', '--sort=created'], /unknown field "created" for --sort/);
    fails(['image', 'list', '--order=up'], /invalid --order "up": use asc or desc/);
  });

  it('takes an ID prefix wherever an image is named: cat-manifest, run, export; refuses short, unknown and ambiguous ones with 254', () => {
    const byId = JSON.parse(ok(['image', 'cat-manifest', volId().slice(0, 15)]));
    expect(byId).toEqual(JSON.parse(ok(['image', 'cat-manifest', volImage])));
    expect(byId.app.mountPoints).toEqual([
      { name: 'volume-cache', path: '/cache', readOnly: false },
      { name: 'volume-data', path: '/data', readOnly: false },
      { name: 'volume-fresh', path: '/fresh', readOnly: false },
    ]);
    const r = runSaving([busyboxId.slice(0, 13), '--exec', '/bin/echo', '--', 'by-id']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/busybox\[\d+\]: by-id/); // the app is named after the image's name
    const tar = join(work, 'by-id.tar');
    ok(['image', 'export', busyboxId.slice(0, 10), tar]);
    expect(statSync(tar).size).toBeGreaterThan(100_000);
    fails(['image', 'cat-manifest', 'sha512-a'], /too short/);
    fails(['image', 'cat-manifest', `sha512-${'0'.repeat(20)}`], /sha512-0{20}/);
    fails(['run', 'sha512-', '--exec', '/bin/true'], /too short/);
    ok(['rm', r.uuid]);
  });

  it('list --full, status --format json and cat-manifest show the pod images by their rkt IDs', async () => {
    const bg = await runInBackground([image, '--exec', '/bin/sleep', '--', '600']);
    await waitFor(() => status(bg.uuid).state === 'running');
    const row = ok(['list', '--full', '--no-legend']).split('\n').find((l) => l.startsWith(bg.uuid))!;
    expect(row).toMatch(new RegExp(`^${bg.uuid}\\s+busybox\\s+\\S+busybox\\s+${busyboxId.slice(0, 19)}\\s+running`));
    expect(JSON.parse(ok(['status', '--format', 'json', bg.uuid])).apps[0].image_id).toBe(busyboxId);
    expect(JSON.parse(ok(['list', '--format', 'json'])).find((p: { name: string }) => p.name === bg.uuid).apps[0].image_id).toBe(busyboxId);
    expect(JSON.parse(ok(['cat-manifest', bg.uuid])).apps[0].image.id).toBe(busyboxId);
    ok(['stop', '--force', bg.uuid]);
    await bg.done;
    ok(['rm', bg.uuid]);
  });
});

describe('implicit empty volumes for an image\'s mount points', () => {
  it('each unfilled mount point gets <app>-<mount point>: the image\'s content, mode and owner, 0755 root when absent; removed with the pod', () => {
    const r = runSaving([volImage, '--exec', '/bin/sh', '--', '-c', 'cat /data/seed.txt; echo new > /data/new; stat -c "%a %u" /data /cache /fresh; ls /cache | wc -l']);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(['seed', '750 0', '755 0', '755 0', '0']);
    for (const mp of ['volume-cache', 'volume-data', 'volume-fresh']) {
      expect(r.stderr).toContain(`warning: no volume specified for mount point "${mp}", implicitly creating an "empty" volume`);
    }
    const dir = volumesOf(r.uuid);
    expect(readdirSync(dir).filter((d) => !d.startsWith('.')).sort()).toEqual(['busybox-vol-volume-cache', 'busybox-vol-volume-data', 'busybox-vol-volume-fresh']);
    expect(readFileSync(join(dir, 'busybox-vol-volume-data', 'seed.txt'), 'utf8')).toBe('seed\n');
    expect(readFileSync(join(dir, 'busybox-vol-volume-data', 'new'), 'utf8')).toBe('new\n');
    // rkt volumes, not engine ones: tsrun made no anonymous volume for the image's VOLUMEs.
    expect(tsrun.run(['volume', 'ls', '-q']).stdout.trim()).toBe('');
    const manifest = JSON.parse(ok(['cat-manifest', r.uuid]));
    expect(manifest.volumes).toContainEqual({ name: 'busybox-vol-volume-data', kind: 'empty', readOnly: false, mode: '0755', uid: 0, gid: 0 });
    expect(manifest.apps[0].mounts).toContainEqual({ volume: 'busybox-vol-volume-data', path: '/data' });
    ok(['gc', '--grace-period=0s']);
    expect(existsSync(dir)).toBe(false);
  });

  it('a --volume named like the mount point fills it, and so does a --mount at its path: no implicit volume then', () => {
    const host = mkdtempSync(join(work, 'host-'));
    writeFileSync(join(host, 'from-host'), 'host\n');
    const r = runSaving([
      '--volume', `volume-data,kind=host,source=${host}`, '--volume', 'scratch,kind=empty,mode=0700',
      volImage, '--mount', 'volume=scratch,target=/cache', '--exec', '/bin/sh', '--', '-c', 'cat /data/from-host; ls /data; stat -c %a /cache',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(['host', 'from-host', '700']); // no seed.txt: the host directory as it is
    expect(r.stderr).not.toContain('"volume-data"');
    expect(r.stderr).not.toContain('"volume-cache"');
    expect(r.stderr).toContain('"volume-fresh"');
    expect(readdirSync(volumesOf(r.uuid)).filter((d) => !d.startsWith('.')).sort()).toEqual(['busybox-vol-volume-fresh', 'scratch']);
    ok(['rm', r.uuid]);
  });

  it('two apps of one image get their own implicit volumes', () => {
    const r = runSaving([volImage, '--name', 'one', '--exec', '/bin/sh', '--', '-c', 'echo one > /data/who', '---', volImage, '--name', 'two', '--exec', '/bin/sh', '--', '-c', 'sleep 0.5; cat /data/who 2>/dev/null || echo none']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/two\[\d+\]: none/);
    expect(readFileSync(join(volumesOf(r.uuid), 'one-volume-data', 'who'), 'utf8')).toBe('one\n');
    ok(['rm', r.uuid]);
  });
});

describe("the pod's /etc/resolv.conf and /etc/hosts", () => {
  it('--dns, --dns-search, --dns-opt, --dns-domain write resolv.conf; --hosts-entry adds lines to rkt\'s default hosts; both pod-wide', () => {
    const r = runSaving([
      '--dns', '10.1.2.3', '--dns=10.1.2.4', '--dns-search', 'example.test', '--dns-opt=ndots:3', '--dns-domain', 'example.org',
      '--hosts-entry', '10.9.8.7=db,10.9.8.7=db2', '--hosts-entry=10.9.8.6=cache',
      image, '--name', 'a', '--exec', '/bin/sh', '--', '-c', 'cat /etc/resolv.conf /etc/hosts',
      '---', image, '--name', 'b', '--exec', '/bin/sh', '--', '-c', 'sleep 0.3; grep -c . /etc/resolv.conf; grep -c 10.9.8 /etc/hosts',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const a = r.stdout.split('\n').filter((l) => / a\[\d+\]: /.test(l)).map((l) => l.replace(/^.* a\[\d+\]: /, '')).filter(Boolean);
    expect(a.slice(0, 6)).toEqual(['# Generated by tsrkt run', 'search example.test', 'nameserver 10.1.2.3', 'nameserver 10.1.2.4', 'options ndots:3', 'domain example.org']);
    expect(a).toContain('10.9.8.7 db db2');
    expect(a).toContain('10.9.8.6 cache');
    expect(a.some((l) => /^127\.0\.0\.1\s+localhost/.test(l))).toBe(true);
    const b = r.stdout.split('\n').filter((l) => / b\[\d+\]: /.test(l)).map((l) => l.replace(/^.* b\[\d+\]: /, ''));
    expect(b).toEqual(['6', '2']);
    ok(['rm', r.uuid]);
  });

  it("--dns=host and --hosts-entry=host give the host's files, read-only", () => {
    const r = runSaving(['--dns=host', '--hosts-entry=host', image, '--exec', '/bin/sh', '--', '-c', 'cat /etc/resolv.conf; echo =====; cat /etc/hosts; echo =====; echo x >> /etc/hosts && echo writable || echo read-only']);
    expect(r.code, r.stderr).toBe(0);
    const [resolv, hosts, write] = lines(r.stdout).join('\n').split('\n=====\n');
    expect(resolv).toBe(readFileSync('/etc/resolv.conf', 'utf8').split('\n').filter(Boolean).join('\n'));
    expect(hosts).toBe(readFileSync('/etc/hosts', 'utf8').split('\n').filter(Boolean).join('\n'));
    expect(write).toBe('read-only');
    ok(['rm', r.uuid]);
  });

  it("--dns=none leaves the image's own resolv.conf (the default is the host's name servers)", () => {
    const rendered = join(work, 'rendered');
    ok(['image', 'render', '--rootfs-only', image, rendered]);
    const own = existsSync(join(rendered, 'etc/resolv.conf')) ? readFileSync(join(rendered, 'etc/resolv.conf'), 'utf8') : '';
    const none = runSaving(['--dns=none', image, '--exec', '/bin/cat', '--', '/etc/resolv.conf']);
    expect(none.code, none.stderr).toBe(0);
    expect(lines(none.stdout).join('\n')).toBe(own.split('\n').filter(Boolean).join('\n'));
    const dflt = runSaving([image, '--exec', '/bin/cat', '--', '/etc/resolv.conf']);
    const hostServers = readFileSync('/etc/resolv.conf', 'utf8').match(/^nameserver\s+\S+/gm) ?? [];
    if (hostServers.some((s) => !/\s(127\.|::1)/.test(s))) expect(lines(dflt.stdout).join('\n')).toMatch(/^nameserver /m);
    expect(lines(dflt.stdout).join('\n')).not.toBe(lines(none.stdout).join('\n'));
    ok(['rm', none.uuid]);
    ok(['rm', dflt.uuid]);
  });

  it('app sandbox takes the DNS flags; apps added later get the pod files', async () => {
    const uuid = ok(['app', 'sandbox', '--dns', '10.7.7.7', '--hosts-entry', '10.7.7.8=svc']).trim();
    ok(['app', 'add', uuid, image, '--name', 'show', '--exec', '/bin/sh', '--', '-c', 'grep nameserver /etc/resolv.conf; grep svc /etc/hosts']);
    ok(['app', 'start', uuid, '--app=show']);
    await waitFor(() => ok(['app', 'status', uuid, '--app=show']).includes('exit_code=0'));
    const app = JSON.parse(tsrun.run(['inspect', `rkt-${uuid}-show`]).stdout)[0];
    const log = readFileSync(app.LogPath, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { log: string }).log.trim());
    expect(log).toEqual(['nameserver 10.7.7.7', '10.7.7.8 svc']);
    ok(['stop', uuid]);
    ok(['rm', uuid]);
  });

  it("run-prepared's --dns* and --hosts-entry replace prepare's for the run; without them prepare's stay", () => {
    // The test's own entries only: "10.6" as a plain pattern also matched a random pod name with "1056" in it.
    const show = ['--exec', '/bin/sh', '--', '-c', 'grep -v "^#" /etc/resolv.conf; grep "^10\\.6\\." /etc/hosts || true'];
    const prepared = () => ok(['prepare', '--dns=10.6.0.1', '--dns-search=prep.test', '--hosts-entry=10.6.0.9=prepdb', image, '--name', 'show', ...show]).trim();
    const run = (uuid: string, flags: string[]) => {
      const r = rkt.run(['run-prepared', ...flags, uuid]);
      expect(r.code, r.stderr).toBe(0);
      return lines(r.stdout).filter(Boolean);
    };
    const kept = prepared();
    expect(run(kept, [])).toEqual(['search prep.test', 'nameserver 10.6.0.1', '10.6.0.9 prepdb']);
    const both = prepared();
    expect(run(both, ['--dns', '10.6.1.1', '--dns=10.6.1.2', '--dns-opt=ndots:2', '--dns-domain', 'run.test', '--hosts-entry', '10.6.1.9=rundb'])).toEqual([
      'nameserver 10.6.1.1', 'nameserver 10.6.1.2', 'options ndots:2', 'domain run.test', '10.6.1.9 rundb',
    ]);
    // Only the hosts side given: the resolv.conf side stays as prepared.
    const hostsOnly = prepared();
    expect(run(hostsOnly, ['--hosts-entry=10.6.2.9=other'])).toEqual(['search prep.test', 'nameserver 10.6.0.1', '10.6.2.9 other']);
    // A pod prepared with none gets them too; --mds-register=false is accepted.
    const plain = ok(['prepare', image, '--name', 'show', ...show]).trim();
    expect(run(plain, ['--mds-register=false', '--dns-search=late.test', '--dns=10.6.3.1'])).toEqual(['search late.test', 'nameserver 10.6.3.1']);
    for (const u of [kept, both, hostsOnly, plain]) ok(['rm', u]);
  });

  it('run-prepared refuses bad DNS flags and the flags tsrkt fixes at prepare with 254, leaving the pod prepared', () => {
    const uuid = ok(['prepare', image, '--exec', '/bin/true']).trim();
    fails(['run-prepared', '--dns=host', '--dns-search=x', uuid], /--dns=host/);
    fails(['run-prepared', '--hosts-entry=db', uuid], /did not understand --hosts-entry "db"/);
    fails(['run-prepared', '--net=host', uuid], /--net is not supported by tsrkt run-prepared: give it to tsrkt prepare/);
    fails(['run-prepared', '--hostname=h', uuid], /--hostname is not supported/);
    fails(['run-prepared', '--interactive', uuid], /--interactive is not supported/);
    fails(['run-prepared', '--mds-register', uuid], /no metadata service/);
    expect(status(uuid).state).toBe('prepared');
    expect(rkt.run(['run-prepared', '--dns=10.6.4.1', uuid]).code).toBe(0);
    ok(['rm', uuid]);
  });

  it("refuses rkt's invalid combinations with 254 before making anything", () => {
    const before = podUuids().length;
    fails(['run', '--dns=host', '--dns=1.1.1.1', image], /no other --dns options allowed when --dns=host/);
    fails(['run', '--dns=none', '--dns-opt=debug', image], /--dns=none/);
    fails(['run', '--dns=not-an-ip', image], /invalid IP passed to --dns/);
    fails(['run', '--hosts-entry=db', image], /did not understand --hosts-entry "db"/);
    fails(['run', '--hosts-entry=host', '--hosts-entry=1.2.3.4=x', image], /--hosts-entry=host/);
    fails(['app', 'sandbox', '--dns=host', '--dns-search=x'], /--dns=host/);
    expect(podUuids().length).toBe(before);
  });
});

describe('stdio modes and tsrkt attach', () => {
  it('--stdin=stream --stdout=stream: attach feeds stdin and gets stdout; tsrkt run prints only the log-mode stream', async () => {
    const bg = await runInBackground([image, '--name', 'echo', '--stdin=stream', '--stdout=stream', '--exec', '/bin/sh', '--', '-c', 'read x; echo got-$x; echo to-log >&2; exit 3']);
    await waitFor(() => status(bg.uuid).state === 'running' && tsrun.run(['ps']).stdout.includes(`rkt-${bg.uuid}-echo`));
    expect(ok(['attach', '--mode=list', bg.uuid])).toBe('stdin\nstdout\n');
    fails(['attach', '--mode=stderr', bg.uuid], /no stderr endpoint/);
    const a = await attach([bg.uuid.slice(0, 8)], 'hello\n');
    expect(a.stdout).toBe('got-hello\n');
    expect(a.stderr).not.toContain('to-log'); // stderr is in log mode: not an endpoint
    expect(a.code).toBe(3);
    const done = await bg.done;
    expect(done.code).toBe(3);
    expect(done.stdout).not.toContain('got-hello');
    expect(done.stderr).toMatch(/echo\[\d+\]: to-log/);
    expect(JSON.parse(ok(['cat-manifest', bg.uuid])).apps[0].annotations).toEqual([
      { name: 'coreos.com/rkt/stage2/stdin', value: 'stream' },
      { name: 'coreos.com/rkt/stage2/stdout', value: 'stream' },
      { name: 'coreos.com/rkt/stage2/stderr', value: 'log' },
    ]);
    ok(['rm', bg.uuid]);
  }, 60_000);

  it('tty mode gives the app a terminal that attach reaches', async () => {
    const bg = await runInBackground([image, '--name', 'term', '--stdin=tty', '--stdout=tty', '--stderr=tty', '--exec', '/bin/sh', '--', '-c', 'read x; echo tty-$x; tty']);
    await waitFor(() => status(bg.uuid).state === 'running' && tsrun.run(['ps']).stdout.includes(`rkt-${bg.uuid}-term`));
    expect(ok(['attach', '--mode=list', bg.uuid])).toBe('tty-in\ntty-out\n');
    const a = await attach(['--mode=tty', bg.uuid], 'hi\n');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/tty-hi\r?\n/);
    expect(a.stdout).toMatch(/\/dev\/pts\/\d+/);
    const done = await bg.done;
    expect(done.code).toBe(0);
    expect(done.stdout).not.toContain('tty-hi');
    ok(['rm', bg.uuid]);
  }, 60_000);

  it('refuses what cannot be done, with 254: null outputs, mixed terminals, --interactive with modes, attach without endpoints', async () => {
    fails(['run', image, '--stdout=null'], /--stdout=null is not supported by tsrkt/);
    fails(['run', image, '--stderr=tty'], /--stdout=tty and --stderr=tty together/);
    fails(['run', image, '--stdin=bogus'], /invalid stdin mode "bogus"/);
    fails(['run', '--interactive', image, '--stdin=stream'], /--interactive/);
    fails(['prepare', image, '--stdin=tty'], /--stdin=tty needs/);
    const bg = await runInBackground([image, '--exec', '/bin/sleep', '--', '600']);
    await waitFor(() => status(bg.uuid).state === 'running');
    fails(['attach', bg.uuid], /no attachable streams/);
    ok(['stop', '--force', bg.uuid]);
    await bg.done;
    fails(['attach', bg.uuid], /isn't currently running/);
    ok(['rm', bg.uuid]);
  }, 60_000);
});

describe("rkt's --insecure-options", () => {
  const INSECURE_VALUES = ['none', 'image', 'tls', 'ondisk', 'http', 'pubkey', 'capabilities', 'paths', 'seccomp', 'run', 'all-fetch', 'all-run', 'all'];
  /** What the app of a one-app pod prints: `script` run by busybox sh; `before` goes in front of the verb, `after` after it. */
  const appOutput = (before: string[], after: string[], script: string): string[] => {
    const r = rkt.run([...before, 'run', ...after, image, '--exec', '/bin/sh', '--', '-c', script]);
    expect(r.code, `${[...before, 'run', ...after].join(' ')}: ${r.stderr}`).toBe(0);
    return lines(r.stdout);
  };
  const statusField = (out: string[], name: string) => out.find((l) => l.startsWith(`${name}:`))?.split(/\s+/)[1];
  const ownStatus = (name: string) => readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!.split(/\s+/)[1]!;

  it('is taken before the verb and after it, in both forms, repeated: image (and the other fetch values) run as before', () => {
    expect(appOutput(['--insecure-options=image'], [], 'echo ran')).toEqual(['ran']);
    expect(appOutput(['--insecure-options', 'image,pubkey'], ['--insecure-options=ondisk', '--insecure-options', 'none'], 'echo ran')).toEqual(['ran']);
    expect(ok(['--insecure-options=image', 'fetch', '--insecure-options', 'tls,http', `docker://${image}`]).trim().split('\n').pop()).toMatch(/^sha512-/);
    expect(ok(['--insecure-options=all-fetch', 'list', '--insecure-options', 'image', '--no-legend'])).toBeDefined();
    expect(ok(['image', 'list', '--insecure-options=image'])).toContain(image);
  });

  it('capabilities gives the apps every capability this host has; without it they get the default set', () => {
    const script = 'grep -E "^(CapEff|Seccomp):" /proc/self/status';
    const plain = statusField(appOutput([], [], script), 'CapEff')!;
    const all = statusField(appOutput(['--insecure-options=capabilities'], [], script), 'CapEff')!;
    expect(all).toBe(ownStatus('CapBnd')); // all ones, as far as tsrkt's own bounding set goes
    expect(plain).not.toBe(all);
    expect(BigInt(`0x${plain}`) & ~BigInt(`0x${all}`)).toBe(0n);
    // Only the capabilities: seccomp stays on.
    expect(statusField(appOutput([], ['--insecure-options=capabilities'], script), 'Seccomp')).toBe('2');
  });

  it('paths leaves /proc unmasked (kcore, timer_list readable) and /proc/sys writable; without it they are masked and read-only', () => {
    const script = [
      'if [ -e /proc/kcore ]; then if head -c 1 /proc/kcore >/dev/null 2>&1 && [ "$(head -c 1 /proc/kcore | wc -c)" = 1 ]; then echo kcore=read; else echo kcore=hidden; fi; else echo kcore=absent; fi',
      'echo "timer_list=$(head -c 1000 /proc/timer_list | wc -c)"',
      'echo "proc_sys=$(awk \'$2 == "/proc/sys" { print substr($4, 1, 2) }\' /proc/self/mounts | tail -n 1)"',
    ].join('; ');
    const kcoreOnHost = existsSync('/proc/kcore');
    const plain = appOutput([], [], script);
    expect(plain).toEqual([kcoreOnHost ? 'kcore=hidden' : 'kcore=absent', 'timer_list=0', 'proc_sys=ro']);
    // Reading kcore takes CAP_SYS_RAWIO as well: paths with capabilities.
    const open = appOutput(['--insecure-options', 'paths'], ['--insecure-options=capabilities'], script);
    expect(open[0]).toBe(kcoreOnHost ? 'kcore=read' : 'kcore=absent');
    expect(Number(open[1]!.split('=')[1])).toBeGreaterThan(0);
    expect(open[2]).toBe('proc_sys=');
    expect(appOutput([], ['--insecure-options=paths'], script).slice(1)).toEqual(open.slice(1));
  });

  it('seccomp runs the apps without a seccomp filter (Seccomp: 0); without it the filter is on (2)', () => {
    const script = 'grep -E "^(CapEff|Seccomp):" /proc/self/status';
    expect(statusField(appOutput([], [], script), 'Seccomp')).toBe('2');
    const off = appOutput(['--insecure-options=seccomp'], [], script);
    expect(statusField(off, 'Seccomp')).toBe('0');
    expect(statusField(off, 'CapEff')).toBe(statusField(appOutput([], [], script), 'CapEff')); // only the filter
    expect(statusField(appOutput([], ['--insecure-options=all-run'], script), 'Seccomp')).toBe('0');
  });

  it('a prepared pod keeps them for run-prepared', () => {
    const uuid = ok(['--insecure-options=seccomp', 'prepare', image, '--exec', '/bin/sh', '--', '-c', 'grep ^Seccomp: /proc/self/status']).trim();
    const r = rkt.run(['run-prepared', uuid]);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(['Seccomp:\t0']);
  });

  it('refuses an unknown value with 254, naming it and the valid values, before any work', () => {
    const before = podUuids().length;
    for (const args of [
      ['--insecure-options=image,bogus', 'run', '127.0.0.1:1/x'],
      ['run', '--insecure-options', 'bogus', '127.0.0.1:1/x'],
      ['--insecure-options=bogus', 'prepare', '127.0.0.1:1/x'],
      ['--insecure-options=bogus', 'list'],
      ['fetch', '--insecure-options=tls,bogus', '127.0.0.1:1/x'],
    ]) {
      const r = rkt.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(254);
      expect(r.stderr).toContain('"bogus"');
      for (const v of INSECURE_VALUES) expect(r.stderr).toContain(v);
      expect(r.stderr).not.toMatch(/connect|pulling/i);
    }
    expect(podUuids().length).toBe(before);
  });
});

describe('image rm by rkt ID', () => {
  it("removes the image by an ID prefix with rkt's message; it is gone for tsrun too", () => {
    ok(['gc', '--grace-period=0s', '--expire-prepared=0s']);
    const id = ok(['fetch', volImage]).trim().split('\n').pop()!;
    const r = rkt.run(['image', 'rm', id.slice(0, 16)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`successfully removed aci for image: "${id}"`);
    expect(r.stderr).toContain('1 image(s) successfully removed');
    expect(ok(['image', 'list', '--full'])).not.toContain(id);
    expect(tsrun.run(['images', '-q', volImage]).stdout.trim()).toBe('');
    const again = rkt.run(['image', 'rm', id.slice(0, 16)]);
    expect(again.code).toBe(254);
    expect(again.stderr).toMatch(/no such image/i);
  });
});
