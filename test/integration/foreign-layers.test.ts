// Foreign (non-distributable) layers end to end, with the built CLI: the real
// registry (docker-registry, htpasswd auth) holds manifests whose foreign layer
// it does not have; a fault registry on another loopback port plays the
// layer's URL host and records what it was sent. A second fault registry
// (basic auth) holds every blob but fails to serve a layer on demand (403,
// 500s, wrong bytes): the pull must then take the layer from its URLs. Then
// push (skipped, or uploaded with allowNondistributableArtifacts) to an open
// docker-registry, and save/load. Run as root under the integration lock.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultRegistry, type Fault, type FaultRegistry } from '../support/fault-registry.js';
import { tarOf } from '../support/oci-layout.js';
import { startRegistry, type RunningRegistry } from '../support/registry-server.js';
import { TsrunCli, type CliResult } from '../support/tsrun-cli.js';

const OCI_FOREIGN = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
const DOCKER_FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

let reg: RunningRegistry; // htpasswd auth; lacks the foreign blobs
let dst: RunningRegistry; // open, empty: push target
let urlHost: FaultRegistry; // serves the foreign blobs at their URLs
let flaky: FaultRegistry; // basic auth; holds every blob, fails to serve some on demand
const FLAKY_CREDENTIALS = { username: 'flaky-user', password: 'flaky-secret' };
let work: string;
let baseEnv: NodeJS.ProcessEnv;
const clis: TsrunCli[] = [];

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const short = (d: string) => d.slice(7, 19);

interface Layer { blob: Buffer; digest: string; diffId: string; size: number }
function layer(files: Record<string, string>): Layer {
  const tar = tarOf(Object.entries(files).map(([path, content]) => ({ path, content })));
  const blob = gzipSync(tar);
  return { blob, digest: sha256(blob), diffId: sha256(tar), size: blob.length };
}

/** An image: the config, the manifest bytes, and its layers with the descriptors the manifest lists. */
interface Image { config: Buffer; manifest: Buffer; manifestType: string; layers: Layer[]; foreign: Layer }

function image(kind: 'oci' | 'docker', layers: Layer[], foreign: Layer, urls: string[]): Image {
  const all = [...layers, foreign];
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: all.map((l) => l.diffId) },
  }));
  const oci = kind === 'oci';
  const manifestType = oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: manifestType,
    config: { mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length },
    layers: [
      ...layers.map((l) => ({ mediaType: oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: l.digest, size: l.size })),
      { mediaType: oci ? OCI_FOREIGN : DOCKER_FOREIGN, digest: foreign.digest, size: foreign.size, urls },
    ],
  }));
  return { config, manifest, manifestType, layers, foreign };
}

/** Plain distribution-API client for set-ups and checks (loopback only). */
async function api(host: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}, auth?: RunningRegistry['credentials']): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return fetch(path.startsWith('http') ? path : `http://${host}${path}`, { method: init.method ?? 'GET', headers, ...(init.body ? { body: init.body } : {}) });
}

/** Put an image in `r` under repo:tag with every blob but the foreign layer's, as a registry holding a Windows image would. */
async function publish(r: RunningRegistry, repo: string, tag: string, img: Image): Promise<void> {
  for (const blob of [img.config, ...img.layers.map((l) => l.blob)]) {
    const start = await api(r.host, `/v2/${repo}/blobs/uploads/`, { method: 'POST' }, r.credentials);
    expect(start.status).toBe(202);
    const loc = new URL(start.headers.get('location')!, `http://${r.host}`);
    loc.searchParams.set('digest', sha256(blob));
    const put = await api(r.host, loc.href, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob }, r.credentials);
    expect(put.status).toBe(201);
  }
  const res = await api(r.host, `/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': img.manifestType }, body: img.manifest }, r.credentials);
  expect(res.status, await res.text()).toBe(201);
}

async function remoteManifest(host: string, repo: string, tag: string): Promise<Buffer> {
  const res = await api(host, `/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function hasBlob(host: string, repo: string, digest: string): Promise<boolean> {
  return (await api(host, `/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status === 200;
}

/** An image in `flaky`, every blob included, whose foreign layer is also served at `url` on the URL host (after `leadingUrls`). */
function publishFlaky(name: string, leadingUrls: string[] = []): { ref: string; img: Image; url: string } {
  const base = layer({ [`${name}/base.txt`]: `${name} base\n` });
  const fg = layer({ [`Windows/${name}.txt`]: `${name}: foreign bytes\n` });
  urlHost.addBlob(fg.blob);
  const url = `http://${urlHost.host}/v2/mcr/${name}/blobs/${fg.digest}`;
  const img = image('oci', [base], fg, [...leadingUrls, url]);
  for (const blob of [img.config, base.blob, fg.blob]) flaky.addBlob(blob);
  flaky.addManifest(`test/${name}`, 'v1', img.manifest, img.manifestType);
  return { ref: `${flaky.host}/test/${name}:v1`, img, url };
}

/** Matches exactly the request path `path`. */
const pathIs = (path: string) => new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Asynchronous: the URL host lives in this process and must keep answering. */
function run(t: TsrunCli, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return t.runAsync(args, { env: { ...baseEnv, ...env }, timeoutMs: 90_000 });
}

function cli(): TsrunCli {
  const c = new TsrunCli();
  clis.push(c);
  return c;
}

let win: Image; // OCI manifest: a base layer in the registry, the foreign one only at its URL
let bad: Image; // Docker schema2: a foreign layer whose URL serves the wrong bytes
let winUrl: string;
let badUrl: string;
let t: TsrunCli;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsrun-foreign-it-'));
  reg = await startRegistry({ auth: 'basic', allowForeignUrls: true });
  dst = await startRegistry({ allowForeignUrls: true });
  urlHost = await startFaultRegistry();
  flaky = await startFaultRegistry({ auth: { scheme: 'basic', ...FLAKY_CREDENTIALS } });
  // Credentials for the registries and (to prove they stay home) for the URL host too.
  const auth = Buffer.from(`${reg.credentials.username}:${reg.credentials.password}`).toString('base64');
  const flakyAuth = Buffer.from(`${FLAKY_CREDENTIALS.username}:${FLAKY_CREDENTIALS.password}`).toString('base64');
  const dockerConfig = join(work, 'docker');
  execFileSync('mkdir', ['-p', dockerConfig]);
  writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth }, [flaky.host]: { auth: flakyAuth }, [urlHost.host]: { auth } } }));
  baseEnv = { DOCKER_CONFIG: dockerConfig, TSRUN_REGISTRIES_CONFIG: join(work, 'no-registries.json') };

  const fg = layer({ 'Windows/System32/license.txt': 'not for redistribution\n' });
  urlHost.addBlob(fg.blob);
  winUrl = `http://${urlHost.host}/v2/mcr/windows/blobs/${fg.digest}`;
  const gone = `http://${urlHost.host}/v2/mcr/windows/blobs/sha256:${'0'.repeat(64)}`;
  win = image('oci', [layer({ 'app/hello.txt': 'hello\n' })], fg, [gone, winUrl]);
  await publish(reg, 'test/win', 'v1', win);

  const bfg = layer({ 'Windows/other.txt': 'other foreign bytes\n' });
  urlHost.addBlob(bfg.blob);
  badUrl = `http://${urlHost.host}/v2/mcr/bad/blobs/${bfg.digest}`;
  bad = image('docker', [], bfg, [badUrl]);
  await publish(reg, 'test/bad', 'v1', bad);
  t = cli();
});

afterAll(async () => {
  for (const c of clis) c.destroy();
  await reg?.stop();
  await dst?.stop();
  await urlHost?.close();
  await flaky?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('foreign layers', () => {
  it('pull fetches a foreign layer from its URLs when the registry lacks it, without credentials', async () => {
    expect(await hasBlob(reg.host, 'test/win', win.foreign.digest).catch(() => false)).toBe(false);
    const seen = urlHost.requests.length;
    const r = await run(t, ['pull', `${reg.host}/test/win:v1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = short(win.foreign.digest);
    const lines = r.stdout.split('\n');
    for (const status of ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Pull complete']) expect(lines).toContain(`${id}: ${status}`);

    // The first URL answered 404, the second served the blob; neither saw an Authorization header.
    const asked = urlHost.requests.slice(seen);
    expect(asked.map((q) => [q.method, q.path, q.status])).toEqual([
      ['GET', new URL(win.manifest.toString().match(/"urls":\["([^"]+)"/)![1]!).pathname, 404],
      ['GET', new URL(winUrl).pathname, 200],
    ]);
    expect(asked.every((q) => q.headers.authorization === undefined)).toBe(true);

    const info = JSON.parse((await run(t, ['image', 'inspect', `${reg.host}/test/win:v1`])).stdout)[0];
    expect(info.RootFS.Layers).toEqual([win.layers[0]!.diffId, win.foreign.diffId]);
    expect(info.ManifestDigest).toBe(sha256(win.manifest));
    const stored = join(t.root, 'content', 'blobs', 'sha256');
    expect(readFileSync(join(stored, win.foreign.digest.slice(7))).equals(win.foreign.blob)).toBe(true);
    // The manifest is kept as the registry sent it, urls included.
    expect(readFileSync(join(stored, sha256(win.manifest).slice(7))).equals(win.manifest)).toBe(true);
  });

  it('a URL serving the wrong bytes fails the pull cleanly, naming the layer and the URL', async () => {
    const layersBefore = readdirSync(join(t.root, 'layers')).sort();
    urlHost.inject({ fault: { kind: 'wrong-digest' }, path: new RegExp(new URL(badUrl).pathname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), times: 10 });
    const r = await run(t, ['pull', `${reg.host}/test/bad:v1`]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`layer ${bad.foreign.digest} is not in the registry and none of its URLs served it`);
    expect(r.stderr).toContain(`${badUrl} (blob of ${badUrl} digest mismatch`);
    // Nothing of it in the store: no blob, no partial download, no layer, no image.
    expect(existsSync(join(t.root, 'content', 'blobs', 'sha256', bad.foreign.digest.slice(7)))).toBe(false);
    const ingest = join(t.root, 'content', 'ingest');
    expect((existsSync(ingest) ? readdirSync(ingest) : []).filter((n) => n.endsWith('.partial'))).toEqual([]);
    expect(readdirSync(join(t.root, 'layers')).sort()).toEqual(layersBefore);
    expect((await run(t, ['images', '-q', `${reg.host}/test/bad`])).stdout).toBe('');
  });

  it('push skips the foreign layer and the registry keeps its descriptor, urls included', async () => {
    const target = `${dst.host}/team/win`;
    expect((await run(t, ['tag', `${reg.host}/test/win:v1`, `${target}:v1`])).code).toBe(0);
    const r = await run(t, ['push', `${target}:v1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const fid = short(win.foreign.diffId);
    const bid = short(win.layers[0]!.diffId);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toContain(`${fid}: Skipped foreign layer`);
    expect(lines).toContain(`${bid}: Pushed`);
    expect(lines.filter((l) => l.startsWith(`${fid}:`))).toEqual([`${fid}: Preparing`, `${fid}: Skipped foreign layer`]);
    expect(lines.at(-1)).toBe(`v1: digest: ${sha256(win.manifest)} size: ${win.manifest.length}`);
    expect((await remoteManifest(dst.host, 'team/win', 'v1')).equals(win.manifest)).toBe(true);
    expect(JSON.parse(win.manifest.toString()).layers[1].urls).toHaveLength(2);
    expect(await hasBlob(dst.host, 'team/win', win.foreign.digest)).toBe(false);
    expect(await hasBlob(dst.host, 'team/win', win.layers[0]!.digest)).toBe(true);
  });

  it('push uploads the foreign layer to a registry with allowNondistributableArtifacts, the manifest unchanged', async () => {
    const target = `${dst.host}/team/win-airgap`;
    const config = join(work, 'airgap.json');
    writeFileSync(config, JSON.stringify({ registries: { [dst.host]: { allowNondistributableArtifacts: true } } }));
    expect((await run(t, ['tag', `${reg.host}/test/win:v1`, `${target}:v1`])).code).toBe(0);
    const r = await run(t, ['push', `${target}:v1`], { TSRUN_REGISTRIES_CONFIG: config });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const fid = short(win.foreign.diffId);
    expect(r.stdout).not.toContain('Skipped foreign layer');
    expect(r.stdout.split('\n')).toContain(`${fid}: Pushed`);
    expect(await hasBlob(dst.host, 'team/win-airgap', win.foreign.digest)).toBe(true);
    expect((await remoteManifest(dst.host, 'team/win-airgap', 'v1')).equals(win.manifest)).toBe(true);
  });

  it('save puts the foreign layer in the archive and load keeps its descriptor', async () => {
    const tar = join(work, 'win.tar');
    const saved = await run(t, ['save', '-o', tar, `${reg.host}/test/win:v1`]);
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    const names = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' }).split('\n');
    expect(names).toContain(`blobs/sha256/${win.foreign.digest.slice(7)}`);
    const dockerManifest = JSON.parse(execFileSync('tar', ['-xOf', tar, 'manifest.json'], { encoding: 'utf8' }));
    const foreignDesc = JSON.parse(win.manifest.toString()).layers[1];
    expect(dockerManifest[0].LayerSources).toEqual({ [win.foreign.diffId]: foreignDesc });

    const t2 = cli();
    const loaded = await run(t2, ['load', '-i', tar]);
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);
    const info = JSON.parse((await run(t2, ['image', 'inspect', `${reg.host}/test/win:v1`])).stdout)[0];
    expect(info.RootFS.Layers).toEqual([win.layers[0]!.diffId, win.foreign.diffId]);
    const manifest = JSON.parse(readFileSync(join(t2.root, 'content', 'blobs', 'sha256', info.ManifestDigest.slice(7)), 'utf8'));
    expect(manifest.layers[1]).toEqual(foreignDesc);
    expect(manifest.layers[0].urls).toBeUndefined();
  });
});

describe('layers with URLs that the registry fails to serve', () => {
  // [what the registry does, the fault on the layer's authenticated blob GETs, how many GETs it gets]
  const failures: [string, Fault, number][] = [
    ['answers 403', { kind: 'status', status: 403 }, 1],
    ['answers 500 through every retry', { kind: 'status', status: 500, retryAfter: '0' }, 5],
    ['sends the wrong bytes', { kind: 'wrong-digest' }, 1],
  ];
  failures.forEach(([what, fault, attempts], n) => {
    it(`pull takes the layer from its URL when the registry ${what}, sending that host no credentials`, async () => {
      const name = `flaky${n}`;
      const f = publishFlaky(name);
      const digest = f.img.foreign.digest;
      flaky.inject({ fault, method: 'GET', path: pathIs(`/v2/test/${name}/blobs/${digest}`), authenticated: true, times: 100 });
      const [registrySeen, urlSeen] = [flaky.requests.length, urlHost.requests.length];
      const c = cli();
      const r = await run(c, ['pull', f.ref]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')).toContain(`${short(digest)}: Pull complete`);

      // The registry was asked first, with its credentials, as often as the retries allow ...
      const toRegistry = flaky.requests.slice(registrySeen).filter((q) => q.method === 'GET' && q.path === `/v2/test/${name}/blobs/${digest}` && q.headers.authorization);
      expect(toRegistry).toHaveLength(attempts);
      expect(toRegistry.every((q) => q.headers.authorization === `Basic ${Buffer.from(`${FLAKY_CREDENTIALS.username}:${FLAKY_CREDENTIALS.password}`).toString('base64')}`)).toBe(true);
      // ... then the URL, once, with nothing of the registry's.
      const toUrl = urlHost.requests.slice(urlSeen);
      expect(toUrl.map((q) => [q.method, q.path, q.status])).toEqual([['GET', new URL(f.url).pathname, 200]]);
      expect(toUrl[0]!.headers.authorization).toBeUndefined();

      const stored = join(c.root, 'content', 'blobs', 'sha256');
      expect(readFileSync(join(stored, digest.slice(7))).equals(f.img.foreign.blob)).toBe(true);
      const info = JSON.parse((await run(c, ['image', 'inspect', f.ref])).stdout)[0];
      expect(info.RootFS.Layers).toEqual([f.img.layers[0]!.diffId, f.img.foreign.diffId]);
    });
  });

  it('when the registry and every URL fail, the pull fails naming each failure and stores nothing of the layer', async () => {
    const gone = `http://${urlHost.host}/v2/mcr/gone/blobs/sha256:${'0'.repeat(64)}`;
    const f = publishFlaky('flaky-all', [gone]);
    const digest = f.img.foreign.digest;
    flaky.inject({ fault: { kind: 'status', status: 403, body: 'no pulls for you' }, method: 'GET', path: pathIs(`/v2/test/flaky-all/blobs/${digest}`), authenticated: true, times: 100 });
    urlHost.inject({ fault: { kind: 'status', status: 502, retryAfter: '0' }, path: pathIs(new URL(f.url).pathname), times: 100 });
    const c = cli();
    const r = await run(c, ['pull', f.ref]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`layer ${digest} could not be fetched from the registry (`);
    expect(r.stderr).toContain('no pulls for you');
    expect(r.stderr).toContain(`and none of its URLs served it: ${gone} (${urlHost.host} answered 404); ${f.url} (${urlHost.host} answered 502)`);
    expect(existsSync(join(c.root, 'content', 'blobs', 'sha256', digest.slice(7)))).toBe(false);
    // A partial file may stay for a later pull to resume (as after any network failure), but nobody sent a byte of it.
    const partial = join(c.root, 'content', 'ingest', `${digest.slice(7)}.partial`);
    expect(existsSync(partial) ? readFileSync(partial).length : 0).toBe(0);
    expect((await run(c, ['images', '-q'])).stdout).toBe('');
  });

  it('a layer without URLs that the registry fails to serve fails the pull with the registry error alone', async () => {
    const f = publishFlaky('flaky-plain');
    const base = f.img.layers[0]!;
    flaky.inject({ fault: { kind: 'status', status: 403, body: 'no pulls for you' }, method: 'GET', path: pathIs(`/v2/test/flaky-plain/blobs/${base.digest}`), authenticated: true, times: 100 });
    const urlSeen = urlHost.requests.length;
    const c = cli();
    const r = await run(c, ['pull', f.ref]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('no pulls for you');
    expect(r.stderr).not.toContain('URLs');
    expect(urlHost.requests.length).toBe(urlSeen);
    expect((await run(c, ['images', '-q'])).stdout).toBe('');
  });
});
