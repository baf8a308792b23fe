// Foreign (non-distributable) layers: the pure rules (media types, URLs,
// the registries setting, the error text) and RegistryClient.fetchBlob's
// fallback to a descriptor's URLs, against two fault registries on loopback:
// one is the registry, the other only serves the blob as a "foreign" host.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestMismatchError, RegistryError } from '../../../src/errors.js';
import { isForeignLayer, isNondistributableMediaType, parseForeignUrl } from '../../../src/image/foreign.js';
import { parseReference } from '../../../src/image/reference.js';
import { MediaType } from '../../../src/oci/image.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { foreignFailureMessage, urlForDisplay } from '../../../src/registry/foreign-fetch.js';
import { allowsNondistributable, loadHostsConfig } from '../../../src/registry/hosts.js';
import { startFaultRegistry, type Fault, type FaultRegistry } from '../../support/fault-registry.js';

let dir: string;
const servers: FaultRegistry[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-foreign-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('foreign layer rules', () => {
  it('knows the foreign and non-distributable media types', () => {
    for (const mt of [
      MediaType.DockerForeignLayerGzip,
      'application/vnd.oci.image.layer.nondistributable.v1.tar',
      'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
      'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
    ]) expect(isNondistributableMediaType(mt)).toBe(true);
    for (const mt of [MediaType.DockerLayerGzip, MediaType.OciLayerGzip, MediaType.OciLayerZstd]) expect(isNondistributableMediaType(mt)).toBe(false);
  });

  it('calls a layer foreign only with a foreign media type and urls (what push skips)', () => {
    const d = { mediaType: MediaType.DockerForeignLayerGzip, digest: `sha256:${'a'.repeat(64)}`, size: 1 };
    expect(isForeignLayer({ ...d, urls: ['https://example.invalid/x'] })).toBe(true);
    expect(isForeignLayer(d)).toBe(false);
    expect(isForeignLayer({ ...d, urls: [] })).toBe(false);
    expect(isForeignLayer({ ...d, mediaType: MediaType.OciLayerGzip, urls: ['https://example.invalid/x'] })).toBe(false);
  });

  it('accepts only http and https URLs', () => {
    expect(parseForeignUrl('https://example.invalid/a?b=c').href).toBe('https://example.invalid/a?b=c');
    expect(parseForeignUrl('http://127.0.0.1:1/x').host).toBe('127.0.0.1:1');
    expect(() => parseForeignUrl('file:///etc/passwd')).toThrow(/unsupported scheme file/);
    expect(() => parseForeignUrl('ftp://example.invalid/x')).toThrow(/unsupported scheme ftp/);
    expect(() => parseForeignUrl('not a url')).toThrow(/not a URL/);
  });

  it('names the layer, the registry failure and every URL tried, without query strings', () => {
    expect(urlForDisplay(new URL('https://h.example/blob?sig=secret'))).toBe('https://h.example/blob?…');
    const failures = [{ url: 'http://a/x', reason: 'a answered 404' }, { url: 'ftp://b', reason: 'unsupported scheme ftp' }];
    const missing = new RegistryError('blob unknown', 404, 'BLOB_UNKNOWN');
    expect(foreignFailureMessage('sha256:abc', missing, failures))
      .toBe('layer sha256:abc is not in the registry and none of its URLs served it: http://a/x (a answered 404); ftp://b (unsupported scheme ftp)');
    const refused = new RegistryError('denied: requested access to the resource is denied', 403, 'DENIED');
    expect(foreignFailureMessage('sha256:abc', refused, failures))
      .toBe('layer sha256:abc could not be fetched from the registry (denied: requested access to the resource is denied) and none of its URLs served it: http://a/x (a answered 404); ftp://b (unsupported scheme ftp)');
  });

  it('reads allowNondistributableArtifacts per registry (docker.io aliases included) and rejects non-booleans', () => {
    const p = join(dir, 'registries.json');
    writeFileSync(p, JSON.stringify({ registries: { 'airgap.lan:5000': { allowNondistributableArtifacts: true }, 'index.docker.io': { allowNondistributableArtifacts: true } } }));
    const cfg = loadHostsConfig(p);
    expect(allowsNondistributable(cfg, 'airgap.lan:5000')).toBe(true);
    expect(allowsNondistributable(cfg, 'docker.io')).toBe(true);
    expect(allowsNondistributable(cfg, 'other.lan')).toBe(false);
    writeFileSync(p, JSON.stringify({ registries: { 'a.lan': { allowNondistributableArtifacts: 'yes' } } }));
    expect(() => loadHostsConfig(p)).toThrow(/"a.lan".allowNondistributableArtifacts must be true or false/);
  });
});

const BLOB = Buffer.alloc(200_000);
for (let i = 0; i < BLOB.length; i++) BLOB[i] = (i * 13 + (i >> 7)) & 0xff;

/** A registry (basic auth, without the blob) and a foreign host (holding it, no auth). */
async function setup() {
  const reg = await startFaultRegistry({ auth: { scheme: 'basic', username: 'u', password: 'p' } });
  const foreign = await startFaultRegistry();
  servers.push(reg, foreign);
  const blob = foreign.addBlob(BLOB);
  const dockerConfig = join(dir, 'config.json');
  // Credentials for both hosts: none may reach the foreign one all the same.
  const auth = Buffer.from('u:p').toString('base64');
  writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.host]: { auth }, [foreign.host]: { auth } } }));
  const retries: string[] = [];
  const client = new RegistryClient({ dockerConfigPath: dockerConfig, hostsConfigPath: join(dir, 'none.json'), retryBaseDelayMs: 20, onRetry: (i) => retries.push(i.reason) });
  const url = `http://${foreign.host}/v2/foreign/blobs/${blob.digest}`;
  const layer = { mediaType: MediaType.DockerForeignLayerGzip, ...blob, urls: [url] };
  return { reg, foreign, client, layer, url, retries, ref: parseReference(`${reg.host}/test/app:v1`), partial: join(dir, 'blob.partial') };
}

const blobGets = (s: FaultRegistry) => s.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));

describe('RegistryClient.fetchBlob with urls', () => {
  it('asks the registry first, then fetches from the URL with no Authorization', async () => {
    const { reg, foreign, client, layer, ref, partial } = await setup();
    const progress: number[] = [];
    await client.fetchBlob(ref, layer, partial, { onProgress: (done) => progress.push(done) });
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    expect(progress.at(-1)).toBe(BLOB.length);
    expect(blobGets(reg).at(-1)).toMatchObject({ status: 404 });
    expect(blobGets(reg).at(-1)!.headers.authorization).toMatch(/^Basic /);
    expect(blobGets(foreign)).toHaveLength(1);
    expect(foreign.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('uses the registry copy when it has one', async () => {
    const { reg, foreign, client, layer, ref, partial } = await setup();
    reg.addBlob(BLOB);
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    expect(foreign.requests).toHaveLength(0);
  });

  it('resumes from the URL with Range after a cut', async () => {
    const { foreign, client, layer, ref, partial, retries } = await setup();
    foreign.inject({ fault: { kind: 'truncate', afterBytes: 70_000 }, path: /blobs/ });
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    const gets = blobGets(foreign);
    expect(gets).toHaveLength(2);
    expect(gets[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(retries).toHaveLength(1);
  });

  it('passes over URLs that fail or are not http(s), in order', async () => {
    const { foreign, client, layer, url, ref, partial } = await setup();
    const missing = `http://${foreign.host}/v2/foreign/blobs/sha256:${'0'.repeat(64)}`;
    await client.fetchBlob(ref, { ...layer, urls: ['file:///etc/passwd', missing, url] }, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    expect(blobGets(foreign).map((r) => r.status)).toEqual([404, 200]);
  });

  it('fails naming the layer and the URLs when none serves the right bytes, and deletes the partial file', async () => {
    const { foreign, client, layer, url, ref, partial } = await setup();
    foreign.inject({ fault: { kind: 'wrong-digest' }, path: /blobs/ });
    const err = await client.fetchBlob(ref, { ...layer, urls: ['ftp://127.0.0.1/x', url] }, partial).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    const msg = (err as Error).message;
    expect(msg).toContain(`layer ${layer.digest} is not in the registry`);
    expect(msg).toContain('ftp://127.0.0.1/x (unsupported scheme ftp');
    expect(msg).toContain(`${url} (blob of ${url} digest mismatch`);
    expect(existsSync(partial)).toBe(false);
  });

  // The registry holds the blob but fails to serve it: every authenticated blob GET gets the fault.
  const registryFaults: [string, Fault, number][] = [
    ['a 403', { kind: 'status', status: 403 }, 1],
    ['a 401 for good credentials', { kind: 'status', status: 401 }, 1],
    ['500s through every retry', { kind: 'status', status: 500 }, 5],
    ['connection resets through every retry', { kind: 'reset' }, 5],
    ['the wrong bytes', { kind: 'wrong-digest' }, 1],
  ];
  for (const [what, fault, attempts] of registryFaults) {
    it(`falls back to the URLs when the registry answers ${what}, sending them no credentials`, async () => {
      const { reg, foreign, client, layer, ref, partial } = await setup();
      reg.addBlob(BLOB);
      reg.inject({ fault, path: /blobs/, method: 'GET', authenticated: true, times: 100 });
      await client.fetchBlob(ref, layer, partial);
      expect(readFileSync(partial).equals(BLOB)).toBe(true);
      const asked = blobGets(reg).filter((r) => r.headers.authorization !== undefined);
      expect(asked).toHaveLength(attempts);
      expect(blobGets(foreign).map((r) => r.status)).toEqual([200]);
      expect(foreign.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    });
  }

  it('resumes at the URL with Range from what the registry sent before it cut the connection', async () => {
    const { reg, foreign, client, layer, ref, partial } = await setup();
    reg.addBlob(BLOB);
    // The first GET is cut mid-body; the retries (with Range) get 500s.
    reg.inject({ fault: { kind: 'truncate', afterBytes: 70_000 }, path: /blobs/, method: 'GET', authenticated: true });
    reg.inject({ fault: { kind: 'status', status: 500 }, path: /blobs/, method: 'GET', authenticated: true, times: 100 });
    await client.fetchBlob(ref, layer, partial);
    expect(readFileSync(partial).equals(BLOB)).toBe(true);
    const gets = blobGets(foreign);
    expect(gets).toHaveLength(1);
    expect(gets[0]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(gets[0]!.bytesSent).toBeLessThan(BLOB.length);
  });

  it('when the registry and every URL fail, names the registry failure and each URL failure', async () => {
    const { reg, foreign, client, layer, url, ref, partial } = await setup();
    reg.addBlob(BLOB);
    reg.inject({ fault: { kind: 'status', status: 403, body: 'no pulls for you' }, path: /blobs/, method: 'GET', authenticated: true, times: 100 });
    foreign.inject({ fault: { kind: 'status', status: 502 }, path: /blobs/, times: 100 });
    const missing = `http://${foreign.host}/v2/gone/blobs/sha256:${'0'.repeat(64)}`;
    const err = await client.fetchBlob(ref, { ...layer, urls: [missing, url] }, partial).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(403);
    const msg = (err as Error).message;
    expect(msg).toMatch(new RegExp(`^layer ${layer.digest} could not be fetched from the registry \\(.*no pulls for you.*\\) and none of its URLs served it: `));
    expect(msg).toContain(`${missing} (${foreign.host} answered 502)`);
    expect(msg).toContain(`${url} (${foreign.host} answered 502)`);
  });

  it('does not go on to the URLs when the pull was cancelled', async () => {
    const { reg, foreign, client, layer, ref, partial } = await setup();
    reg.addBlob(BLOB);
    const abort = new AbortController();
    reg.inject({ fault: { kind: 'slow', chunkBytes: 10_000, delayMs: 50 }, path: /blobs/, method: 'GET', authenticated: true });
    const pending = client.fetchBlob(ref, layer, partial, { signal: abort.signal, onProgress: () => abort.abort() });
    await expect(pending).rejects.toThrow();
    expect(foreign.requests).toHaveLength(0);
  });

  it('never tries URLs for a layer without them', async () => {
    const { client, layer, ref, partial } = await setup();
    const { urls: _urls, ...plain } = layer;
    await expect(client.fetchBlob(ref, plain, partial)).rejects.toThrow(/blob unknown/);
  });

  it('a layer without URLs fails with the registry error as it is, whatever the failure', async () => {
    const { reg, foreign, client, layer, ref, partial } = await setup();
    const { urls: _urls, ...plain } = layer;
    reg.addBlob(BLOB);
    reg.inject({ fault: { kind: 'status', status: 403, body: 'no pulls for you' }, path: /blobs/, method: 'GET', authenticated: true });
    const err = await client.fetchBlob(ref, plain, partial).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(403);
    expect((err as Error).message).toContain('no pulls for you');
    expect((err as Error).message).not.toContain('URLs');
    reg.inject({ fault: { kind: 'wrong-digest' }, path: /blobs/, method: 'GET', authenticated: true });
    await expect(client.fetchBlob(ref, plain, partial)).rejects.toThrow(DigestMismatchError);
    expect(foreign.requests).toHaveLength(0);
  });
});
