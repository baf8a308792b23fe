// The push side of the registry client: pure pieces (Location resolution,
// scopes, chunks), then RegistryPushClient against the in-memory fault
// registry (loopback only).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { parseReference } from '../../../src/image/reference.js';
import { MediaType } from '../../../src/oci/image.js';
import { registryError } from '../../../src/registry/error-answers.js';
import {
  RegistryPushClient, completionUrl, defaultChunkSize, mountPath, mountScope, pushScope, rangeEnd, uploadChunks, uploadLocation,
  type RegistryPushClientOptions,
} from '../../../src/registry/upload.js';
import { startFaultRegistry, type FaultRegistry, type FaultRegistryOptions } from '../../support/fault-registry.js';

describe('upload pieces', () => {
  const answered = new URL('http://127.0.0.1:5000/v2/a/b/blobs/uploads/');

  it('resolves a Location that is absolute, root-relative or relative to the URL that answered', () => {
    expect(uploadLocation('https://storage.example/up/1?sig=x', answered, 202).href).toBe('https://storage.example/up/1?sig=x');
    expect(uploadLocation('/v2/a/b/blobs/uploads/u1?_state=a%2Bb', answered, 202).href).toBe('http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=a%2Bb');
    expect(uploadLocation('u1?_state=s', answered, 202).href).toBe('http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=s');
    const patched = new URL('http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=s');
    expect(uploadLocation('u1?_state=t', patched, 202).href).toBe('http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=t');
    expect(uploadLocation(['/v2/x', '/v2/y'], answered, 202).pathname).toBe('/v2/x');
  });

  it('refuses an answer without a Location, as an error not worth retrying', () => {
    let err: unknown;
    try {
      uploadLocation(undefined, answered, 202);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).registryCode).toBe('BLOB_UPLOAD_INVALID');
    expect((err as RegistryError).temporary()).toBe(false);
    expect((err as Error).message).toContain('without a Location');
  });

  it('adds digest= to the session URL and keeps its own query as it is', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(completionUrl(new URL('http://h/v2/r/blobs/uploads/u1?_state=a%2Bb%2F%3D'), d).href).toBe(`http://h/v2/r/blobs/uploads/u1?_state=a%2Bb%2F%3D&digest=sha256%3A${'a'.repeat(64)}`);
    expect(completionUrl(new URL('http://h/v2/r/blobs/uploads/u1'), d).search).toBe(`?digest=sha256%3A${'a'.repeat(64)}`);
  });

  it('asks for pull,push on the target and pull on a mount source', () => {
    expect(pushScope('team/app')).toBe('repository:team/app:pull,push');
    expect(mountScope('team/app', 'library/busybox')).toBe('repository:team/app:pull,push repository:library/busybox:pull');
    expect(mountPath('/v2', 'team/app', 'sha256:00', 'library/busybox')).toBe('/v2/team/app/blobs/uploads/?mount=sha256%3A00&from=library%2Fbusybox');
  });

  it('cuts a blob into inclusive chunk ranges', () => {
    expect(uploadChunks(10, 4)).toEqual([{ start: 0, end: 3 }, { start: 4, end: 7 }, { start: 8, end: 9 }]);
    expect(uploadChunks(8, 4)).toEqual([{ start: 0, end: 3 }, { start: 4, end: 7 }]);
    expect(uploadChunks(0, 4)).toEqual([]);
  });

  it('reads the Range a registry reports after a chunk', () => {
    expect(rangeEnd('0-1023')).toBe(1023);
    expect(rangeEnd('bytes=0-99')).toBe(99);
    expect(rangeEnd(undefined)).toBeUndefined();
    expect(rangeEnd('5-9')).toBeUndefined();
  });

  it('takes the chunk size from TSRUN_PUSH_CHUNK_SIZE', () => {
    expect(defaultChunkSize(undefined)).toBe(32 << 20);
    expect(defaultChunkSize('65536')).toBe(65536);
    expect(defaultChunkSize('64k')).toBe(65536);
    expect(defaultChunkSize('5M')).toBe(5 << 20);
    expect(() => defaultChunkSize('lots')).toThrow(/TSRUN_PUSH_CHUNK_SIZE/);
    expect(() => defaultChunkSize('0')).toThrow(/not a size/);
  });

  it('words push errors for what a push does', () => {
    const body = (code: string, message: string) => Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
    const ctx = { registry: '127.0.0.1:5000', repository: '127.0.0.1:5000/team/app', what: 'upload' as const, target: 'sha256:ab', push: true };
    const anon = registryError(401, Buffer.alloc(0), ctx);
    expect(anon.message).toBe('unauthorized: authentication required to push to 127.0.0.1:5000/team/app');
    expect(anon.hint).toBe('run "tsrun login 127.0.0.1:5000" first');
    expect(registryError(401, Buffer.alloc(0), { ...ctx, username: 'bob', insufficientScope: true }).message).toBe('unauthorized: user "bob" may not push to 127.0.0.1:5000/team/app');
    expect(registryError(403, body('DENIED', 'requested access to the resource is denied'), { ...ctx, username: 'bob' }).message).toBe(
      'denied: push access to 127.0.0.1:5000/team/app is denied for user "bob" (registry said: requested access to the resource is denied)',
    );
    expect(registryError(400, body('NAME_INVALID', 'invalid repository name'), ctx).message).toBe(
      'invalid repository name: 127.0.0.1:5000 does not accept the name 127.0.0.1:5000/team/app (registry said: invalid repository name)',
    );
    expect(registryError(400, body('BLOB_UPLOAD_INVALID', 'blob upload invalid'), ctx).message).toContain('refused the upload of sha256:ab to 127.0.0.1:5000/team/app');
    expect(registryError(404, Buffer.alloc(0), ctx).registryCode).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(registryError(400, body('DIGEST_INVALID', 'x'), ctx).message).toContain('do not match the digest');
    expect(registryError(400, body('MANIFEST_BLOB_UNKNOWN', 'x'), { ...ctx, what: 'manifest', target: 'v1' }).message).toContain('the manifest of 127.0.0.1:5000/team/app:v1 names a blob');
    expect(registryError(405, Buffer.alloc(0), ctx).message).toMatch(/^unsupported: 127.0.0.1:5000 does not support this push request/);
    expect(registryError(429, Buffer.alloc(0), ctx).message).toContain('rate-limiting pushes');
  });
});

let dir: string;
let reg: FaultRegistry | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-upload-'));
});
afterEach(async () => {
  await reg?.close();
  reg = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function setup(opts: FaultRegistryOptions = {}, clientOpts: RegistryPushClientOptions = {}, creds?: { u: string; p: string }) {
  reg = await startFaultRegistry(opts);
  const dockerConfig = join(dir, 'config.json');
  if (creds) writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${creds.u}:${creds.p}`).toString('base64') } } }));
  const retries: string[] = [];
  const client = new RegistryPushClient({
    dockerConfigPath: dockerConfig,
    hostsConfigPath: join(dir, 'no-registries.json'),
    retryBaseDelayMs: 20,
    onRetry: (i) => retries.push(i.reason),
    ...clientOpts,
  });
  const bytes = randomBytes(100_000);
  const path = join(dir, 'blob');
  writeFileSync(path, bytes);
  const desc = { digest: sha256Digest(bytes), size: bytes.length };
  return { reg, client, ref: parseReference(`${reg.host}/team/app:v1`), bytes, path, desc, retries };
}

const uploadRequests = (r: FaultRegistry) => r.requests.filter((q) => q.path.includes('/blobs/uploads/'));

describe('RegistryPushClient', () => {
  for (const style of ['root-relative', 'absolute', 'relative'] as const) {
    it(`uploads a blob with one PUT, following a ${style} Location with its state`, async () => {
      const { reg, client, ref, bytes, path, desc } = await setup({ uploadLocation: style });
      expect(await client.blobExists(ref, desc.digest)).toBe(false);
      const progress: number[] = [];
      await client.uploadBlob(ref, desc, { path }, { onProgress: (done) => progress.push(done) });
      expect(reg.blob(desc.digest)?.equals(bytes)).toBe(true);
      expect(await client.blobExists(ref, desc.digest)).toBe(true);
      const ups = uploadRequests(reg);
      expect(ups.map((q) => q.method)).toEqual(['POST', 'PUT']);
      expect(ups[1]!.path).toMatch(/^\/v2\/team\/app\/blobs\/uploads\/u1\?_state=u1%2B0%2F%3D&digest=sha256%3A[a-f0-9]{64}$/);
      expect(ups[1]!.headers['content-length']).toBe(String(bytes.length));
      expect(ups[1]!.headers['content-type']).toBe('application/octet-stream');
      expect(ups[0]!.headers['content-length']).toBe('0');
      expect(progress[0]).toBe(0);
      expect(progress[progress.length - 1]).toBe(bytes.length);
      expect(reg.openUploads()).toBe(0);
    });
  }

  it('uploads a big blob in PATCH chunks with Content-Range, then a PUT without a body', async () => {
    const { reg, client, ref, bytes, path, desc } = await setup({ uploadLocation: 'relative' }, { chunkSize: 30_000 });
    await client.uploadBlob(ref, desc, { path });
    expect(reg.blob(desc.digest)?.equals(bytes)).toBe(true);
    const ups = uploadRequests(reg);
    expect(ups.map((q) => q.method)).toEqual(['POST', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
    expect(ups.filter((q) => q.method === 'PATCH').map((q) => q.headers['content-range'])).toEqual(['0-29999', '30000-59999', '60000-89999', '90000-99999']);
    // Each request went to the Location the last answer gave.
    expect(ups.slice(1).map((q) => new URL(q.path, 'http://x').searchParams.get('_state'))).toEqual(['u1+0/=', 'u1+30000/=', 'u1+60000/=', 'u1+90000/=', 'u1+100000/=']);
    expect(ups[5]!.headers['content-length']).toBe('0');
    expect(ups[5]!.bytesReceived).toBe(0);
  });

  it('sends chunks of at least the OCI-Chunk-Min-Length the registry asks for', async () => {
    const { reg, client, ref, path, desc } = await setup({ chunkMinLength: 60_000 }, { chunkSize: 30_000 });
    await client.uploadBlob(ref, desc, { path });
    expect(uploadRequests(reg).filter((q) => q.method === 'PATCH').map((q) => q.headers['content-range'])).toEqual(['0-59999', '60000-99999']);
  });

  it('uploads from memory too (a config)', async () => {
    const { reg, client, ref } = await setup();
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    await client.uploadBlob(ref, { digest: sha256Digest(config), size: config.length }, { bytes: config });
    expect(reg.blob(sha256Digest(config))?.equals(config)).toBe(true);
  });

  it('starts a failed upload over with a new session and cancels the old one (500 on the PUT)', async () => {
    const { reg, client, ref, bytes, path, desc, retries } = await setup();
    reg.inject({ fault: { kind: 'status', status: 500 }, method: 'PUT', path: /\/blobs\/uploads\// });
    await client.uploadBlob(ref, desc, { path });
    expect(reg.blob(desc.digest)?.equals(bytes)).toBe(true);
    expect(retries).toHaveLength(1);
    expect(uploadRequests(reg).map((q) => `${q.method} ${q.status}`)).toEqual(['POST 202', 'PUT 500', 'DELETE 204', 'POST 202', 'PUT 201']);
    expect(reg.openUploads()).toBe(0);
  });

  it('stops sending a body the registry answered early, and drops that connection', async () => {
    // Refuses every PUT at once without reading its body, and keeps idle connections for long.
    const closed: number[] = [];
    let answeredAt = 0;
    const server = http.createServer((req, res) => {
      if (req.method === 'POST') {
        req.resume();
        res.writeHead(202, { location: '/v2/team/app/blobs/uploads/u1', 'content-length': 0 });
        res.end();
        return;
      }
      req.socket.once('close', () => closed.push(Date.now()));
      answeredAt = Date.now();
      const body = JSON.stringify({ errors: [{ code: 'DENIED', message: 'no' }] });
      res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const client = new RegistryPushClient({ dockerConfigPath: join(dir, 'none.json'), hostsConfigPath: join(dir, 'none.json'), chunkSize: 64 << 20 });
      const big = Buffer.alloc(48 << 20, 7);
      const err = await client.uploadBlob(parseReference(`${host}/team/app`), { digest: sha256Digest(big), size: big.length }, { bytes: big }).catch((e) => e);
      expect(err.registryCode).toBe('DENIED');
      for (let i = 0; i < 50 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(closed.length).toBe(1);
      expect(closed[0]! - answeredAt).toBeLessThan(1000);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('starts over from the first chunk when a PATCH fails half way', async () => {
    const { reg, client, ref, bytes, path, desc } = await setup({}, { chunkSize: 40_000 });
    reg.inject({ fault: { kind: 'reset' }, method: 'PATCH', path: /\/blobs\/uploads\// });
    const onRetry: string[] = [];
    await client.uploadBlob(ref, desc, { path }, { onRetry: (i) => onRetry.push(i.reason) });
    expect(onRetry).toHaveLength(1);
    expect(reg.blob(desc.digest)?.equals(bytes)).toBe(true);
    const after = uploadRequests(reg).map((q) => q.method);
    expect(after.slice(after.lastIndexOf('POST'))).toEqual(['POST', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
  });

  it('gives up after maxAttempts with the registry error', async () => {
    const { reg, client, ref, path, desc } = await setup({}, { maxAttempts: 2 });
    reg.inject({ fault: { kind: 'status', status: 503 }, method: 'PUT', times: 2 });
    const err = await client.uploadBlob(ref, desc, { path }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(503);
    expect(reg.openUploads()).toBe(0);
  });

  it('reports a refused push without retrying', async () => {
    const { reg, client, ref, path, desc, retries } = await setup();
    reg.inject({ fault: { kind: 'status', status: 403, body: 'no pushing here' }, method: 'POST' });
    const err = await client.uploadBlob(ref, desc, { path }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(403);
    expect(err.message).toContain('team/app');
    expect(retries).toHaveLength(0);
  });

  it('mounts a blob the registry has from another repository', async () => {
    const { reg, client, ref, bytes } = await setup();
    const { digest } = reg.addBlob(bytes);
    expect(await client.mountBlob(ref, digest, 'library/busybox')).toEqual({ mounted: true });
    const post = uploadRequests(reg)[0]!;
    expect(post.method).toBe('POST');
    expect(post.path).toBe(`/v2/team/app/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=library%2Fbusybox`);
    expect(post.status).toBe(201);
  });

  it('uploads through the session a mount opened when the registry could not mount', async () => {
    const { reg, client, ref, bytes, path, desc } = await setup();
    const mount = await client.mountBlob(ref, desc.digest, 'library/other');
    expect(mount.mounted).toBe(false);
    expect(mount.mounted === false && mount.session?.pathname).toBe('/v2/team/app/blobs/uploads/u1');
    await client.uploadBlob(ref, desc, { path }, { session: mount.mounted ? undefined : mount.session });
    expect(reg.blob(desc.digest)?.equals(bytes)).toBe(true);
    expect(uploadRequests(reg).map((q) => q.method)).toEqual(['POST', 'PUT']);
  });

  it('puts a manifest as the exact bytes given, with its media type', async () => {
    const { reg, client, ref } = await setup();
    // Odd spacing on purpose: a re-serialised manifest would have another digest.
    const bytes = Buffer.from('{"schemaVersion": 2,  "mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}\n');
    const digest = await client.putManifest(ref, 'v1', bytes, MediaType.OciManifest);
    expect(digest).toBe(sha256Digest(bytes));
    const stored = reg.manifest('team/app', 'v1')!;
    expect(stored.bytes.equals(bytes)).toBe(true);
    expect(stored.mediaType).toBe(MediaType.OciManifest);
  });

  it('asks the token server for pull,push, and for pull on a mount source', async () => {
    const { reg, client, ref, path, desc } = await setup({ auth: { scheme: 'bearer', username: 'u', password: 'p' } }, {}, { u: 'u', p: 'p' });
    expect(await client.blobExists(ref, desc.digest)).toBe(false);
    await client.mountBlob(ref, desc.digest, 'library/busybox');
    await client.uploadBlob(ref, desc, { path });
    await client.putManifest(ref, 'v1', Buffer.from('{}'), MediaType.OciManifest);
    const scopes = reg.requests.filter((q) => q.path.startsWith('/token')).map((q) => new URL(q.path, 'http://x').searchParams.getAll('scope'));
    expect(scopes).toEqual([['repository:team/app:pull,push'], ['repository:team/app:pull,push', 'repository:library/busybox:pull']]);
    // Only the very first request went without a token: once the challenge is known, tokens are fetched up front.
    const unauthorized = reg.requests.filter((q) => q.server === 'registry' && q.status === 401);
    expect(unauthorized.map((q) => q.method)).toEqual(['HEAD']);
  });

  it('authenticates uploads with Basic credentials from config.json', async () => {
    const { reg, client, ref, path, desc } = await setup({ auth: { scheme: 'basic', username: 'u', password: 'p' } }, {}, { u: 'u', p: 'p' });
    await client.uploadBlob(ref, desc, { path });
    expect(reg.blob(desc.digest)).toBeDefined();
    expect(uploadRequests(reg).filter((q) => q.status < 400).every((q) => q.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`)).toBe(true);
  });

  it('never sends the registry credentials to an upload Location on another host', async () => {
    // A registry on 127.0.0.1 that sends uploads to "storage" on 127.0.0.2.
    const seen: { host: string; method: string; authorization?: string }[] = [];
    const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const storage = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push({ host: 'storage', method: req.method!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        res.writeHead(201, { 'content-length': 0 });
        res.end();
      });
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.2', () => r()));
    const registry = http.createServer((req, res) => {
      req.resume();
      seen.push({ host: 'registry', method: req.method!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"', 'content-length': 0 });
        res.end();
        return;
      }
      res.writeHead(202, { location: `http://127.0.0.2:${(storage.address() as AddressInfo).port}/upload/1?sig=s`, 'content-length': 0 });
      res.end();
    });
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', () => r()));
    try {
      const host = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from('u:p').toString('base64') } } }));
      const client = new RegistryPushClient({ dockerConfigPath: join(dir, 'config.json'), hostsConfigPath: join(dir, 'none.json'), retryBaseDelayMs: 20 });
      await client.uploadBlob(parseReference(`${host}/team/app`), { digest: sha256Digest('abc'), size: 3 }, { bytes: Buffer.from('abc') });
      expect(seen).toEqual([
        { host: 'registry', method: 'POST' },
        { host: 'registry', method: 'POST', authorization: basic },
        { host: 'storage', method: 'PUT' },
      ]);
    } finally {
      for (const s of [registry, storage]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    }
  });

  it('says authentication is required to push when there are no credentials', async () => {
    const { client, ref, path, desc } = await setup({ auth: { scheme: 'basic', username: 'u', password: 'p' } });
    const err = await client.uploadBlob(ref, desc, { path }).catch((e) => e);
    expect(err.registryCode).toBe('UNAUTHORIZED');
    expect(err.message).toContain(`authentication required to push to ${reg!.host}/team/app`);
    expect(err.hint).toBe(`run "tsrun login ${reg!.host}" first`);
  });
});
