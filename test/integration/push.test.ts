// tsrun push end to end: the built CLI against the real registry
// (docker-registry: open, htpasswd and token auth with the project's token
// issuer), checked with skopeo and by pulling back into a fresh --root; the
// fault registry for retries and mirrors. Run as root under the integration lock.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultRegistry, type FaultRegistry } from '../support/fault-registry.js';
import { buildOciLayout, tarOf, type BuiltLayout } from '../support/oci-layout.js';
import { pushImage as skopeoPush, serveBusybox, startRegistry, type RunningRegistry } from '../support/registry-server.js';
import { TsrunCli, type CliResult } from '../support/tsrun-cli.js';

let src: RunningRegistry; // serves busybox and a three-layer image
let busybox: string;
let dst: RunningRegistry; // open, empty
let fault: FaultRegistry;
let app: BuiltLayout;
let work: string;
let baseEnv: NodeJS.ProcessEnv;
const clis: TsrunCli[] = [];

function cli(): TsrunCli {
  const c = new TsrunCli();
  clis.push(c);
  return c;
}

/** Asynchronous on purpose: the token issuer and the fault registry live in this process. */
function run(t: TsrunCli, args: string[], env: NodeJS.ProcessEnv = {}, input = ''): Promise<CliResult> {
  return t.runAsync(args, { env: { ...baseEnv, ...env }, input, timeoutMs: 90_000 });
}

function skopeo(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile('skopeo', args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => (err ? fail(new Error(`skopeo ${args.join(' ')}: ${stderr || err.message}`)) : done(stdout)));
  });
}

/** What the registry holds under `ref`: the manifest digest (skopeo's) and its raw bytes. */
async function remote(ref: string, creds?: { username: string; password: string }): Promise<{ digest: string; raw: Buffer }> {
  const auth = creds ? ['--creds', `${creds.username}:${creds.password}`] : [];
  const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', ...auth, `docker://${ref}`])) as { Digest: string };
  const raw = Buffer.from(await skopeo(['inspect', '--raw', '--tls-verify=false', ...auth, `docker://${ref}`]));
  return { digest: info.Digest, raw };
}

async function inspect(t: TsrunCli, name: string): Promise<{ Id: string; ManifestDigest: string; RepoDigests: string[]; RootFS: { Layers: string[] } }> {
  const r = await run(t, ['image', 'inspect', name]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout)[0];
}

const short = (diffId: string) => diffId.slice(7, 19);
const lines = (r: CliResult) => r.stdout.split('\n').filter(Boolean);

/** Random bytes do not compress: each layer blob is ~`size` bytes. */
function layer(name: string, size: number): Buffer {
  return tarOf([{ path: `${name}/` }, { path: `${name}/data.bin`, content: randomBytes(size) }]);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsrun-push-it-'));
  baseEnv = { DOCKER_CONFIG: join(work, 'no-docker-config'), TSRUN_REGISTRIES_CONFIG: join(work, 'no-registries.json') };
  ({ registry: src, image: busybox } = await serveBusybox());
  app = buildOciLayout(join(work, 'app'), 'v1', [layer('one', 1_500_000), layer('two', 1_500_000), layer('three', 1_500_000)]);
  await skopeoPush(app.dir, src.host, 'test/app:v1');
  dst = await startRegistry();
  fault = await startFaultRegistry();
});

afterAll(async () => {
  for (const c of clis) c.destroy();
  await src?.stop();
  await dst?.stop();
  await fault?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('tsrun push (docker-registry, open)', () => {
  it('pushes to another registry as docker push does; the manifest digest stays the one stored; it pulls back', async () => {
    const t = cli();
    expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
    const target = `${dst.host}/team/bb`;
    expect((await run(t, ['tag', busybox, `${target}:v1`])).code).toBe(0);
    const local = await inspect(t, busybox);
    const id = short(local.RootFS.Layers[0]!);

    // A mirror configured for the target registry must see nothing of a push.
    const mirrors = join(work, 'mirrors.json');
    writeFileSync(mirrors, JSON.stringify({ registries: { [dst.host]: { mirrors: [`http://${fault.host}`] } } }));
    const seenByMirror = fault.requests.length;
    const r = await run(t, ['push', `${target}:v1`], { TSRUN_REGISTRIES_CONFIG: mirrors });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fault.requests.length).toBe(seenByMirror);

    const pushed = await remote(`${target}:v1`);
    expect(pushed.digest).toBe(local.ManifestDigest);
    expect(lines(r)).toEqual([
      `The push refers to repository [${target}]`,
      `${id}: Preparing`,
      `${id}: Pushing`,
      `${id}: Pushed`,
      `v1: digest: ${local.ManifestDigest} size: ${pushed.raw.length}`,
    ]);
    expect((await inspect(t, `${target}:v1`)).RepoDigests).toContain(`${target}@${local.ManifestDigest}`);

    // Pulled back into a fresh store: the same image.
    const u = cli();
    const back = await run(u, ['pull', `${target}:v1`]);
    expect(back.stderr).toBe('');
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`Digest: ${local.ManifestDigest}`);
    const again = await inspect(u, `${target}:v1`);
    expect(again.Id).toBe(local.Id);
    expect(again.ManifestDigest).toBe(local.ManifestDigest);

    // Pushed again: nothing to upload.
    const second = await run(t, ['push', `${target}:v1`]);
    expect(second.code).toBe(0);
    expect(lines(second)).toEqual([
      `The push refers to repository [${target}]`,
      `${id}: Preparing`,
      `${id}: Layer already exists`,
      `v1: digest: ${local.ManifestDigest} size: ${pushed.raw.length}`,
    ]);

    // Another repository of the same registry: the layer is mounted from the one pushed to.
    expect((await run(t, ['tag', busybox, `${dst.host}/other/bb`])).code).toBe(0);
    const mounted = await run(t, ['push', `${dst.host}/other/bb`]);
    expect(mounted.stderr).toBe('');
    expect(lines(mounted)).toEqual([
      'Using default tag: latest',
      `The push refers to repository [${dst.host}/other/bb]`,
      `${id}: Preparing`,
      `${id}: Mounted from team/bb`,
      `latest: digest: ${local.ManifestDigest} size: ${pushed.raw.length}`,
    ]);
    expect((await remote(`${dst.host}/other/bb:latest`)).digest).toBe(local.ManifestDigest);

    const quiet = await run(t, ['push', '-q', `${target}:v1`]);
    expect(quiet).toEqual({ code: 0, stdout: `${target}:v1\n`, stderr: '' });
    expect((await run(t, ['image', 'push', '-q', `${target}:v1`])).stdout).toBe(`${target}:v1\n`);
  });

  it('mounts a layer from the repository it was pulled from', async () => {
    const t = cli();
    expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
    const id = short((await inspect(t, busybox)).RootFS.Layers[0]!);
    expect((await run(t, ['tag', busybox, `${src.host}/copies/bb:c1`])).code).toBe(0);
    const r = await run(t, ['push', `${src.host}/copies/bb:c1`]);
    expect(r.code).toBe(0);
    expect(lines(r)).toContain(`${id}: Mounted from busybox`);
  });

  it('pushes a multi-layer image in chunks and the registry reassembles it', async () => {
    const t = cli();
    expect((await run(t, ['pull', '-q', `${src.host}/test/app:v1`])).code).toBe(0);
    const target = `${dst.host}/chunked/app:v1`;
    expect((await run(t, ['tag', `${src.host}/test/app:v1`, target])).code).toBe(0);
    // To a registry that has none of it: upload, 1.5 MB layers in 512 kB chunks.
    const r = await run(t, ['push', target], { TSRUN_PUSH_CHUNK_SIZE: '512k' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ids = app.layers.map((l) => short(l.diffId));
    // Top layer first, as Docker lists them.
    expect(lines(r).filter((l) => l.endsWith(': Preparing'))).toEqual(ids.slice().reverse().map((i) => `${i}: Preparing`));
    for (const i of ids) expect(lines(r)).toContain(`${i}: Pushed`);
    expect((await remote(target)).digest).toBe(app.manifestDigest);
    const u = cli();
    expect((await run(u, ['pull', '-q', target])).code).toBe(0);
    expect((await inspect(u, target)).Id).toBe(app.configDigest);
  });

  it('pushes every local tag with --all-tags', async () => {
    const t = cli();
    expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
    for (const tag of ['b', 'a']) expect((await run(t, ['tag', busybox, `${dst.host}/multi:${tag}`])).code).toBe(0);
    const digest = (await inspect(t, busybox)).ManifestDigest;
    const r = await run(t, ['push', '--all-tags', `${dst.host}/multi`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r).filter((l) => l.startsWith('The push refers to'))).toEqual([`The push refers to repository [${dst.host}/multi]`]);
    expect(lines(r).filter((l) => l.includes(': digest: ')).map((l) => l.split(' size')[0])).toEqual([`a: digest: ${digest}`, `b: digest: ${digest}`]);
    for (const tag of ['a', 'b']) expect((await remote(`${dst.host}/multi:${tag}`)).digest).toBe(digest);
    expect((await run(t, ['push', '-a', '-q', `${dst.host}/multi`])).stdout).toBe(`${dst.host}/multi\n`);
    const refused = await run(t, ['push', '-a', `${dst.host}/multi:a`]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain("tag can't be used with --all-tags/-a");
  });

  it('pushes an image loaded from a docker-archive with the manifest bytes the load recorded', async () => {
    const t = cli();
    expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
    const archive = join(work, 'bb.tar');
    expect((await run(t, ['save', '-o', archive, busybox])).code).toBe(0);
    const u = cli();
    expect((await run(u, ['load', '-i', archive])).code).toBe(0);
    const loaded = await inspect(u, busybox);
    expect(loaded.RepoDigests).toEqual([]);
    expect((await run(u, ['tag', busybox, `${dst.host}/loaded/bb:l1`])).code).toBe(0);
    const r = await run(u, ['push', `${dst.host}/loaded/bb:l1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`l1: digest: ${loaded.ManifestDigest} size: `);
    expect((await remote(`${dst.host}/loaded/bb:l1`)).digest).toBe(loaded.ManifestDigest);
  });

  it("reports tsrun's own errors with exit 125", async () => {
    const t = cli();
    const none = await run(t, ['push', `${dst.host}/nothing:v1`]);
    expect(none.code).toBe(125);
    expect(none.stderr).toContain(`An image does not exist locally with the tag: ${dst.host}/nothing:v1`);
    const pinned = await run(t, ['push', `${dst.host}/x@sha256:${'a'.repeat(64)}`]);
    expect(pinned.code).toBe(125);
    expect(pinned.stderr).toContain('cannot push a digest reference');
    const bad = await run(t, ['push', `${dst.host}/Upper`]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('invalid reference format');
    expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
    expect((await run(t, ['tag', busybox, '127.0.0.1:1/x:v1'])).code).toBe(0);
    const refused = await run(t, ['push', '127.0.0.1:1/x:v1']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/cannot connect to 127\.0\.0\.1:1 .*connection refused/);
  });
});

describe.each(['basic', 'token'] as const)('tsrun push with auth=%s', (auth) => {
  let reg: RunningRegistry;
  let t: TsrunCli;
  let config: string;
  let layerId: string;

  beforeAll(async () => {
    reg = await startRegistry({ auth });
    config = mkdtempSync(join(work, 'docker-config-'));
    t = cli();
    expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
    layerId = short((await inspect(t, busybox)).RootFS.Layers[0]!);
    for (const repo of ['team/bb', 'team2/bb']) expect((await run(t, ['tag', busybox, `${reg.host}/${repo}:v1`])).code).toBe(0);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('says that a push needs a login', async () => {
    const r = await run(t, ['push', `${reg.host}/team/bb:v1`], { DOCKER_CONFIG: config });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`unauthorized: authentication required to push to ${reg.host}/team/bb`);
    expect(r.stderr).toContain(`hint: run "tsrun login ${reg.host}" first`);
  });

  it('names the user whose password the registry refused', async () => {
    writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.credentials.username}:wrong`).toString('base64') } } }));
    const r = await run(t, ['push', `${reg.host}/team/bb:v1`], { DOCKER_CONFIG: config });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`rejected the credentials of user "${reg.credentials.username}"`);
  });

  it('pushes with the credentials of tsrun login, and mounts across repositories', async () => {
    const login = await run(t, ['login', '-u', reg.credentials.username, '--password-stdin', reg.host], { DOCKER_CONFIG: config }, `${reg.credentials.password}\n`);
    expect(login.code).toBe(0);
    const before = reg.tokenLog.length;
    const r = await run(t, ['push', `${reg.host}/team/bb:v1`], { DOCKER_CONFIG: config });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r)).toContain(`${layerId}: Pushed`);
    const digest = (await inspect(t, busybox)).ManifestDigest;
    expect((await remote(`${reg.host}/team/bb:v1`, reg.credentials)).digest).toBe(digest);

    const mounted = await run(t, ['push', `${reg.host}/team2/bb:v1`], { DOCKER_CONFIG: config });
    expect(mounted.stderr).toBe('');
    expect(lines(mounted)).toContain(`${layerId}: Mounted from team/bb`);
    expect((await remote(`${reg.host}/team2/bb:v1`, reg.credentials)).digest).toBe(digest);
    if (auth === 'token') {
      const scopes = reg.tokenLog.slice(before).map((q) => q.params.scope);
      expect(scopes).toContain('repository:team/bb:pull,push');
      expect(scopes).toContain('repository:team2/bb:pull,push repository:team/bb:pull');
      expect(reg.tokenLog.slice(before).every((q) => q.status === 200)).toBe(true);
    }
  });
});

describe('tsrun push to a token registry that lets anonymous clients pull', () => {
  it('says that an anonymous client may not push', async () => {
    const reg = await startRegistry({ auth: 'token', anonymousPull: true });
    try {
      const t = cli();
      expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
      expect((await run(t, ['tag', busybox, `${reg.host}/team/bb:v1`])).code).toBe(0);
      const r = await run(t, ['push', `${reg.host}/team/bb:v1`]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`unauthorized: an anonymous client may not push to ${reg.host}/team/bb`);
      expect(r.stderr).toContain(`hint: run "tsrun login ${reg.host}" first`);
    } finally {
      await reg.stop();
    }
  });
});

describe('tsrun push (fault registry)', () => {
  it('starts an upload over after a 500, and the registry gets the exact manifest', async () => {
    const t = cli();
    expect((await run(t, ['pull', '-q', busybox])).code).toBe(0);
    const local = await inspect(t, busybox);
    const id = short(local.RootFS.Layers[0]!);
    expect((await run(t, ['tag', busybox, `${fault.host}/retry/bb:v1`])).code).toBe(0);
    fault.inject({ fault: { kind: 'status', status: 500 }, method: 'PUT', path: /^\/v2\/retry\/bb\/blobs\/uploads\// });
    const from = fault.requests.length;
    const t0 = Date.now();
    const r = await run(t, ['push', `${fault.host}/retry/bb:v1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // One backoff (~0.5 s), no connection left waiting for the server's timeout.
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(lines(r)).toEqual([
      `The push refers to repository [${fault.host}/retry/bb]`,
      `${id}: Preparing`,
      `${id}: Pushing`,
      `${id}: Retrying in 1 second`,
      `${id}: Pushing`,
      `${id}: Pushed`,
      expect.stringMatching(new RegExp(`^v1: digest: ${local.ManifestDigest} size: \\d+$`)),
    ]);
    const uploads = fault.requests.slice(from).filter((q) => q.path.includes('/blobs/uploads/'));
    // The layer: a session, a failed PUT, the session cancelled, a new session, a PUT that worked; then the config.
    expect(uploads.map((q) => `${q.method} ${q.status}`)).toEqual(['POST 202', 'PUT 500', 'DELETE 204', 'POST 202', 'PUT 201', 'POST 202', 'PUT 201']);
    expect(fault.openUploads()).toBe(0);
    const stored = fault.manifest('retry/bb', 'v1')!;
    expect(stored.digest).toBe(local.ManifestDigest);
    expect(stored.mediaType).not.toBe('');
  });

  it('sends blobs bigger than TSRUN_PUSH_CHUNK_SIZE in PATCH chunks', async () => {
    const t = cli();
    expect((await run(t, ['pull', '-q', `${src.host}/test/app:v1`])).code).toBe(0);
    expect((await run(t, ['tag', `${src.host}/test/app:v1`, `${fault.host}/chunks/app:v1`])).code).toBe(0);
    const from = fault.requests.length;
    const r = await run(t, ['push', `${fault.host}/chunks/app:v1`], { TSRUN_PUSH_CHUNK_SIZE: '512k' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const patches = fault.requests.slice(from).filter((q) => q.method === 'PATCH');
    const chunk = 512 * 1024;
    expect(patches.length).toBe(app.layers.reduce((n, l) => n + Math.ceil(l.size / chunk), 0));
    for (const p of patches) expect(p.headers['content-range']).toMatch(/^\d+-\d+$/);
    for (const l of app.layers) expect(fault.blob(l.digest)?.equals(l.blob)).toBe(true);
    expect(fault.manifest('chunks/app', 'v1')!.bytes.equals(app.manifest)).toBe(true);
  });
});
