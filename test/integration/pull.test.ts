// tsrun pull and the image verbs, end to end: the built CLI against the real
// registry (docker-registry) and, where requests must be counted or slowed,
// the fault registry. Run as root under the integration lock.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultRegistry, type FaultRegistry } from '../support/fault-registry.js';
import { buildOciLayout, tarOf, type BuiltLayout } from '../support/oci-layout.js';
import { pushImage, startRegistry, type RunningRegistry } from '../support/registry-server.js';
import { mountsUnder, TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let fault: FaultRegistry;
let layout: BuiltLayout;
let work: string;
const clis: TsrunCli[] = [];

function cli(): TsrunCli {
  const c = new TsrunCli();
  clis.push(c);
  return c;
}

/** Random bytes do not compress, so each layer blob really is ~`size` bytes on the wire. */
function layer(name: string, size: number): Buffer {
  return tarOf([
    { path: `${name}/` },
    { path: `${name}/data.bin`, content: randomBytes(size) },
    { path: `${name}/hello.txt`, content: `hello from ${name}\n` },
  ]);
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Everything visible in the store is complete: blobs match their names, layer
 * dirs have meta.json. Hidden temp dirs (.tmp-*) may remain right after a kill
 * (they are never taken for layers), but not after a pull that completed.
 */
function expectStoreConsistent(root: string, afterKill = false): void {
  const blobs = join(root, 'content', 'blobs', 'sha256');
  for (const name of existsSync(blobs) ? readdirSync(blobs) : []) {
    expect(name.startsWith('.'), `temp file ${name} under blobs/`).toBe(false);
    expect(sha256File(join(blobs, name)), `blob ${name}`).toBe(name);
  }
  const layers = join(root, 'layers');
  for (const name of existsSync(layers) ? readdirSync(layers) : []) {
    if (name === 'l' || name === '.locks') continue;
    if (afterKill && name.startsWith('.tmp-')) continue;
    expect(name.startsWith('.tmp-') || name.startsWith('.trash-'), `leftover ${name} under layers/`).toBe(false);
    expect(existsSync(join(layers, name, 'meta.json')), `layer ${name} without meta.json`).toBe(true);
    expect(existsSync(join(layers, name, 'diff')), `layer ${name} without diff/`).toBe(true);
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsrun-pull-it-'));
  layout = buildOciLayout(join(work, 'layout'), 'v1', [layer('one', 1_500_000), layer('two', 1_500_000), layer('three', 1_500_000)], { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] });
  reg = await startRegistry();
  await pushImage(layout.dir, reg.host, 'test/app:v1');
  await pushImage(layout.dir, reg.host, 'test/app:latest');
  fault = await startFaultRegistry();
  for (const l of layout.layers) fault.addBlob(l.blob);
  fault.addBlob(layout.config);
  fault.addManifest('slow/app', 'latest', layout.manifest, 'application/vnd.oci.image.manifest.v1+json');
});

afterAll(async () => {
  for (const c of clis) c.destroy();
  await reg?.stop();
  await fault?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('tsrun pull (docker-registry)', () => {
  it('pulls with Docker-shaped output, then lists, inspects, tags and removes', () => {
    const t = cli();
    const name = `${reg.host}/test/app`;
    const r = t.run(['pull', name]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('Using default tag: latest');
    expect(lines[1]).toBe('latest: Pulling from test/app');
    for (const l of layout.layers) {
      const id = l.digest.slice(7, 19);
      expect(lines).toContain(`${id}: Pulling fs layer`);
      expect(lines).toContain(`${id}: Download complete`);
      expect(lines).toContain(`${id}: Pull complete`);
      // not a TTY: one line per state, no byte-by-byte progress
      expect(lines.filter((x) => x === `${id}: Downloading`).length).toBeLessThanOrEqual(1);
    }
    expect(lines).toContain(`Digest: ${layout.manifestDigest}`);
    expect(lines).toContain(`Status: Downloaded newer image for ${name}:latest`);
    expect(lines[lines.length - 1]).toBe(`${name}:latest`);

    const again = t.run(['pull', `${name}:latest`]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('Using default tag');
    expect(again.stdout).toContain('Already exists');
    expect(again.stdout).toContain(`Status: Image is up to date for ${name}:latest`);

    const quiet = t.run(['pull', '-q', `${name}:v1`]);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe(`${name}:v1\n`);

    const shortId = layout.configDigest.slice(7, 19);
    const images = t.run(['images']);
    expect(images.code).toBe(0);
    const rows = images.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(rows.slice(1).map((x) => x.split(/\s{2,}/).slice(0, 3))).toEqual([
      [name, 'latest', shortId],
      [name, 'v1', shortId],
    ]);
    expect(rows[1]).toMatch(/4\.5\dMB$/);
    expect(t.run(['images', '-q']).stdout).toBe(`${shortId}\n${shortId}\n`);
    expect(t.run(['images', '--digests']).stdout).toContain(layout.manifestDigest);
    const json = JSON.parse(t.run(['images', '--format', 'json']).stdout.split('\n')[0]!);
    expect(json).toMatchObject({ Repository: name, Tag: 'latest', ID: shortId });
    expect(t.run(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout).toBe(`${name}:latest\n${name}:v1\n`);

    const inspect = t.run(['image', 'inspect', shortId]);
    expect(inspect.code).toBe(0);
    const [info] = JSON.parse(inspect.stdout);
    expect(info).toMatchObject({
      Id: layout.configDigest,
      RepoTags: [`${name}:latest`, `${name}:v1`],
      RepoDigests: [`${name}@${layout.manifestDigest}`],
      Architecture: 'amd64',
      Os: 'linux',
      Config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
      RootFS: { Type: 'layers', Layers: layout.layers.map((l) => l.diffId) },
    });
    expect(info.Size).toBeGreaterThan(4_500_000);
    const nosuch = t.run(['image', 'inspect', 'nosuch']);
    expect({ code: nosuch.code, stdout: nosuch.stdout, stderr: nosuch.stderr }).toEqual({ code: 125, stdout: '[]\n', stderr: 'tsrun: no such image: nosuch\n' });

    expect(t.run(['tag', `${name}:v1`, 'myapp:stable']).code).toBe(0);
    expect(t.run(['image', 'inspect', '-f', '{{json .RepoTags}}', 'myapp:stable']).stdout.trim()).toBe(JSON.stringify([`${name}:latest`, `${name}:v1`, 'myapp:stable']));

    // By ID with names in several repositories: refused without -f.
    const refused = t.run(['rmi', shortId]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^tsrun: .*referenced in multiple repositories/);
    // By name with other tags left: only untagged.
    const untag = t.run(['rmi', 'myapp:stable']);
    expect(untag).toMatchObject({ code: 0, stdout: 'Untagged: myapp:stable\n' });
    expect(t.run(['rmi', `${name}:v1`]).stdout).toBe(`Untagged: ${name}:v1\n`);
    // Last tag: untag, drop the digest name, delete the image and its layers.
    const rm = t.run(['rmi', `${name}`]);
    expect(rm.code).toBe(0);
    expect(rm.stdout.split('\n').filter(Boolean)).toEqual([
      `Untagged: ${name}:latest`,
      `Untagged: ${name}@${layout.manifestDigest}`,
      `Deleted: ${layout.configDigest}`,
      ...chainIdsOf(layout).reverse().map((c) => `Deleted: ${c}`),
    ]);
    expect(t.run(['images', '-q']).stdout).toBe('');
    expect(readdirSync(join(t.root, 'content', 'blobs', 'sha256'))).toEqual([]);
    expect(readdirSync(join(t.root, 'layers')).filter((n) => /^[a-f0-9]{64}$/.test(n))).toEqual([]);
    // Several names: each failure reported as it comes, 125 at the end.
    const gone = t.run(['rmi', name, 'nosuch']);
    expect({ code: gone.code, stderr: gone.stderr }).toEqual({ code: 125, stderr: `tsrun: no such image: ${name}\ntsrun: no such image: nosuch\n` });
  });

  it('mounts an image read-only, idempotently, and unmounts it', () => {
    const t = cli();
    expect(t.run(['pull', '-q', `${reg.host}/test/app:v1`]).code).toBe(0);
    const m1 = t.run(['image', 'mount', `${reg.host}/test/app:v1`]);
    expect(m1.code).toBe(0);
    const dir = m1.stdout.trim();
    expect(readFileSync(join(dir, 'two', 'hello.txt'), 'utf8')).toBe('hello from two\n');
    expect(readdirSync(dir).sort()).toEqual(['one', 'three', 'two']);
    expect(t.run(['image', 'mount', layout.configDigest.slice(7, 15)]).stdout.trim()).toBe(dir);
    expect(mountsUnder(dir)).toEqual([dir]);
    expect(t.run(['image', 'unmount', `${reg.host}/test/app:v1`]).code).toBe(0);
    expect(mountsUnder(dir)).toEqual([]);
    // rmi of a mounted image unmounts it first
    t.run(['image', 'mount', `${reg.host}/test/app:v1`]);
    expect(t.run(['rmi', `${reg.host}/test/app:v1`]).code).toBe(0);
    expect(mountsUnder(dir)).toEqual([]);
  });

  it('refuses to remove an image a container uses unless forced; -f leaves it dangling', () => {
    const t = cli();
    const name = `${reg.host}/test/app:v1`;
    expect(t.run(['pull', '-q', name]).code).toBe(0);
    const created = t.run(['create', '--name', 'user1', name, '/bin/sh']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const refused = t.run(['rmi', name]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^tsrun: .*container user1 is using its referenced image/);
    const forced = t.run(['rmi', '-f', name]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`Untagged: ${name}`);
    expect(forced.stdout).not.toContain('Deleted:');
    expect(t.run(['images']).stdout).toMatch(/^<none>\s+<none>\s+[a-f0-9]{12}/m);
    expect(t.run(['rm', 'user1']).code).toBe(0);
    expect(t.run(['image', 'prune', '-f']).stdout).toContain(`deleted: ${layout.configDigest}`);
    expectStoreConsistent(t.root);
  });

  it('rejects bad names with exit 125 and a message naming the problem', () => {
    const t = cli();
    const upper = t.run(['pull', 'Busybox']);
    expect(upper.code).toBe(125);
    expect(upper.stderr).toMatch(/invalid reference format "Busybox".*lowercase/);
    const colons = t.run(['pull', 'a:b:c']);
    expect(colons.code).toBe(125);
    expect(colons.stderr).toContain('invalid reference format');
    const missing = t.run(['pull', `${reg.host}/no/such:tag`]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/no\/such/);
    expect(t.run(['tag', 'nosuch', 'x:y']).code).toBe(125);
  });

  it('prunes dangling and unused images and reports disk usage', () => {
    const t = cli();
    expect(t.run(['pull', '-q', `${reg.host}/test/app:v1`]).code).toBe(0);
    const df = t.run(['system', 'df']);
    expect(df.code).toBe(0);
    expect(df.stdout).toMatch(/^Images\s+1\s+0\s+4\.5\dMB\s+4\.5\dMB \(100%\)$/m);
    expect(t.run(['image', 'prune', '-f']).stdout).toBe('Total reclaimed space: 0B\n');
    const all = t.run(['image', 'prune', '-a', '-f']);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`untagged: ${reg.host}/test/app:v1`);
    expect(all.stdout).toContain(`deleted: ${layout.configDigest}`);
    expect(all.stdout).toMatch(/Total reclaimed space: \d/);
    expect(t.run(['images', '-q']).stdout).toBe('');
    expectStoreConsistent(t.root);
  });
});

function chainIdsOf(l: BuiltLayout): string[] {
  const out: string[] = [];
  for (const layerInfo of l.layers) {
    const prev = out[out.length - 1];
    out.push(prev ? `sha256:${createHash('sha256').update(`${prev} ${layerInfo.diffId}`).digest('hex')}` : layerInfo.diffId);
  }
  return out;
}

describe('tsrun pull (concurrency and crashes, fault registry)', () => {
  const blobGets = (digest: string) =>
    fault.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`) && (r.status === 200 || r.status === 206));

  it('two concurrent pulls of one image both succeed and download each blob once', async () => {
    const t = cli();
    fault.requests.length = 0;
    fault.inject({ fault: { kind: 'slow', chunkBytes: 128 << 10, delayMs: 15 }, path: /\/blobs\//, method: 'GET', times: 3 });
    const name = `${fault.host}/slow/app`;
    const [a, b] = await Promise.all([t.runAsync(['pull', name]), t.runAsync(['pull', name])]);
    expect(a.stderr + b.stderr).toBe('');
    expect([a.code, b.code]).toEqual([0, 0]);
    for (const l of layout.layers) expect(blobGets(l.digest), `GETs of ${l.digest}`).toHaveLength(1);
    // The one that lost the race waited on the blob lock, then found the blob.
    expect(`${a.stdout}${b.stdout}`).toContain(': Waiting');
    expect(t.run(['images', '-q']).stdout).toBe(`${layout.configDigest.slice(7, 19)}\n`);
    expectStoreConsistent(t.root);
  });

  // The fault registry lives in this process: CLI calls that reach it must not block the event loop (runAsync).
  it('retries a failed blob request and says so on the layer line', async () => {
    const t = cli();
    const l = layout.layers[1]!;
    fault.inject({ fault: { kind: 'status', status: 503 }, path: new RegExp(`/blobs/${l.digest}$`), method: 'GET', times: 1 });
    const r = await t.runAsync(['pull', `${fault.host}/slow/app`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${l.digest.slice(7, 19)}: Retrying in \\d+ seconds?`));
    expect(r.stdout).toContain('Status: Downloaded newer image');
  });

  it('survives kill -9 at random points: the next pull completes and nothing partial is visible', async () => {
    const name = `${fault.host}/slow/app`;
    let resumed = 0;
    // Each round starts from an empty store and kills the pull at a different
    // point: start-up, manifest, mid-download, commit, unpack.
    for (let round = 0; round < 7; round++) {
      const t = cli();
      fault.inject({ fault: { kind: 'slow', chunkBytes: 64 << 10, delayMs: 20 }, path: /\/blobs\//, method: 'GET', times: 4 });
      const child = spawn(process.execPath, t.args(['pull', name]), { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      await sleep(150 + round * 150 + Math.floor(Math.random() * 120));
      child.kill('SIGKILL');
      await exited;
      expectStoreConsistent(t.root, true);
      expect(t.run(['images', '-q']).stdout.trim()).toMatch(/^([a-f0-9]{12})?$/);
      fault.requests.length = 0;
      const r = await t.runAsync(['pull', name]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      if (fault.requests.some((x) => x.headers.range)) resumed++;
      expectStoreConsistent(t.root);
      const [info] = JSON.parse(t.run(['image', 'inspect', name]).stdout);
      expect(info.Id).toBe(layout.configDigest);
      expect(readdirSync(join(t.root, 'content', 'ingest')).filter((n) => n.endsWith('.partial'))).toEqual([]);
      const mounted = t.run(['image', 'mount', name]).stdout.trim();
      expect(readFileSync(join(mounted, 'three', 'hello.txt'), 'utf8')).toBe('hello from three\n');
      t.run(['image', 'unmount', name]);
    }
    // Some kill landed mid-download and the next pull resumed with a Range request.
    expect(resumed).toBeGreaterThan(0);
  });
});

// ---- images built here and served by the fault registry (it serves any bytes as they are) ----

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

interface ServedLayer {
  tar: Buffer;
  blob: Buffer;
  mediaType: string;
  digest: string;
  diffId: string;
}

function sha256Of(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** A one-file layer, stored with `compress` and labelled `mediaType`. */
function servedLayer(name: string, mediaType = OCI_LAYER_GZIP, compress: (tar: Buffer) => Buffer = gzipSync): ServedLayer {
  const tar = tarOf([{ path: `${name}/` }, { path: `${name}/hello.txt`, content: `hello from ${name}\n` }]);
  const blob = compress(tar);
  return { tar, blob, mediaType, digest: sha256Of(blob), diffId: sha256Of(tar) };
}

function configFor(layers: ServedLayer[], architecture = 'amd64', variant?: string): Record<string, unknown> {
  return {
    architecture,
    ...(variant ? { variant } : {}),
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
}

/** Serve an image under `repo:tag`: its layer blobs, its config (an object, or raw bytes), its manifest. */
function serveImage(
  repo: string,
  tag: string,
  layers: ServedLayer[],
  config: Record<string, unknown> | Buffer = configFor(layers),
  manifestMediaType = OCI_MANIFEST,
): { name: string; manifestDigest: string; manifest: Buffer; configDigest: string } {
  for (const l of layers) fault.addBlob(l.blob);
  const configBytes = Buffer.isBuffer(config) ? config : Buffer.from(JSON.stringify(config));
  const cfg = fault.addBlob(configBytes);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: cfg.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
  }));
  const manifestDigest = fault.addManifest(repo, tag, manifest, manifestMediaType);
  return { name: `${fault.host}/${repo}:${tag}`, manifestDigest, manifest, configDigest: cfg.digest };
}

function blobsIn(root: string): string[] {
  const dir = join(root, 'content', 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function layerDirsIn(root: string): string[] {
  const dir = join(root, 'layers');
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
}

/**
 * A refused pull: exit 125, one "tsrun: NAME: ..." line naming no store path,
 * and nothing recorded (no image, no name, no layer dir, no temp dir).
 */
function expectRefused(t: TsrunCli, r: { code: number; stderr: string }, name: string, message: RegExp): void {
  expect(r.code, r.stderr).toBe(125);
  expect(r.stderr.endsWith('\n') && r.stderr.indexOf('\n') === r.stderr.length - 1, `one line: ${r.stderr}`).toBe(true);
  expect(r.stderr.startsWith(`tsrun: ${name}: `), r.stderr).toBe(true);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toContain(t.root);
  expect(t.run(['images', '-q']).stdout).toBe('');
  expect(layerDirsIn(t.root)).toEqual([]);
  expectStoreConsistent(t.root);
}

describe('tsrun pull --platform', () => {
  it('checks a single-manifest image against --platform: a match pulls, a mismatch is refused and records nothing', () => {
    const name = `${reg.host}/test/app:v1`; // its config says linux/amd64
    const ok = cli();
    const pulled = ok.run(['pull', '--platform', 'linux/amd64', name]);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(ok.run(['image', 'inspect', '-f', '{{.Architecture}}', name]).stdout).toBe('amd64\n');

    const t = cli();
    const r = t.run(['pull', '--platform', 'linux/arm64', name]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 125,
      stderr: `tsrun: image with reference ${name} was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64\n`,
    });
    expect(t.run(['images', '-q']).stdout).toBe('');
    expect(t.run(['image', 'inspect', name]).code).toBe(125);
    expect(layerDirsIn(t.root)).toEqual([]);
    expect(blobsIn(t.root)).toEqual([]);
    expectStoreConsistent(t.root);
  });

  it('picks the requested platform from an index and names only real platforms when none fits', async () => {
    const amdLayer = servedLayer('amd');
    const armLayer = servedLayer('arm');
    const amd = serveImage('multi/app', 'amd64-only', [amdLayer], configFor([amdLayer], 'amd64'));
    const arm = serveImage('multi/app', 'arm64-only', [armLayer], configFor([armLayer], 'arm64', 'v8'));
    // BuildKit's provenance: an attestation manifest listed as unknown/unknown.
    const statement = fault.addBlob(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1' }));
    const emptyConfig = fault.addBlob('{}');
    const attestation = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...emptyConfig },
      layers: [{ mediaType: 'application/vnd.in-toto+json', ...statement }],
    }));
    const attestationDigest = fault.addManifest('multi/app', 'attestation', attestation, OCI_MANIFEST);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: OCI_MANIFEST, digest: amd.manifestDigest, size: amd.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: OCI_MANIFEST, digest: arm.manifestDigest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        {
          mediaType: OCI_MANIFEST, digest: attestationDigest, size: attestation.length, platform: { os: 'unknown', architecture: 'unknown' },
          annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd.manifestDigest },
        },
      ],
    }));
    fault.addManifest('multi/app', 'latest', index, 'application/vnd.oci.image.index.v1+json');
    const name = `${fault.host}/multi/app:latest`;

    for (const [platform, arch, configDigest] of [['linux/arm64', 'arm64', arm.configDigest], ['linux/amd64', 'amd64', amd.configDigest]] as const) {
      const t = cli();
      const r = await t.runAsync(['pull', '--platform', platform, name]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [info] = JSON.parse(t.run(['image', 'inspect', name]).stdout);
      expect(info).toMatchObject({ Id: configDigest, Architecture: arch, Os: 'linux' });
    }

    const t = cli();
    const none = await t.runAsync(['pull', '--platform', 'linux/s390x', name]);
    expect({ code: none.code, stderr: none.stderr }).toEqual({
      code: 125,
      stderr: 'tsrun: no such manifest for platform: linux/s390x (the image provides linux/amd64, linux/arm64/v8)\n',
    });
    expect(t.run(['images', '-q']).stdout).toBe('');
    expect(blobsIn(t.root)).toEqual([]);
    expectStoreConsistent(t.root);
  });
});

describe('tsrun pull of bad images (fault registry)', () => {
  it('accepts every layer media type Docker unpacks: OCI and Docker tar, gzip, zstd, non-distributable', async () => {
    const zstd = (tar: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: tar });
    const plain = (tar: Buffer) => tar;
    const layers = [
      servedLayer('oci-tar', 'application/vnd.oci.image.layer.v1.tar', plain),
      servedLayer('oci-gzip', OCI_LAYER_GZIP),
      servedLayer('oci-zstd', 'application/vnd.oci.image.layer.v1.tar+zstd', zstd),
      servedLayer('docker-tar', 'application/vnd.docker.image.rootfs.diff.tar', plain),
      servedLayer('docker-gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip'),
      servedLayer('foreign-gzip', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'),
      servedLayer('nondist-zstd', 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', zstd),
    ];
    const { name } = serveImage('types/app', 'v1', layers);
    const t = cli();
    const r = await t.runAsync(['pull', '-q', name]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(layerDirsIn(t.root)).toHaveLength(layers.length);
    expectStoreConsistent(t.root);
  });

  it('refuses a config that is not JSON, naming the image', async () => {
    const l = servedLayer('bad-config');
    const { name } = serveImage('bad/config-bytes', 'v1', [l], Buffer.from('this is not { json'));
    const t = cli();
    const r = await t.runAsync(['pull', name]);
    expectRefused(t, r, name, /image config is not valid JSON/);
    expect(blobsIn(t.root)).toEqual([]);
  });

  it('refuses a config without rootfs.diff_ids, naming the image', async () => {
    const l = servedLayer('no-diffids');
    const { name } = serveImage('bad/config-rootfs', 'v1', [l], { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } });
    const t = cli();
    const r = await t.runAsync(['pull', name]);
    expectRefused(t, r, name, /image config "rootfs" must be/);
    expect(blobsIn(t.root)).toEqual([]);
  });

  it('refuses a manifest of an unknown media type, naming the image', async () => {
    const l = servedLayer('odd-manifest');
    const { name } = serveImage('bad/manifest-type', 'v1', [l], configFor([l]), 'application/vnd.example.thing.v1+json');
    const t = cli();
    const r = await t.runAsync(['pull', name]);
    expectRefused(t, r, name, /unsupported manifest media type "application\/vnd\.example\.thing\.v1\+json"$/m);
    expect(blobsIn(t.root)).toEqual([]);
  });

  it('refuses a layer of an unknown media type before downloading it, naming its short ID', async () => {
    const good = servedLayer('fine');
    const odd = servedLayer('odd', 'application/vnd.example.blob.v1'); // gzip'd tar bytes: sniffing would have unpacked it
    const { name } = serveImage('bad/layer-type', 'v1', [good, odd]);
    const t = cli();
    fault.requests.length = 0;
    const r = await t.runAsync(['pull', name]);
    expectRefused(t, r, name, new RegExp(`: layer ${odd.digest.slice(7, 19)} has the unsupported media type "application/vnd\\.example\\.blob\\.v1"$`, 'm'));
    expect(fault.requests.filter((x) => x.path.includes('/blobs/'))).toEqual([]);
    expect(blobsIn(t.root)).toEqual([]);
  });

  it('refuses a layer whose diffID does not match the config, unpacking it only once', async () => {
    const l = servedLayer('mismatch');
    const wrong = sha256Of('not the layer');
    const { name } = serveImage('bad/diffid', 'v1', [l], { ...configFor([l]), rootfs: { type: 'layers', diff_ids: [wrong] } });
    const t = cli();
    // Every unpack fills its own temp dir under layers/: count them.
    const layersDir = join(t.root, 'layers');
    mkdirSync(layersDir, { recursive: true });
    const tempDirs = new Set<string>();
    const watcher = watch(layersDir, (_event, file) => {
      if (file?.startsWith('.tmp-')) tempDirs.add(file);
    });
    const r = await t.runAsync(['pull', name]).finally(async () => {
      await sleep(200); // the last inotify events
      watcher.close();
    });
    expectRefused(
      t, r, name,
      new RegExp(`^tsrun: ${name.replace(/[.]/g, '\\.')}: layer ${l.digest.slice(7, 19)}: uncompressed content \\(diffID\\) digest mismatch: expected ${wrong}, got ${l.diffId}\\n$`),
    );
    expect([...tempDirs]).toHaveLength(1);
  });
});
