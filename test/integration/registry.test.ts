// RegistryClient against the real docker-registry (distribution v2.8) in its
// three auth modes, with images pushed by skopeo. A counting proxy in front of
// the registry measures resumed downloads, injects 429s and redirects blobs
// to another host.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError, RegistryError } from '../../src/errors.js';
import { parseImageConfig, parseManifest } from '../../src/image/manifest.js';
import { parseReference } from '../../src/image/reference.js';
import type { Descriptor } from '../../src/oci/image.js';
import { RegistryClient } from '../../src/registry/client.js';
import { buildOciLayout, tarOf, type BuiltLayout } from '../support/oci-layout.js';
import { startRegistry, pushImage, type RegistryAuth, type RunningRegistry } from '../support/registry-server.js';
import { startRegistryProxy, type RegistryProxy } from '../support/registry-proxy.js';

// A layer big enough that a resumed download is visibly smaller than a full one.
function pseudoRandom(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe.each<RegistryAuth>(['none', 'basic', 'token'])('docker-registry with auth=%s', (auth) => {
  let reg: RunningRegistry;
  let proxy: RegistryProxy;
  let work: string;
  let layout: BuiltLayout;
  let dockerConfig: string;

  const client = (opts: { maxAttempts?: number; onRetry?: (i: { attempt: number; delayMs: number; reason: string }) => void } = {}) =>
    new RegistryClient({ dockerConfigPath: dockerConfig, hostsConfigPath: join(work, 'none.json'), retryBaseDelayMs: 50, ...opts });
  const layerDesc = (i: number): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layout.layers[i]!.digest, size: layout.layers[i]!.size });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), `tsrun-reg-it-${auth}-`));
    reg = await startRegistry({ auth });
    layout = buildOciLayout(join(work, 'layout'), 'v1', [
      tarOf([{ path: 'etc/' }, { path: 'etc/hello', content: 'hello from tsrun\n' }]),
      tarOf([{ path: 'data.bin', content: pseudoRandom(400_000, 42) }]),
    ]);
    await pushImage(layout.dir, reg.host, 'test/app:v1', auth === 'none' ? undefined : reg.credentials);
    proxy = await startRegistryProxy(reg.host);
    dockerConfig = join(work, 'config.json');
    const b64 = Buffer.from(`${reg.credentials.username}:${reg.credentials.password}`).toString('base64');
    writeFileSync(dockerConfig, JSON.stringify(auth === 'none' ? {} : { auths: { [reg.host]: { auth: b64 }, [proxy.host]: { auth: b64 } } }));
  });

  afterAll(async () => {
    await proxy?.close();
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('pulls the manifest, config and layers', async () => {
    const c = client();
    const ref = parseReference(`${reg.host}/test/app:v1`);
    const tokensBefore = reg.tokenRequests;
    const resolved = await c.resolve(ref);
    expect(resolved.digest).toBe(layout.manifestDigest);
    const m = await c.getManifest(ref);
    expect(m.digest).toBe(layout.manifestDigest);
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== 'manifest') throw new Error('expected a manifest');
    const config = parseImageConfig(await c.getBlob(ref, parsed.manifest.config));
    expect(config.rootfs.diff_ids).toEqual(layout.layers.map((l) => l.diffId));
    for (const [i, l] of parsed.manifest.layers.entries()) {
      const partial = join(work, `layer${i}.partial`);
      await c.fetchBlob(ref, l, partial);
      expect(readFileSync(partial).equals(layout.layers[i]!.blob)).toBe(true);
      rmSync(partial);
    }
    if (auth === 'token') {
      // One token for repository:test/app:pull, reused for every request.
      expect(reg.tokenRequests - tokensBefore).toBe(1);
    }
  });

  it('reports a missing tag as MANIFEST_UNKNOWN with the reference', async () => {
    const err = await client().getManifest(parseReference(`${reg.host}/test/app:nosuch`)).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.registryCode).toBe('MANIFEST_UNKNOWN');
    expect(err.message).toBe(`manifest for ${reg.host}/test/app:nosuch not found: manifest unknown`);
    expect(err.message).toContain(`${reg.host}/test/app`);
  });

  // resolve starts with a HEAD, whose 404 has no body to tell the two apart.
  it('resolves an unknown repository to NAME_UNKNOWN and an unknown tag of a known one to MANIFEST_UNKNOWN', async () => {
    const noRepo = await client().resolve(parseReference(`${reg.host}/test/nosuch:v1`)).catch((e) => e);
    expect(noRepo).toBeInstanceOf(RegistryError);
    expect(noRepo.registryCode).toBe('NAME_UNKNOWN');
    expect(noRepo.message).toBe(`repository ${reg.host}/test/nosuch does not exist or may require 'tsrun login'`);
    const noTag = await client().resolve(parseReference(`${reg.host}/test/app:nosuch`)).catch((e) => e);
    expect(noTag).toBeInstanceOf(RegistryError);
    expect(noTag.registryCode).toBe('MANIFEST_UNKNOWN');
    expect(noTag.message).toBe(`manifest for ${reg.host}/test/app:nosuch not found: manifest unknown`);
  });

  // Skipped for the open registry: without auth there is no password to get wrong.
  it.runIf(auth !== 'none')('reports UNAUTHORIZED for a wrong password and for no credentials', async () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.credentials.username}:wrong`).toString('base64') } } }));
    const ref = parseReference(`${reg.host}/test/app:v1`);
    const err = await new RegistryClient({ dockerConfigPath: bad, hostsConfigPath: join(work, 'none.json') }).getManifest(ref).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.registryCode).toBe('UNAUTHORIZED');
    expect(err.message).toContain(`user "${reg.credentials.username}"`);
    const anon = await new RegistryClient({ dockerConfigPath: join(work, 'empty.json'), hostsConfigPath: join(work, 'none.json') }).getManifest(ref).catch((e) => e);
    expect(anon.registryCode).toBe('UNAUTHORIZED');
    await expect(client().checkLogin(reg.host, { username: reg.credentials.username, secret: 'wrong' })).rejects.toMatchObject({ registryCode: 'UNAUTHORIZED' });
    await client().checkLogin(reg.host, { username: reg.credentials.username, secret: reg.credentials.password });
  });

  it('resumes a partial download with Range and transfers only the rest', async () => {
    const ref = parseReference(`${proxy.host}/test/app:v1`);
    const desc = layerDesc(1);
    const partial = join(work, 'resume.partial');
    const have = Math.floor(desc.size / 2);
    writeFileSync(partial, layout.layers[1]!.blob.subarray(0, have));
    const start = proxy.requests.length;
    await client().fetchBlob(ref, desc, partial);
    expect(readFileSync(partial).equals(layout.layers[1]!.blob)).toBe(true);
    const gets = proxy.requests.slice(start).filter((r) => r.method === 'GET' && r.path.includes('/blobs/') && r.status === 206);
    expect(gets).toHaveLength(1);
    expect(gets[0]!.headers.range).toBe(`bytes=${have}-`);
    expect(gets[0]!.bodyBytes).toBe(desc.size - have);
    rmSync(partial);
  });

  it('waits as long as a 429 Retry-After asks, then succeeds', async () => {
    const ref = parseReference(`${proxy.host}/test/app:v1`);
    const retries: { delayMs: number; reason: string }[] = [];
    proxy.throttle(/\/blobs\//, '1');
    const partial = join(work, 'throttled.partial');
    const t0 = Date.now();
    await client({ onRetry: (i) => retries.push(i) }).fetchBlob(ref, layerDesc(0), partial);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.delayMs).toBe(1000);
    expect(retries[0]!.reason).toMatch(/too many requests/);
    expect(readFileSync(partial).equals(layout.layers[0]!.blob)).toBe(true);
    rmSync(partial);
  });

  it('never forwards Authorization to the host a blob is redirected to', async () => {
    const ref = parseReference(`${proxy.host}/test/app:v1`);
    proxy.redirectBlobs();
    const start = proxy.requests.length;
    const partial = join(work, 'redirected.partial');
    await client().fetchBlob(ref, layerDesc(1), partial);
    expect(readFileSync(partial).equals(layout.layers[1]!.blob)).toBe(true);
    const reqs = proxy.requests.slice(start);
    const redirected = reqs.filter((r) => r.server === 'proxy' && r.status === 307);
    const storage = reqs.filter((r) => r.server === 'storage');
    expect(redirected).toHaveLength(1);
    expect(storage).toHaveLength(1);
    if (auth !== 'none') expect(redirected[0]!.headers.authorization).toBeDefined();
    expect(storage[0]!.headers.authorization).toBeUndefined();
    expect(storage[0]!.headers.host).toBe(proxy.storageHost);
    rmSync(partial);
  });

  // Mirrors whose URL has a path, with containerd's hosts.toml rule: "/v2" is appended to a
  // path that does not end in it; overridePath takes the path as the API root. The image's own
  // registry (127.0.0.1:1) refuses connections, so only the mirror can have served the pull.
  it('pulls through mirrors whose URLs have a path', async () => {
    const mirror = await startRegistryProxy(reg.host, {
      mapPath: (p) => {
        for (const prefix of ['/mirror/v2/', '/v2/proxy-docker/v2/', '/v2/proxy-docker/']) if (p.startsWith(prefix)) return `/v2/${p.slice(prefix.length)}`;
        return undefined;
      },
    });
    try {
      const b64 = Buffer.from(`${reg.credentials.username}:${reg.credentials.password}`).toString('base64');
      const config = join(work, 'mirror-config.json');
      writeFileSync(config, JSON.stringify(auth === 'none' ? {} : { auths: { [mirror.host]: { auth: b64 } } }));
      const cases: [unknown, string][] = [
        [`http://${mirror.host}/mirror`, '/mirror/v2/test/app/'],
        [`${mirror.host}/mirror/v2/`, '/mirror/v2/test/app/'],
        [`http://${mirror.host}/v2/proxy-docker`, '/v2/proxy-docker/v2/test/app/'],
        [{ url: `http://${mirror.host}/v2/proxy-docker`, overridePath: true }, '/v2/proxy-docker/test/app/'],
      ];
      for (const [entry, expectedPrefix] of cases) {
        const hosts = join(work, 'mirror-registries.json');
        writeFileSync(hosts, JSON.stringify({ registries: { '127.0.0.1:1': { mirrors: [entry] } } }));
        const c = new RegistryClient({ dockerConfigPath: config, hostsConfigPath: hosts, retryBaseDelayMs: 50 });
        const ref = parseReference('127.0.0.1:1/test/app:v1');
        const start = mirror.requests.length;
        expect((await c.resolve(ref)).digest).toBe(layout.manifestDigest);
        const m = await c.getManifest(ref);
        const parsed = parseManifest(m.bytes, m.mediaType);
        if (parsed.kind !== 'manifest') throw new Error('expected a manifest');
        await c.getBlob(ref, parsed.manifest.config);
        const partial = join(work, 'mirrored.partial');
        await c.fetchBlob(ref, layerDesc(1), partial);
        expect(readFileSync(partial).equals(layout.layers[1]!.blob)).toBe(true);
        rmSync(partial);
        const reqs = mirror.requests.slice(start);
        expect(reqs.length).toBeGreaterThanOrEqual(4);
        for (const r of reqs) {
          expect(r.path.startsWith(expectedPrefix), `${JSON.stringify(entry)}: ${r.path}`).toBe(true);
          expect([200, 401]).toContain(r.status);
        }
      }
    } finally {
      await mirror.close();
    }
  });

  it('rejects a corrupted blob with DigestMismatchError and leaves no partial file', async () => {
    // Corrupt the stored layer in the registry's storage (it does not re-verify on read).
    const hex = layout.layers[0]!.digest.slice(7);
    const data = join(reg.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    expect(existsSync(data)).toBe(true);
    const bytes = readFileSync(data);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(data, bytes);
    const partial = join(work, 'corrupt.partial');
    const err = await client().fetchBlob(parseReference(`${reg.host}/test/app:v1`), layerDesc(0), partial).catch((e) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(err.expected).toBe(layout.layers[0]!.digest);
    expect(existsSync(partial)).toBe(false);
    expect(readdirSync(work).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});

// Docker's "identitytoken": an OAuth2 refresh token exchanged at the token issuer
// with a POST (grant_type=refresh_token), falling back to the GET flow on a 404.
describe('identity tokens with the token issuer', () => {
  let reg: RunningRegistry;
  let work: string;
  let layout: BuiltLayout;

  const client = (dockerConfig: object) => {
    const path = join(work, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(dockerConfig));
    return new RegistryClient({ dockerConfigPath: path, hostsConfigPath: join(work, 'none.json'), retryBaseDelayMs: 50 });
  };
  const pullAll = async (c: RegistryClient, host: string) => {
    const ref = parseReference(`${host}/test/app:v1`);
    const m = await c.getManifest(ref);
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== 'manifest') throw new Error('expected a manifest');
    await c.getBlob(ref, parsed.manifest.config);
    const partial = join(work, 'layer.partial');
    await c.fetchBlob(ref, parsed.manifest.layers[0]!, partial);
    expect(readFileSync(partial).equals(layout.layers[0]!.blob)).toBe(true);
    rmSync(partial);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tsrun-reg-it-identity-'));
    reg = await startRegistry({ auth: 'token' });
    layout = buildOciLayout(join(work, 'layout'), 'v1', [tarOf([{ path: 'etc/' }, { path: 'etc/id', content: 'identity\n' }])]);
    await pushImage(layout.dir, reg.host, 'test/app:v1', reg.credentials);
  });
  afterAll(async () => {
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('pulls with the identitytoken of config.json: one OAuth2 POST, no password sent', async () => {
    const before = reg.tokenLog.length;
    const c = client({ auths: { [reg.host]: { auth: Buffer.from(`${reg.credentials.username}:`).toString('base64'), identitytoken: reg.identityToken } } });
    await pullAll(c, reg.host);
    const reqs = reg.tokenLog.slice(before);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toEqual({
      method: 'POST',
      params: { grant_type: 'refresh_token', refresh_token: reg.identityToken, service: 'tsrun-test-registry', client_id: 'tsrun', scope: 'repository:test/app:pull' },
      contentType: 'application/x-www-form-urlencoded',
      status: 200,
    });
  });

  it('treats a credential helper answering Username "<token>" the same way', async () => {
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    const helper = join(bin, 'docker-credential-tokentest');
    writeFileSync(helper, `#!/bin/sh\nread server\necho '{"ServerURL":"'"$server"'","Username":"<token>","Secret":"${reg.identityToken}"}'\n`);
    chmodSync(helper, 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const before = reg.tokenLog.length;
      await pullAll(client({ credHelpers: { [reg.host]: 'tokentest' } }), reg.host);
      const reqs = reg.tokenLog.slice(before);
      expect(reqs.map((r) => [r.method, r.params.grant_type, r.params.refresh_token, r.status])).toEqual([['POST', 'refresh_token', reg.identityToken, 200]]);
    } finally {
      process.env.PATH = oldPath;
    }
  });

  it('reports a revoked identity token as unauthorized, with what the issuer said', async () => {
    const err = await client({ auths: { [reg.host]: { identitytoken: 'revoked' } } }).getManifest(parseReference(`${reg.host}/test/app:v1`)).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.registryCode).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/rejected the identity token .*invalid_grant: unknown or revoked refresh token/);
  });

  it('falls back to the GET flow (Basic credentials) when the issuer answers the POST with 404', async () => {
    const plain = await startRegistry({ auth: 'token', oauth: false });
    try {
      await pushImage(layout.dir, plain.host, 'test/app:v1', plain.credentials);
      const before = plain.tokenLog.length;
      const auth = Buffer.from(`${plain.credentials.username}:${plain.credentials.password}`).toString('base64');
      await pullAll(client({ auths: { [plain.host]: { auth, identitytoken: 'not-used-here' } } }), plain.host);
      const reqs = plain.tokenLog.slice(before);
      expect(reqs.map((r) => [r.method, r.status])).toEqual([['POST', 404], ['GET', 200]]);
      expect(reqs[1]!.authorization).toBe(`Basic ${auth}`);
      expect(reqs[1]!.params).toMatchObject({ service: 'tsrun-test-registry', scope: 'repository:test/app:pull', account: plain.credentials.username });
    } finally {
      await plain.stop();
    }
  });
});
