// RegistryClient against the in-memory fault registry (loopback only).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestMismatchError, RegistryError, RegistryUnreachableError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { parseReference } from '../../../src/image/reference.js';
import { MediaType } from '../../../src/oci/image.js';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { startFaultRegistry, type FaultRegistry, type FaultRegistryOptions } from '../../support/fault-registry.js';

let dir: string;
let reg: FaultRegistry | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-regclient-'));
});
afterEach(async () => {
  await reg?.close();
  reg = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const BLOB = Buffer.alloc(300_000);
for (let i = 0; i < BLOB.length; i++) BLOB[i] = (i * 7 + (i >> 8)) & 0xff;

async function setup(opts: FaultRegistryOptions = {}, clientOpts: RegistryClientOptions = {}, creds?: { u: string; p: string }) {
  reg = await startFaultRegistry(opts);
  const blob = reg.addBlob(BLOB);
  const config = reg.addBlob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, ...config },
    layers: [{ mediaType: MediaType.OciLayerGzip, ...blob }],
  });
  const manifestDigest = reg.addManifest('test/app', 'v1', manifest, MediaType.OciManifest);
  const dockerConfig = join(dir, 'config.json');
  if (creds) writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${creds.u}:${creds.p}`).toString('base64') } } }));
  const retries: string[] = [];
  const client = new RegistryClient({
    dockerConfigPath: dockerConfig,
    hostsConfigPath: join(dir, 'no-registries.json'),
    retryBaseDelayMs: 20,
    onRetry: (i) => retries.push(i.reason),
    ...clientOpts,
  });
  const ref = parseReference(`${reg.host}/test/app:v1`);
  const layer = { mediaType: MediaType.OciLayerGzip, ...blob };
  return { reg, client, ref, layer, config, manifest, manifestDigest, retries, partial: join(dir, 'blob.partial') };
}

describe('manifests', () => {
  it('resolves and fetches a manifest by tag and by digest', async () => {
    const { client, ref, manifest, manifestDigest } = await setup();
    expect(await client.resolve(ref)).toEqual({ digest: manifestDigest, mediaType: MediaType.OciManifest, size: manifest.length });
    const byTag = await client.getManifest(ref);
    expect(byTag).toEqual({ bytes: Buffer.from(manifest), mediaType: MediaType.OciManifest, digest: manifestDigest });
    const byDigest = await client.getManifest(ref, manifestDigest);
    expect(byDigest.digest).toBe(manifestDigest);
    expect(reg!.requests.find((r) => r.method === 'GET')!.headers.accept).toContain(MediaType.OciIndex);
  });

  it('reports an unknown tag with the full reference', async () => {
    const { client } = await setup();
    const err = await client.getManifest(parseReference(`${reg!.host}/test/app:nosuch`)).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.registryCode).toBe('MANIFEST_UNKNOWN');
    expect(err.message).toBe(`manifest for ${reg!.host}/test/app:nosuch not found: manifest unknown`);
  });

  it('rejects a manifest whose bytes do not match the digest asked for', async () => {
    const { client, ref, manifestDigest } = await setup();
    reg!.inject({ fault: { kind: 'wrong-digest' }, path: /manifests/ });
    await expect(client.getManifest(ref, manifestDigest)).rejects.toBeInstanceOf(DigestMismatchError);
  });
});

describe('error answers to a manifest HEAD', () => {
  // A registry that knows one repository, test/app. A HEAD answer cannot carry
  // the error body. 'explicit' registries say NAME_UNKNOWN for a manifest of an
  // unknown repository; 'distribution' (docker-registry) says MANIFEST_UNKNOWN
  // there and NAME_UNKNOWN only for its tag list. `headStatus` fails every HEAD.
  async function fakeRegistry(opts: { style?: 'explicit' | 'distribution'; headStatus?: number } = {}) {
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });
    const digest = sha256Digest(Buffer.from(manifest));
    const seen: { method: string; path: string }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ method: req.method!, path: req.url! });
      const error = (status: number, code: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase(), detail: null }] }));
      };
      if (req.url === '/v2/') return void res.end('{}');
      if (opts.headStatus !== undefined && req.method === 'HEAD') return error(opts.headStatus, 'UNSUPPORTED');
      const tags = /^\/v2\/(.+)\/tags\/list(\?.*)?$/.exec(req.url!);
      if (tags) return tags[1] === 'test/app' ? void res.end('{"name":"test/app","tags":["v1"]}') : error(404, 'NAME_UNKNOWN');
      const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(req.url!);
      if (!m) return error(404, 'NAME_UNKNOWN');
      if (m[1] !== 'test/app') return error(404, opts.style === 'distribution' ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN');
      if (m[2] !== 'v1') return error(404, 'MANIFEST_UNKNOWN');
      res.writeHead(200, { 'content-type': MediaType.OciIndex, 'docker-content-digest': digest, 'content-length': manifest.length });
      res.end(req.method === 'HEAD' ? undefined : manifest);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new RegistryClient({ dockerConfigPath: join(dir, 'none.json'), hostsConfigPath: join(dir, 'no-registries.json'), maxAttempts: 1 });
    return { host, seen, client, digest, manifest, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it.each(['explicit', 'distribution'] as const)('tells an unknown repository from an unknown tag (%s registry)', async (style) => {
    const fake = await fakeRegistry({ style });
    try {
      const noRepo = await fake.client.resolve(parseReference(`${fake.host}/test/nosuch:v1`)).catch((e) => e);
      expect(noRepo).toBeInstanceOf(RegistryError);
      expect(noRepo.registryCode).toBe('NAME_UNKNOWN');
      expect(noRepo.message).toBe(`repository ${fake.host}/test/nosuch does not exist or may require 'tsrun login'`);
      // The failed HEAD is followed by a GET of the same URL, whose body names the error;
      // a MANIFEST_UNKNOWN there is checked against the repository's tag list.
      expect(fake.seen).toEqual([
        { method: 'HEAD', path: '/v2/test/nosuch/manifests/v1' },
        { method: 'GET', path: '/v2/test/nosuch/manifests/v1' },
        ...(style === 'distribution' ? [{ method: 'GET', path: '/v2/test/nosuch/tags/list?n=1' }] : []),
      ]);
      const noTag = await fake.client.resolve(parseReference(`${fake.host}/test/app:nosuch`)).catch((e) => e);
      expect(noTag.registryCode).toBe('MANIFEST_UNKNOWN');
      expect(noTag.message).toBe(`manifest for ${fake.host}/test/app:nosuch not found: manifest unknown`);
      const byGet = await fake.client.getManifest(parseReference(`${fake.host}/test/nosuch:v1`)).catch((e) => e);
      expect(byGet.registryCode).toBe('NAME_UNKNOWN');
      // A known tag: the HEAD alone answers.
      fake.seen.length = 0;
      expect((await fake.client.resolve(parseReference(`${fake.host}/test/app:v1`))).digest).toBe(fake.digest);
      expect(fake.seen.map((r) => r.method)).toEqual(['HEAD']);
    } finally {
      await fake.close();
    }
  });

  it('resolves through the GET when only HEAD fails, and leaves 429s to the retries', async () => {
    const refused = await fakeRegistry({ headStatus: 405 });
    try {
      const resolved = await refused.client.resolve(parseReference(`${refused.host}/test/app:v1`));
      expect(resolved).toEqual({ digest: refused.digest, mediaType: MediaType.OciIndex, size: refused.manifest.length });
      expect(refused.seen.map((r) => r.method)).toEqual(['HEAD', 'GET']);
    } finally {
      await refused.close();
    }
    const limited = await fakeRegistry({ headStatus: 429 });
    try {
      const err = await limited.client.resolve(parseReference(`${limited.host}/test/app:v1`)).catch((e) => e);
      expect(err.registryCode).toBe('TOOMANYREQUESTS');
      expect(limited.seen.map((r) => r.method)).toEqual(['HEAD']);
    } finally {
      await limited.close();
    }
  });
});

describe('blobs', () => {
  it('downloads, verifies and reports progress', async () => {
    const { client, ref, layer, partial } = await setup();
    const progress: number[] = [];
    await client.fetchBlob(ref, layer, partial, { onProgress: (d, t) => { expect(t).toBe(BLOB.length); progress.push(d); } });
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    expect(progress.at(-1)).toBe(BLOB.length);
  });

  it('reads small blobs into memory, verified', async () => {
    const { client, ref, config } = await setup();
    const bytes = await client.getBlob(ref, { mediaType: MediaType.OciConfig, ...config });
    expect(sha256Digest(bytes)).toBe(config.digest);
    reg!.inject({ fault: { kind: 'wrong-digest' }, path: /blobs/ });
    await expect(client.getBlob(ref, { mediaType: MediaType.OciConfig, ...config })).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('resumes a partial file with Range and sends only the missing bytes', async () => {
    const { client, ref, layer, partial } = await setup();
    writeFileSync(partial, BLOB.subarray(0, 100_000));
    await client.fetchBlob(ref, layer, partial);
    const get = reg!.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
    expect(get).toHaveLength(1);
    expect(get[0]!.headers.range).toBe('bytes=100000-');
    expect(get[0]!.status).toBe(206);
    expect(get[0]!.bytesSent).toBe(BLOB.length - 100_000);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
  });

  it('resumes after a connection cut mid-body', async () => {
    const { client, ref, layer, partial, retries } = await setup();
    reg!.inject({ fault: { kind: 'truncate', afterBytes: 120_000 }, path: /blobs/ });
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    const get = reg!.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
    expect(get).toHaveLength(2);
    expect(get[1]!.headers.range).toMatch(/^bytes=\d+-$/);
    const resumedAt = Number(/bytes=(\d+)-/.exec(get[1]!.headers.range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    // Every byte went over the wire once.
    expect(get[0]!.bytesSent + get[1]!.bytesSent).toBe(BLOB.length);
    expect(retries.length).toBe(1);
  });

  it('starts over when the server ignores Range', async () => {
    const { client, ref, layer, partial } = await setup();
    writeFileSync(partial, BLOB.subarray(0, 5000));
    reg!.inject({ fault: { kind: 'ignore-range' }, path: /blobs/ });
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
  });

  it('starts over when the partial file holds garbage longer than the blob', async () => {
    const { client, ref, layer, partial } = await setup();
    writeFileSync(partial, Buffer.alloc(BLOB.length + 10, 1));
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
  });

  it('deletes the partial file and throws on a digest mismatch', async () => {
    const { client, ref, layer, partial } = await setup();
    reg!.inject({ fault: { kind: 'wrong-digest' }, path: /blobs/ });
    const err = await client.fetchBlob(ref, layer, partial).catch((e) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(err.expected).toBe(layer.digest);
    expect(existsSync(partial)).toBe(false);
  });

  it('detects a corrupt partial file only at the end, and deletes it', async () => {
    const { client, ref, layer, partial } = await setup();
    writeFileSync(partial, Buffer.alloc(1000, 0xee));
    await expect(client.fetchBlob(ref, layer, partial)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(existsSync(partial)).toBe(false);
  });

  it('honours 429 Retry-After', async () => {
    const { client, ref, layer, partial, retries } = await setup();
    reg!.inject({ fault: { kind: 'status', status: 429, retryAfter: '1' }, path: /blobs/ });
    const t0 = Date.now();
    await client.fetchBlob(ref, layer, partial);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/too many requests/);
  });

  it('reports a 429 with a Retry-After beyond a minute instead of waiting', async () => {
    const { client, ref, layer, partial } = await setup();
    reg!.inject({ fault: { kind: 'status', status: 429, retryAfter: '3600' }, path: /blobs/ });
    const err = await client.fetchBlob(ref, layer, partial).catch((e) => e);
    expect(err.registryCode).toBe('TOOMANYREQUESTS');
  });

  it('retries 5xx with backoff, then gives up after maxAttempts', async () => {
    const { client, ref, layer, partial, retries } = await setup({}, { maxAttempts: 3 });
    reg!.inject({ fault: { kind: 'status', status: 503 }, path: /blobs/, times: 2 });
    await client.fetchBlob(ref, layer, partial);
    expect(retries).toHaveLength(2);
    rmSync(partial);
    reg!.inject({ fault: { kind: 'status', status: 500 }, path: /blobs/, times: 3 });
    const err = await client.fetchBlob(ref, layer, partial).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(500);
  });

  it('retries connection resets', async () => {
    const { client, ref, layer, partial } = await setup();
    reg!.inject({ fault: { kind: 'reset' }, path: /blobs/ });
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
  });

  it('turns a stalled body into a retry (idle timeout)', async () => {
    const { client, ref, layer, partial, retries } = await setup({}, { timeoutMs: 300 });
    reg!.inject({ fault: { kind: 'slow', chunkBytes: 10_000, delayMs: 1000 }, path: /blobs/ });
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    expect(retries.length).toBeGreaterThanOrEqual(1);
  });

  it('can be aborted', async () => {
    const { client, ref, layer, partial } = await setup();
    reg!.inject({ fault: { kind: 'slow', chunkBytes: 10_000, delayMs: 50 }, path: /blobs/ });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const err = await client.fetchBlob(ref, layer, partial, { signal: ac.signal }).catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(statSync(partial).size).toBeLessThan(BLOB.length);
  });
});

describe('auth and redirects', () => {
  it('never sends Authorization to the storage host a blob is redirected to', async () => {
    const { client, ref, layer, partial } = await setup({ redirectBlobs: true, auth: { scheme: 'basic', username: 'u', password: 'p' } }, {}, { u: 'u', p: 'p' });
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    const toRegistry = reg!.requests.filter((r) => r.server === 'registry' && r.path.includes('/blobs/'));
    const toStorage = reg!.requests.filter((r) => r.server === 'storage');
    expect(toRegistry.at(-1)!.headers.authorization).toMatch(/^Basic /);
    expect(toStorage).toHaveLength(1);
    expect(toStorage[0]!.headers.authorization).toBeUndefined();
    expect(toStorage[0]!.headers.host).toBe(reg!.storageHost);
  });

  it('resumes against the redirect target too', async () => {
    const { client, ref, layer, partial } = await setup({ redirectBlobs: true });
    writeFileSync(partial, BLOB.subarray(0, 777));
    await client.fetchBlob(ref, layer, partial);
    const s = reg!.requests.filter((r) => r.server === 'storage');
    expect(s[0]!.headers.range).toBe('bytes=777-');
    expect(s[0]!.bytesSent).toBe(BLOB.length - 777);
  });

  it('uses Basic credentials from config.json after the challenge, then up front', async () => {
    const { client, ref, layer, partial } = await setup({ auth: { scheme: 'basic', username: 'u', password: 'p' } }, {}, { u: 'u', p: 'p' });
    await client.getManifest(ref);
    await client.fetchBlob(ref, layer, partial);
    const statuses = reg!.requests.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(1);
  });

  it('reports UNAUTHORIZED naming the user when the password is wrong', async () => {
    const { client, ref } = await setup({ auth: { scheme: 'basic', username: 'u', password: 'p' } }, {}, { u: 'u', p: 'wrong' });
    const err = await client.getManifest(ref).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.registryCode).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/rejected the credentials of user "u"/);
    expect(err.temporary()).toBe(false);
  });

  it('reports UNAUTHORIZED with a login hint when anonymous', async () => {
    const { client, ref } = await setup({ auth: { scheme: 'basic', username: 'u', password: 'p' } });
    const err = await client.getManifest(ref).catch((e) => e);
    expect(err.registryCode).toBe('UNAUTHORIZED');
    expect(err.hint).toMatch(/tsrun login/);
  });

  it('fetches one Bearer token per scope and reuses it', async () => {
    const { client, ref, layer, partial, manifestDigest } = await setup({ auth: { scheme: 'bearer', username: 'u', password: 'p' } }, {}, { u: 'u', p: 'p' });
    await client.resolve(ref);
    await client.getManifest(ref, manifestDigest);
    await Promise.all([client.fetchBlob(ref, layer, partial), client.fetchBlob(ref, layer, `${partial}.2`)]);
    expect(reg!.tokenRequests).toBe(1);
    const tokenReq = reg!.requests.find((r) => r.path.startsWith('/token'))!;
    expect(tokenReq.path).toContain('scope=repository%3Atest%2Fapp%3Apull');
    expect(tokenReq.path).toContain('service=fault-registry');
  });

  it('fetches a new token once the old one expired', async () => {
    const { client, ref } = await setup({ auth: { scheme: 'bearer', username: 'u', password: 'p', tokenExpiresIn: 1 } }, {}, { u: 'u', p: 'p' });
    await client.getManifest(ref);
    await new Promise((r) => setTimeout(r, 1100));
    await client.getManifest(ref);
    expect(reg!.tokenRequests).toBe(2);
  });

  const identityConfig = (entry: Record<string, string>) => writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [reg!.host]: entry } }));

  it('exchanges an identity token with an OAuth2 POST (grant_type=refresh_token) and reuses the token', async () => {
    const { client, ref, layer, partial } = await setup({ auth: { scheme: 'bearer', username: 'u', password: 'p', identityToken: 'refresh-123' } });
    identityConfig({ auth: Buffer.from('u:').toString('base64'), identitytoken: 'refresh-123' });
    await client.getManifest(ref);
    await client.fetchBlob(ref, layer, partial);
    const tokenReqs = reg!.requests.filter((r) => r.path.startsWith('/token'));
    expect(tokenReqs).toHaveLength(1);
    const post = tokenReqs[0]!;
    expect(post.method).toBe('POST');
    expect(post.path).toBe('/token');
    expect(post.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(post.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(post.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'refresh-123',
      service: 'fault-registry',
      client_id: 'tsrun',
      scope: 'repository:test/app:pull',
    });
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
  });

  it('falls back to the GET token flow when the token server answers the POST with 404', async () => {
    const { client, ref } = await setup({ auth: { scheme: 'bearer', username: 'u', password: 'p', oauth: false } });
    identityConfig({ auth: Buffer.from('u:p').toString('base64'), identitytoken: 'refresh-123' });
    await client.getManifest(ref);
    const tokenReqs = reg!.requests.filter((r) => r.path.startsWith('/token'));
    expect(tokenReqs.map((r) => [r.method, r.status])).toEqual([['POST', 404], ['GET', 200]]);
    expect(tokenReqs[1]!.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(tokenReqs[1]!.path).toContain('account=u');
  });

  it('reports a refused identity token as UNAUTHORIZED, with what the token server said', async () => {
    const { client, ref } = await setup({ auth: { scheme: 'bearer', username: 'u', password: 'p', identityToken: 'refresh-123' } });
    identityConfig({ identitytoken: 'revoked' });
    const err = await client.getManifest(ref).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.registryCode).toBe('UNAUTHORIZED');
    expect(err.message).toBe(`unauthorized: token server ${reg!.host} rejected the identity token for ${reg!.host}/test/app (invalid_grant: unknown refresh token)`);
    expect(err.temporary()).toBe(false);
  });

  it('checks login credentials with the token flow', async () => {
    const { client } = await setup({ auth: { scheme: 'bearer', username: 'u', password: 'p' } });
    await client.checkLogin(reg!.host, { username: 'u', secret: 'p' });
    const err = await client.checkLogin(reg!.host, { username: 'u', secret: 'bad' }).catch((e) => e);
    expect(err.registryCode).toBe('UNAUTHORIZED');
  });
});

describe('connection errors and mirrors', () => {
  it('names the host when the connection is refused, without retrying', async () => {
    const { client } = await setup();
    const host = reg!.host;
    await reg!.close();
    reg = undefined;
    const err = await client.getManifest(parseReference(`${host}/x:y`)).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryUnreachableError);
    expect(err.message).toContain(`cannot connect to ${host}`);
    expect(err.message).toContain('connection refused');
  });

  it('tries mirrors first and falls back to the registry', async () => {
    const upstream = await startFaultRegistry();
    const mirror = await startFaultRegistry();
    try {
      const bytes = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });
      upstream.addManifest('a/b', 'latest', bytes, MediaType.OciIndex);
      const hosts = join(dir, 'registries.json');
      writeFileSync(hosts, JSON.stringify({ registries: { [upstream.host]: { mirrors: [`http://${mirror.host}`] } } }));
      const client = new RegistryClient({ hostsConfigPath: hosts, dockerConfigPath: join(dir, 'c.json') });
      const ref = parseReference(`${upstream.host}/a/b`);
      expect((await client.getManifest(ref)).mediaType).toBe(MediaType.OciIndex);
      expect(mirror.requests.map((r) => r.path)).toEqual(['/v2/a/b/manifests/latest']);
      // Now the mirror has it: the registry is not asked.
      mirror.addManifest('a/b', 'latest', bytes, MediaType.OciIndex);
      const before = upstream.requests.length;
      await client.getManifest(ref);
      expect(upstream.requests.length).toBe(before);
    } finally {
      await upstream.close();
      await mirror.close();
    }
  });

  it('falls back to plain HTTP for an "insecure" registry that does not speak TLS', async () => {
    const { reg: r } = await setup();
    const hosts = join(dir, 'registries.json');
    writeFileSync(hosts, JSON.stringify({ registries: { [r.host]: { tls: true, insecure: true } } }));
    const client = new RegistryClient({ hostsConfigPath: hosts, dockerConfigPath: join(dir, 'c.json') });
    const m = await client.getManifest(parseReference(`${r.host}/test/app:v1`));
    expect(m.mediaType).toBe(MediaType.OciManifest);
    // Without "insecure", the TLS failure is reported, naming the host.
    writeFileSync(hosts, JSON.stringify({ registries: { [r.host]: { tls: true } } }));
    const strict = new RegistryClient({ hostsConfigPath: hosts, dockerConfigPath: join(dir, 'c.json'), maxAttempts: 1 });
    const err = await strict.getManifest(parseReference(`${r.host}/test/app:v1`)).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryUnreachableError);
    expect(err.message).toContain(`cannot connect to ${r.host}`);
  });

  it("falls back to plain HTTP for any registry when the command's options allow HTTP (tsrkt --insecure-options=http)", async () => {
    const { reg: r } = await setup();
    const hosts = join(dir, 'registries.json');
    // "tls": true makes the loopback registry a TLS one, as a remote registry would be.
    writeFileSync(hosts, JSON.stringify({ registries: { [r.host]: { tls: true } } }));
    const client = new RegistryClient({ hostsConfigPath: hosts, dockerConfigPath: join(dir, 'c.json'), insecure: { allowHttp: true } });
    const m = await client.getManifest(parseReference(`${r.host}/test/app:v1`));
    expect(m.mediaType).toBe(MediaType.OciManifest);
    const tlsOnly = new RegistryClient({ hostsConfigPath: hosts, dockerConfigPath: join(dir, 'c.json'), maxAttempts: 1, insecure: { skipTlsVerify: true } });
    const err = await tlsOnly.getManifest(parseReference(`${r.host}/test/app:v1`)).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryUnreachableError);
  });
});
