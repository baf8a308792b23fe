// tsrkt end to end with the built CLI: rkt's verbs over real pods of the busybox
// image pulled from the real docker-registry on 127.0.0.1. Multi-app pods talk
// over their shared localhost; rkt's exit rules, gc grace periods, UUID prefixes
// and repair after kill -9 are checked on the real state directories. tsrun
// (same --root) must see the same pods and apps. Root, under the integration lock.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RunningRegistry, serveBusybox } from '../support/registry-server.js';
import { rktHarness } from '../support/rkt-cli.js';
import type { TsrunCli } from '../support/tsrun-cli.js';

const pods = rktHarness();
const { ok, podUuids, phaseOf, status, runInBackground, waitFor } = pods;
let reg: RunningRegistry;
let rkt: TsrunCli;
let tsrun: TsrunCli;
let image: string;
let imageId: string;

beforeAll(async () => {
  ({ registry: reg, image } = await serveBusybox());
  ({ rkt, tsrun } = pods);
}, 180_000);

afterAll(async () => {
  await reg?.stop();
});

describe('tsrkt images', () => {
  it('fetch prints the image ID last, with and without docker://', () => {
    const out = ok(['fetch', `docker://${image}`]).trim().split('\n');
    imageId = out[out.length - 1]!;
    expect(imageId).toMatch(/^sha512-[0-9a-f]{64}$/); // rkt's image ID shape (engine/rkt/image-id.ts)
    expect(ok(['fetch', image]).trim().split('\n').pop()).toBe(imageId);
  });

  it('image list, cat-manifest, render, export', () => {
    const list = ok(['image', 'list']).split('\n');
    expect(list[0]).toMatch(/^ID\s+NAME\s+SIZE\s+IMPORT TIME/);
    expect(list.some((l) => l.startsWith(imageId.slice(0, 19)) && l.includes(`${image}:latest`))).toBe(true);
    expect(ok(['image', 'list', '--no-legend']).split('\n')[0]).not.toMatch(/^ID/);
    const manifest = JSON.parse(ok(['image', 'cat-manifest', image]));
    expect(manifest.acKind).toBe('ImageManifest');
    expect(manifest.app.exec.length).toBeGreaterThan(0);
    const dir = join(rkt.root, '..', 'extract');
    ok(['image', 'extract', image, dir]);
    expect(existsSync(join(dir, 'rootfs', 'bin', 'busybox'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'manifest'), 'utf8')).acKind).toBe('ImageManifest');
    const rdir = join(rkt.root, '..', 'render');
    ok(['image', 'render', '--rootfs-only', image, rdir]);
    expect(existsSync(join(rdir, 'bin', 'sh'))).toBe(true);
    const tar = join(rkt.root, '..', 'busybox.tar');
    ok(['image', 'export', image, tar]);
    expect(readFileSync(tar).length).toBeGreaterThan(100_000);
    expect(rkt.run(['image', 'export', image, tar]).code).toBe(254);
    expect(rkt.run(['image', 'cat-manifest', 'nosuch/image']).code).toBe(254);
  });
});

describe('tsrkt run', () => {
  it('runs one app and prints its output prefixed like rkt\'s console, exit 0', () => {
    const r = rkt.run(['run', image, '--exec', '/bin/echo', '--', 'hello', 'rkt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[\s*\d+\.\d{6}\] busybox\[\d+\]: hello rkt\n$/);
  });

  it('runs two images in one pod that talk over localhost; a failing app halts the pod and its code is the status', () => {
    const t0 = Date.now();
    const r = rkt.run([
      'run', image, '--name', 'web', '--exec', '/bin/sh', '--', '-c', 'mkdir -p /www && echo hi-from-web > /www/index.html && exec httpd -f -p 8080 -h /www',
      '---', image, '--name', 'client', '--exec', '/bin/sh', '--', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://127.0.0.1:8080/ && exit 3; sleep 0.2; done; exit 9',
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/client\[\d+\]: hi-from-web/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    const uuid = podUuids().find((u) => ok(['status', u]).includes('app-client='))!;
    const st = status(uuid);
    expect(st.state).toBe('exited');
    expect(st['app-client']).toBe('3');
    expect(['137', '143']).toContain(st['app-web']);
  });

  it('an app that fails stops one that would sleep forever; tsrkt run exits with its code', () => {
    const t0 = Date.now();
    const r = rkt.run(['run', image, '--name', 'fails', '--exec', '/bin/sh', '--', '-c', 'sleep 0.3; exit 3', '---', image, '--name', 'sleeper', '--exec', '/bin/sleep', '--', '600'], { timeoutMs: 40_000 });
    expect(r.code, r.stderr).toBe(3);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('apps that exit 0 leave the others running: the pod ends when the last app exits', () => {
    const t0 = Date.now();
    const r = rkt.run(['run', image, '--name', 'quick', '--exec', '/bin/echo', '--', 'quick-done', '---', image, '--name', 'slow', '--exec', '/bin/sh', '--', '-c', 'sleep 1.5; echo slow-done']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/quick\[\d+\]: quick-done/);
    expect(r.stdout).toMatch(/slow\[\d+\]: slow-done/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
  });

  it('applies env precedence, hostname rkt-UUID, user, working dir and volumes', () => {
    const host = mkdtempSync('/tmp/tsrkt-vol-');
    chmodSync(host, 0o777); // user 1000 could write here: only readOnly=true can make the touch fail
    writeFileSync(join(host, 'f'), 'from-host\n', { mode: 0o644 });
    const envFile = join(host, 'env');
    writeFileSync(envFile, '# comment\nA=file\nB=file\nC=file\n');
    const uuidFile = join(host, 'uuid');
    const r = rkt.run([
      'run', '--uuid-file-save', uuidFile, '--set-env-file', envFile, '--set-env=B=setenv', '--set-env=C=setenv',
      '--volume', `h,kind=host,source=${host},readOnly=true`, '--volume', 'e,kind=empty,mode=0700',
      image, '--environment=C=app', '--user=1000', '--group=1000', '--working-dir=/tmp', '--mount', 'volume=h,target=/h', '--mount', 'volume=e,target=/e',
      '--exec', '/bin/sh', '--', '-c', 'echo "$A $B $C"; hostname; id -u; id -g; pwd; cat /h/f; touch /h/x 2>/dev/null && echo rw || echo ro; stat -c %a /e',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').map((l) => l.replace(/^\[[^\]]*\] busybox\[\d+\]: /, ''));
    const uuid = readFileSync(uuidFile, 'utf8').trim();
    expect(lines.slice(0, 8)).toEqual(['file setenv app', `rkt-${uuid}`, '1000', '1000', '/tmp', 'from-host', 'ro', '700']);
  });

  it('--interactive attaches the one app to stdin/stdout; two images are refused', () => {
    const r = rkt.run(['run', '--interactive', image, '--exec', '/bin/sh', '--', '-c', 'read x; echo got-$x; exit 4'], { input: 'hi\n' });
    expect(r.stdout).toContain('got-hi');
    expect(r.code).toBe(4);
    const two = rkt.run(['run', '--interactive', image, '---', image]);
    expect(two.code).toBe(254);
    expect(two.stderr).toMatch(/one image/);
  });

  it('publishes --port on the host', async () => {
    const port = await freePort();
    const bg = await runInBackground([`--port=8080-tcp:127.0.0.1:${port}`, image, '--exec', '/bin/sh', '--', '-c', 'mkdir -p /w; echo published > /w/index.html; exec httpd -f -p 8080 -h /w']);
    let body = '';
    for (let i = 0; i < 100 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => '');
      if (body === '') await sleep(100);
    }
    expect(body).toBe('published\n');
    ok(['stop', '--force', bg.uuid]);
    await bg.done;
  });

  it('tsrkt errors and usage errors exit 254 with a message naming the problem', () => {
    const cases: Array<[string[], RegExp]> = [
      [['run', '--bogus', image], /--bogus/],
      [['run', image, '--net=host'], /pod flag/],
      [['run'], /at least one image/],
      [['run', '--pull-policy=never', `${reg.host}/absent`], /absent/],
      [['status', 'ffffffff'], /ffffffff/],
      [['status', 'not-hex!'], /not-hex/],
      [['gc', '--grace-period=soon'], /soon/],
      [['list', '--format', 'yaml'], /yaml/],
      [['nosuchverb'], /nosuchverb/],
    ];
    for (const [args, msg] of cases) {
      const r = rkt.run(args);
      expect(r.code, args.join(' ')).toBe(254);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
  });

  it('run and prepare refuse a bad flag before any image work: nothing is fetched (the image\'s registry refuses connections) and no pod is made', () => {
    const unreachable = '127.0.0.1:1/x';
    const envDir = mkdtempSync('/tmp/tsrkt-flags-');
    const envFile = join(envDir, 'absent.env');
    rmSync(envDir, { recursive: true }); // the file, and its directory, are absent
    const cases: Array<[string[], RegExp]> = [
      [['--net=bogus', unreachable], /--net bogus: no such network/],
      [['--net=default,bogus', unreachable], /--net bogus: no such network/],
      [[`--set-env-file=${envFile}`, unreachable], /cannot read --set-env-file/],
      [['--hostname=-bad-', unreachable], /invalid --hostname "-bad-"/],
      [['--uuid-file-save=/nonexistent-dir/uuid', unreachable], /--uuid-file-save \/nonexistent-dir\/uuid: \/nonexistent-dir is not a directory/],
      [['--mount', 'volume=nov,target=/x', unreachable], /--mount volume=nov: no volume of that name/],
      [['--stage1-name=coreos.com/rkt/stage1-fly', unreachable], /--stage1-name is not supported/],
      // --insecure-options itself is rkt's (rkt-extra.test.ts); a value it does not know is refused.
      [['--insecure-options=bogus', unreachable], /invalid value "bogus" for --insecure-options/],
      [['--dns=not-an-ip', unreachable], /invalid IP passed to --dns/],
      [['--port=http', unreachable], /invalid --port "http"/],
      [['--volume=v,kind=nfs', unreachable], /invalid --volume/],
      [[unreachable, '--memory=lots'], /invalid --memory "lots"/],
      [[unreachable, '--cpu=fast'], /invalid --cpu "fast"/],
      [[unreachable, '--name=a', '---', unreachable, '--name=a'], /two apps are named "a"/],
    ];
    const before = podUuids();
    for (const verb of ['run', 'prepare']) {
      for (const [args, msg] of cases) {
        const r = rkt.run([verb, ...args]);
        const what = `${verb} ${args.join(' ')}`;
        expect(r.code, what).toBe(254);
        expect(r.stderr, what).toMatch(msg);
        expect(r.stderr, what).not.toMatch(/pulling|connect|ECONNREFUSED/);
      }
    }
    expect(podUuids()).toEqual(before);
  });
});

describe('a running pod', () => {
  it('list/status/enter/stop, shown by tsrun pod ps and tsrun ps, by UUID prefix', async () => {
    const bg = await runInBackground([image, '--name', 'alpha', '--exec', '/bin/sleep', '--', '600', '---', image, '--name', 'beta', '--exec', '/bin/sleep', '--', '600']);
    const { uuid } = bg;
    await waitFor(() => status(uuid).state === 'running' && tsrun.run(['ps']).stdout.includes(`rkt-${uuid}-beta`));

    const rows = ok(['list']).split('\n').filter(Boolean);
    expect(rows[0]).toMatch(/^UUID\s+APP\s+IMAGE NAME\s+STATE\s+CREATED\s+STARTED\s+NETWORKS$/);
    const i = rows.findIndex((r) => r.startsWith(uuid.slice(0, 8)));
    expect(rows[i]).toMatch(new RegExp(`^${uuid.slice(0, 8)}\\s+alpha\\s+\\S+busybox\\s+running\\s+.*default:ip4=\\d+\\.\\d+\\.\\d+\\.\\d+$`));
    expect(rows[i + 1]).toMatch(/^\s+beta\s+\S+busybox$/);
    expect(ok(['list', '--full', '--no-legend'])).toContain(uuid);
    const json = JSON.parse(ok(['list', '--format', 'json'])) as Array<{ name: string; state: string; app_names: string[] }>;
    expect(json.find((p) => p.name === uuid)).toMatchObject({ state: 'running', app_names: ['alpha', 'beta'] });

    const st = status(uuid.slice(0, 8));
    expect(st).toMatchObject({ state: 'running', exited: 'false' });
    expect(Number(st.pid)).toBeGreaterThan(1);
    expect(st.networks).toMatch(/^default:ip4=/);
    expect(JSON.parse(ok(['status', '--format', 'json', uuid])).state).toBe('running');

    expect(tsrun.run(['pod', 'ps']).stdout).toMatch(new RegExp(`rkt-${uuid}\\s+Running`));
    const ps = tsrun.run(['ps']).stdout;
    expect(ps).toContain(`rkt-${uuid}-alpha`);
    expect(ps).toContain(`rkt-${uuid}-beta`);

    // enter: --app needed with two apps; both apps share the pod's UTS namespace.
    const noApp = rkt.run(['enter', uuid, 'hostname']);
    expect(noApp.code).toBe(254);
    expect(noApp.stderr).toMatch(/--app/);
    expect(ok(['enter', '--app=beta', uuid.slice(0, 8), 'hostname']).trim()).toBe(`rkt-${uuid}`);
    expect(rkt.run(['enter', '--app=beta', uuid, 'sh', '-c', 'exit 5']).code).toBe(5);
    const shell = rkt.run(['enter', '--app=alpha', uuid], { input: 'echo in-shell\n' });
    expect(shell.stdout).toContain('in-shell');
    expect(shell.stderr).toMatch(/no \/bin\/bash/);

    // rm refuses a running pod; stop ends it and tsrkt run returns.
    expect(rkt.run(['rm', uuid]).code).toBe(254);
    ok(['stop', '--force', uuid.slice(0, 10)]);
    const done = await bg.done;
    expect(done.code).toBe(137);
    expect(status(uuid)).toMatchObject({ state: 'exited', exited: 'true', 'app-alpha': '137', 'app-beta': '137' });
    expect(tsrun.run(['pod', 'ps']).stdout).toMatch(new RegExp(`rkt-${uuid}\\s+Exited`));
    const wait = rkt.run(['status', '--wait=5s', uuid]);
    expect(wait.code).toBe(0);
    ok(['rm', uuid]);
    expect(podUuids()).not.toContain(uuid);
    expect(tsrun.run(['pod', 'ps']).stdout).not.toContain(uuid);
    expect(tsrun.run(['ps', '-a']).stdout).not.toContain(uuid);
  }, 60_000);

  it('status --wait waits for the pod to exit', async () => {
    const bg = await runInBackground([image, '--exec', '/bin/sleep', '--', '1']);
    const t0 = Date.now();
    const st = Object.fromEntries(ok(['status', '--wait', bg.uuid]).trim().split('\n').map((l) => l.split('=')));
    expect(st.state).toBe('exited');
    expect(st['app-busybox']).toBe('0');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await bg.done).code).toBe(0);
    expect(rkt.run(['status', '--wait=100ms', bg.uuid]).code).toBe(0);
    ok(['rm', bg.uuid]);
  });
});

describe('prepare, run-prepared, cat-manifest, gc', () => {
  it('prepare prints a UUID; the pod is prepared; run-prepared runs it; cat-manifest prints the pod manifest', () => {
    const uuid = ok(['prepare', image, '--name', 'prep', '--exec', '/bin/echo', '--', 'prepared-ran']).trim();
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(phaseOf(uuid)).toBe('prepared');
    expect(status(uuid).state).toBe('prepared');
    const manifest = JSON.parse(ok(['cat-manifest', uuid.slice(0, 8)]));
    expect(manifest).toMatchObject({ acKind: 'PodManifest', apps: [{ name: 'prep', image: { id: imageId }, app: { exec: ['/bin/echo', 'prepared-ran'] } }] });
    const r = rkt.run(['run-prepared', uuid]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/prep\[\d+\]: prepared-ran/);
    expect(phaseOf(uuid)).toBe('run');
    expect(rkt.run(['run-prepared', uuid]).code).toBe(254); // not prepared any more
    ok(['rm', uuid]);
  });

  it('gc marks exited pods, keeps them for the grace period, then removes them; --mark-only; --expire-prepared', () => {
    ok(['gc', '--grace-period=0s', '--expire-prepared=0s']); // start clean
    ok(['run', image, '--exec', '/bin/true']);
    const exited = podUuids()[0]!;
    const prepared = ok(['prepare', image, '--exec', '/bin/true']).trim();
    expect(phaseOf(exited)).toBe('run');

    const marked = ok(['gc', '--mark-only']);
    expect(marked).toContain(`Moving pod "${exited}" to garbage`);
    expect(phaseOf(exited)).toBe('exited-garbage');
    expect(status(exited).state).toBe('exited garbage');
    expect(ok(['list'])).toMatch(new RegExp(`${exited.slice(0, 8)}.*exited garbage`));

    ok(['gc']); // default grace period 30m: nothing is old enough
    expect(phaseOf(exited)).toBe('exited-garbage');
    expect(phaseOf(prepared)).toBe('prepared');

    const swept = ok(['gc', '--grace-period=0s']);
    expect(swept).toContain(`Garbage collecting pod "${exited}"`);
    expect(phaseOf(exited)).toBeUndefined();
    expect(phaseOf(prepared)).toBe('prepared'); // younger than 24h

    ok(['gc', '--expire-prepared=0s']);
    expect(phaseOf(prepared)).toBeUndefined();
    expect(tsrun.run(['pod', 'ps', '-q', '--no-trunc']).stdout.trim()).toBe('');
    expect(tsrun.run(['ps', '-aq']).stdout.trim()).toBe('');
  });
});

describe('crash recovery', () => {
  it('kill -9 of tsrkt run mid-way: the apps keep the pod running; list, then gc after they exit, repair it', async () => {
    const bg = await runInBackground([image, '--name', 'short', '--exec', '/bin/sleep', '--', '2', '---', image, '--name', 'long', '--exec', '/bin/sleep', '--', '3']);
    await waitFor(() => status(bg.uuid).state === 'running' && tsrun.run(['ps']).stdout.includes(`rkt-${bg.uuid}-long`));
    process.kill(bg.pid, 'SIGKILL');
    await bg.done;
    expect(status(bg.uuid).state).toBe('running'); // the apps' monitors hold it
    expect(rkt.run(['rm', bg.uuid]).code).toBe(254);
    await waitFor(() => status(bg.uuid).state === 'exited');
    expect(status(bg.uuid)).toMatchObject({ 'app-short': '0', 'app-long': '0' });
    ok(['gc', '--grace-period=0s']);
    expect(phaseOf(bg.uuid)).toBeUndefined();
    expect(tsrun.run(['ps', '-aq']).stdout.trim()).toBe('');
  }, 60_000);

  it('kill -9 of tsrkt prepare at any point leaves nothing gc cannot remove', async () => {
    let interrupted = 0; // kill points that left a pod behind (the test means nothing without some)
    for (const delayMs of [90, 120, 150, 180, 210, 260, 400]) {
      const child = spawn(process.execPath, rkt.args(['prepare', image, '---', image, '--name', 'second']), { stdio: 'ignore' });
      const closed = new Promise((r) => child.on('close', r));
      await sleep(delayMs);
      child.kill('SIGKILL');
      await closed;
      if (podUuids().length > 0) interrupted++;
      ok(['gc', '--grace-period=0s', '--expire-prepared=0s']);
      expect(podUuids(), `after kill at ${delayMs} ms`).toEqual([]);
      expect(tsrun.run(['ps', '-aq']).stdout.trim(), `after kill at ${delayMs} ms`).toBe('');
      expect(tsrun.run(['pod', 'ps', '-q']).stdout.trim(), `after kill at ${delayMs} ms`).toBe('');
    }
    expect(interrupted).toBeGreaterThan(0);
  }, 60_000);
});

describe('mutable pods (tsrkt app)', () => {
  it('sandbox, add, start, list, status, stop, rm', async () => {
    const uuid = ok(['app', 'sandbox']).trim();
    expect(status(uuid).state).toBe('running'); // a sandbox lives without apps
    expect(ok(['app', 'add', uuid.slice(0, 8), image, '--name', 'worker', '--exec', '/bin/sleep', '--', '600']).trim()).toBe('worker');
    expect(ok(['app', 'list', uuid])).toMatch(/worker\s+created/);
    ok(['app', 'start', uuid, '--app=worker']);
    ok(['app', 'start', uuid, '--app=worker']); // idempotent
    expect(ok(['app', 'status', uuid, '--app=worker'])).toContain('state=running');
    ok(['app', 'add', uuid, image, '--name', 'oneshot', '--exec', '/bin/sh', '--', '-c', 'exit 2']);
    ok(['app', 'start', uuid, '--app=oneshot']);
    await waitFor(() => ok(['app', 'status', uuid, '--app=oneshot']).includes('exit_code=2'));
    // A mutable pod does not halt when an app fails.
    expect(ok(['app', 'status', uuid, '--app=worker'])).toContain('state=running');
    ok(['app', 'stop', uuid, '--app=worker']);
    expect(ok(['app', 'status', uuid, '--app=worker'])).toContain('state=exited');
    ok(['app', 'rm', uuid, '--app=oneshot']);
    expect(ok(['app', 'list', '--no-legend', uuid]).trim().split('\n')).toHaveLength(1);
    expect((JSON.parse(ok(['cat-manifest', uuid])) as { apps: unknown[] }).apps).toHaveLength(1);
    ok(['stop', uuid]);
    expect(status(uuid).state).toBe('exited');
    ok(['rm', uuid]);
  }, 60_000);
});
