// Pure parts of the registry module: challenges, tokens, hosts config, retries, error answers, credentials.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CredentialsError, RegistryError } from '../../../src/errors.js';
import { TokenCache, oauthErrorText, oauthRefreshRequest, parseTokenResponse, parseWwwAuthenticate, tokenUrl } from '../../../src/registry/auth.js';
import { configKey, loadCredentials, normaliseServer, removeCredentials, saveCredentials } from '../../../src/registry/credentials.js';
import { registryError } from '../../../src/registry/error-answers.js';
import { apiRoot, endpointsFor, isLoopbackHost, loadHostsConfig } from '../../../src/registry/hosts.js';
import { backoffMs, retryAfterMs } from '../../../src/registry/retry.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-regpieces-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('WWW-Authenticate', () => {
  it('parses a Bearer challenge with commas inside quotes', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull,push' } },
    ]);
  });
  it('parses Basic, unquoted values, escapes and several challenges', () => {
    expect(parseWwwAuthenticate('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseWwwAuthenticate('Bearer realm=http://a/t, error="invalid_token", Basic realm="x \\"y\\""')).toEqual([
      { scheme: 'bearer', params: { realm: 'http://a/t', error: 'invalid_token' } },
      { scheme: 'basic', params: { realm: 'x "y"' } },
    ]);
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
  });
  it('builds the token URL', () => {
    const u = tokenUrl({ scheme: 'bearer', params: { realm: 'https://a/token?x=1', service: 's' } }, ['repository:a/b:pull'], 'me');
    expect(u.href).toBe('https://a/token?x=1&service=s&scope=repository%3Aa%2Fb%3Apull&account=me');
  });
  it('builds the OAuth2 refresh-token request: POST form to the realm, scopes space-separated', () => {
    const { url, body } = oauthRefreshRequest(
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example' } },
      ['repository:a/b:pull', 'repository:c:pull,push'],
      'ref&tok=',
    );
    expect(url.href).toBe('https://auth.example/token');
    expect(body).toBe('grant_type=refresh_token&refresh_token=ref%26tok%3D&service=registry.example&client_id=tsrun&scope=repository%3Aa%2Fb%3Apull+repository%3Ac%3Apull%2Cpush');
    expect(new URLSearchParams(body).get('scope')).toBe('repository:a/b:pull repository:c:pull,push');
    // No scope asked: no scope sent; the client id can be chosen.
    expect(oauthRefreshRequest({ scheme: 'bearer', params: { realm: 'http://a/t' } }, [], 'r', 'other').body).toBe('grant_type=refresh_token&refresh_token=r&client_id=other');
    expect(() => oauthRefreshRequest({ scheme: 'bearer', params: {} }, [], 'r')).toThrow(/realm/);
  });
  it('reads RFC 6749 error answers', () => {
    expect(oauthErrorText(Buffer.from('{"error":"invalid_grant","error_description":"revoked"}'))).toBe('invalid_grant: revoked');
    expect(oauthErrorText(Buffer.from('{"error":"invalid_request"}'))).toBe('invalid_request');
    expect(oauthErrorText(Buffer.from('{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}'))).toBe('no');
    expect(oauthErrorText(Buffer.from('<html>'))).toBe('');
  });
  it('reads token or access_token, defaulting expires_in to 60 s', () => {
    expect(parseTokenResponse(Buffer.from('{"token":"t","expires_in":300}'))).toEqual({ token: 't', expiresInSec: 300 });
    expect(parseTokenResponse(Buffer.from('{"access_token":"a"}'))).toEqual({ token: 'a', expiresInSec: 60 });
    expect(parseTokenResponse(Buffer.from('{}'))).toBeUndefined();
    expect(parseTokenResponse(Buffer.from('nope'))).toBeUndefined();
  });
  it('caches tokens per host and scope until shortly before expiry', () => {
    let now = 0;
    const c = new TokenCache(() => now);
    c.set('h', 's', 't', 60);
    expect(c.get('h', 's')).toBe('t');
    expect(c.get('h', 'other')).toBeUndefined();
    expect(c.get('h2', 's')).toBeUndefined();
    now = 53_000;
    expect(c.get('h', 's')).toBe('t');
    now = 54_000;
    expect(c.get('h', 's')).toBeUndefined();
  });
});

describe('retry timing', () => {
  it('parses Retry-After as seconds or a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5000);
    expect(retryAfterMs('garbage')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
  it('backs off exponentially with jitter and a cap', () => {
    for (let i = 0; i < 20; i++) {
      expect(backoffMs(1, 100)).toBeGreaterThanOrEqual(80);
      expect(backoffMs(1, 100)).toBeLessThanOrEqual(120);
      expect(backoffMs(3, 100)).toBeGreaterThanOrEqual(320);
      expect(backoffMs(30, 100, 1000)).toBeLessThanOrEqual(1200);
    }
  });
});

describe('hosts config', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.0.0.1:5000', '127.9.9.9:1', 'localhost', 'localhost:5000', 'a.localhost:80', '[::1]:5000', '[::1]', '::1', '0:0:0:0:0:0:0:1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['10.0.0.1:5000', 'example.com', 'registry-1.docker.io', '128.0.0.1', '127.0.0.256', '127.0.0.1.example.com', '[::2]:5000', 'fe80::1']) expect(isLoopbackHost(h), h).toBe(false);
  });
  it('uses http for loopback and https elsewhere, mirrors first for pulls', () => {
    const p = join(dir, 'r.json');
    writeFileSync(p, JSON.stringify({
      registries: {
        'docker.io': { mirrors: ['https://mirror.example.com', '127.0.0.1:5001'] },
        'lan.example:5000': { insecure: true },
        'localhost:5443': { tls: true },
      },
    }));
    const cfg = loadHostsConfig(p);
    const hub = endpointsFor(cfg, 'docker.io');
    expect(hub.map((e) => [e.base.href, e.mirror])).toEqual([
      ['https://mirror.example.com/', true],
      ['http://127.0.0.1:5001/', true],
      ['https://registry-1.docker.io/', false],
    ]);
    expect(endpointsFor(cfg, 'docker.io', 'login').map((e) => e.host)).toEqual(['registry-1.docker.io']);
    expect(endpointsFor(cfg, '127.0.0.1:5000')[0]!.base.protocol).toBe('http:');
    expect(endpointsFor(cfg, 'localhost:5443')[0]!.base.protocol).toBe('https:');
    const lan = endpointsFor(cfg, 'lan.example:5000')[0]!;
    expect(lan.base.protocol).toBe('https:');
    expect(lan.tls.rejectUnauthorized).toBe(false);
    expect(lan.httpFallback).toBe(true);
  });
  it("a command's insecure transport relaxes every registry: skipTlsVerify no certificate checks, allowHttp the plain-HTTP fallback", () => {
    const p = join(dir, 'r.json');
    writeFileSync(p, JSON.stringify({ registries: { 'docker.io': { mirrors: ['mirror.example.com'] } } }));
    const cfg = loadHostsConfig(p);
    const strict = endpointsFor(cfg, 'reg.example');
    expect(strict.map((e) => [e.tls.rejectUnauthorized, e.httpFallback])).toEqual([[undefined, false]]);
    const noVerify = endpointsFor(cfg, 'docker.io', 'pull', { skipTlsVerify: true });
    expect(noVerify.map((e) => [e.base.protocol, e.tls.rejectUnauthorized, e.httpFallback])).toEqual([['https:', false, false], ['https:', false, false]]);
    const http = endpointsFor(cfg, 'reg.example', 'pull', { allowHttp: true });
    expect(http.map((e) => [e.base.protocol, e.tls.rejectUnauthorized, e.httpFallback])).toEqual([['https:', undefined, true]]);
    // Loopback stays plain HTTP as before.
    expect(endpointsFor(cfg, '127.0.0.1:5000', 'pull', { skipTlsVerify: true, allowHttp: true })[0]!.base.protocol).toBe('http:');
  });
  it('puts a mirror path in front of /v2 as containerd hosts.toml does, or uses it as the root with overridePath', () => {
    expect(apiRoot('')).toBe('/v2');
    expect(apiRoot('/')).toBe('/v2');
    expect(apiRoot('/v2/')).toBe('/v2');
    expect(apiRoot('/prefix')).toBe('/prefix/v2');
    expect(apiRoot('/a//b/')).toBe('/a/b/v2');
    expect(apiRoot('/cache/v2')).toBe('/cache/v2');
    expect(apiRoot('/v2/proxy-docker')).toBe('/v2/proxy-docker/v2');
    expect(apiRoot('/v2/proxy-docker/', true)).toBe('/v2/proxy-docker');
    expect(apiRoot('/', true)).toBe('');
    const p = join(dir, 'r.json');
    writeFileSync(p, JSON.stringify({
      registries: {
        'docker.io': {
          mirrors: [
            'https://mirror.example/prefix',
            '127.0.0.1:5001/cache/v2/',
            { url: 'http://127.0.0.1:5002/v2/proxy-docker', overridePath: true },
            { url: 'http://127.0.0.1:5002/v2/proxy-docker' },
          ],
        },
      },
    }));
    const eps = endpointsFor(loadHostsConfig(p), 'docker.io');
    expect(eps.map((e) => `${e.base.origin}${e.root}`)).toEqual([
      'https://mirror.example/prefix/v2',
      'http://127.0.0.1:5001/cache/v2',
      'http://127.0.0.1:5002/v2/proxy-docker',
      'http://127.0.0.1:5002/v2/proxy-docker/v2',
      'https://registry-1.docker.io/v2',
    ]);
    expect(eps.map((e) => e.host)).toEqual(['mirror.example', '127.0.0.1:5001', '127.0.0.1:5002', '127.0.0.1:5002', 'registry-1.docker.io']);
    // Login never uses a mirror, and the registry's own root stays /v2.
    expect(endpointsFor(loadHostsConfig(p), 'docker.io', 'login').map((e) => e.root)).toEqual(['/v2']);
  });
  it('rejects unusable mirror entries, naming them', () => {
    const p = join(dir, 'r.json');
    const bad = (m: unknown) => {
      writeFileSync(p, JSON.stringify({ registries: { 'docker.io': { mirrors: [m] } } }));
      return () => loadHostsConfig(p);
    };
    expect(bad('')).toThrow(/"docker.io".mirrors\[0\] must be a URL/);
    expect(bad('ftp://m.example/x')).toThrow(/not a usable mirror URL/);
    expect(bad('https://m.example/x?y=1')).toThrow(/not a usable mirror URL/);
    expect(bad({ url: 'https://m.example', overridePath: 'yes' })).toThrow(/overridePath must be true or false/);
    expect(bad({ url: 'https://m.example', path: '/x' })).toThrow(/unknown setting "path"/);
    expect(bad({ overridePath: true })).toThrow(/must be a URL/);
  });
  it('treats a missing file as empty and rejects a malformed one', () => {
    expect(loadHostsConfig(join(dir, 'none.json'))).toEqual({ registries: {} });
    const p = join(dir, 'bad.json');
    writeFileSync(p, JSON.stringify({ registries: { x: { mirror: ['y'] } } }));
    expect(() => loadHostsConfig(p)).toThrow(/unknown setting "mirror"/);
    writeFileSync(p, '{');
    expect(() => loadHostsConfig(p)).toThrow(RegistryError);
  });
});

describe('registry error answers', () => {
  const ctx = { registry: 'docker.io', repository: 'docker.io/library/nosuch', what: 'manifest' as const, target: 'latest' };
  const body = (code: string, message = 'm') => Buffer.from(JSON.stringify({ errors: [{ code, message, detail: null }] }));
  it('explains the common codes', () => {
    expect(registryError(404, body('MANIFEST_UNKNOWN'), ctx).message).toBe('manifest for docker.io/library/nosuch:latest not found: manifest unknown');
    expect(registryError(404, body('NAME_UNKNOWN'), ctx).message).toBe("repository docker.io/library/nosuch does not exist or may require 'tsrun login'");
    expect(registryError(404, Buffer.alloc(0), { ...ctx, what: 'blob', target: 'sha256:' + 'a'.repeat(64) }).message).toMatch(/^blob unknown: sha256:a+ of docker.io\/library\/nosuch/);
    expect(registryError(403, body('DENIED', 'no'), ctx).message).toMatch(/^denied: access to docker.io\/library\/nosuch is denied \(registry said: no\)/);
    const tmr = registryError(429, body('TOOMANYREQUESTS', 'slow down'), ctx);
    expect(tmr.message).toMatch(/too many requests: docker.io is rate-limiting/);
    expect(tmr.temporary()).toBe(true);
    const un = registryError(401, Buffer.alloc(0), ctx);
    expect(un.registryCode).toBe('UNAUTHORIZED');
    expect(un.hint).toMatch(/tsrun login/);
    expect(un.temporary()).toBe(false);
    expect(registryError(503, Buffer.from('<html>'), ctx).message).toBe('docker.io answered HTTP 503 for the manifest of docker.io/library/nosuch:latest');
    expect(registryError(400, body('TAG_INVALID', 'bad tag'), ctx).message).toBe('tag invalid: bad tag (docker.io/library/nosuch:latest)');
  });
});

describe('credentials (config.json)', () => {
  it('normalises server names', () => {
    expect(normaliseServer('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseServer('registry-1.docker.io')).toBe('docker.io');
    expect(normaliseServer('http://Reg.Example:5000/v2/')).toBe('reg.example:5000');
    expect(configKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(configKey('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
  it('reads auth, username/password and keys with scheme', async () => {
    const p = join(dir, 'config.json');
    writeFileSync(p, JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw:with:colons').toString('base64') },
        'http://reg.example:5000/v2/': { username: 'u2', password: 'p2' },
      },
    }));
    expect(await loadCredentials('registry-1.docker.io', p)).toEqual({ username: 'hub', secret: 'pw:with:colons' });
    expect(await loadCredentials('reg.example:5000', p)).toEqual({ username: 'u2', secret: 'p2' });
    expect(await loadCredentials('other', p)).toBeUndefined();
    expect(await loadCredentials('x', join(dir, 'missing.json'))).toBeUndefined();
  });
  it('reads identity tokens ("identitytoken" next to auth, or alone)', async () => {
    const p = join(dir, 'config.json');
    writeFileSync(p, JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:').toString('base64'), identitytoken: 'rt-1' },
        'reg.example': { identitytoken: 'rt-2' },
        'empty.example': { auth: Buffer.from('u:p').toString('base64'), identitytoken: '' },
      },
    }));
    expect(await loadCredentials('docker.io', p)).toEqual({ username: 'hub', secret: '', identityToken: 'rt-1' });
    expect(await loadCredentials('reg.example', p)).toEqual({ username: '', secret: '', identityToken: 'rt-2' });
    expect(await loadCredentials('empty.example', p)).toStrictEqual({ username: 'u', secret: 'p' });
  });
  it('saves atomically with mode 0600, keeping other keys, and removes', async () => {
    const p = join(dir, 'sub', 'config.json');
    await saveCredentials('docker.io', 'me', 's3cret', p);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(p, 'utf8'));
    doc.psFormat = 'table';
    doc.auths['other:1'] = { auth: 'eDp5' };
    writeFileSync(p, JSON.stringify(doc));
    await saveCredentials('127.0.0.1:5000', 'a', 'b', p);
    const after = JSON.parse(readFileSync(p, 'utf8'));
    expect(after.psFormat).toBe('table');
    expect(Object.keys(after.auths).sort()).toEqual(['127.0.0.1:5000', 'https://index.docker.io/v1/', 'other:1']);
    expect(await loadCredentials('docker.io', p)).toEqual({ username: 'me', secret: 's3cret' });
    expect(await removeCredentials('docker.io', p)).toBe(true);
    expect(await removeCredentials('docker.io', p)).toBe(false);
    expect(await loadCredentials('docker.io', p)).toBeUndefined();
    expect(JSON.parse(readFileSync(p, 'utf8')).psFormat).toBe('table');
  });
  it('uses credential helpers (credHelpers, then credsStore) over stdin/stdout', async () => {
    const bin = join(dir, 'bin');
    const store = join(dir, 'store.json');
    writeFileSync(store, '{}');
    mkdirSync(bin);
    // A fake helper in shell + node: get/store/erase against a JSON file.
    const helper = join(bin, 'docker-credential-fake');
    writeFileSync(helper, `#!/usr/bin/env node
const fs = require('fs'); const f = ${JSON.stringify(store)};
const db = JSON.parse(fs.readFileSync(f, 'utf8')); let input = '';
process.stdin.on('data', d => input += d).on('end', () => {
  const a = process.argv[2];
  if (a === 'get') { const e = db[input.trim()]; if (!e) { console.log('credentials not found in native keychain'); process.exit(1); } console.log(JSON.stringify({ ServerURL: input.trim(), Username: e.u, Secret: e.s })); }
  else if (a === 'store') { const j = JSON.parse(input); db[j.ServerURL] = { u: j.Username, s: j.Secret }; fs.writeFileSync(f, JSON.stringify(db)); }
  else if (a === 'erase') { if (!db[input.trim()]) { console.log('credentials not found in native keychain'); process.exit(1); } delete db[input.trim()]; fs.writeFileSync(f, JSON.stringify(db)); }
});
`);
    chmodSync(helper, 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const p = join(dir, 'config.json');
      writeFileSync(p, JSON.stringify({ credsStore: 'fake', credHelpers: { 'special:1': 'missing' } }));
      expect(await loadCredentials('docker.io', p)).toBeUndefined();
      await saveCredentials('docker.io', 'hubuser', 'tok', p);
      expect(JSON.parse(readFileSync(store, 'utf8'))).toEqual({ 'https://index.docker.io/v1/': { u: 'hubuser', s: 'tok' } });
      expect(JSON.parse(readFileSync(p, 'utf8')).auths).toEqual({ 'https://index.docker.io/v1/': {} });
      expect(await loadCredentials('index.docker.io', p)).toEqual({ username: 'hubuser', secret: 'tok' });
      expect(await removeCredentials('docker.io', p)).toBe(true);
      expect(await loadCredentials('docker.io', p)).toBeUndefined();
      // Username "<token>": the Secret is an identity token (Docker's convention).
      await saveCredentials('tok.example', '<token>', 'refresh-xyz', p);
      expect(await loadCredentials('tok.example', p)).toStrictEqual({ username: '', secret: '', identityToken: 'refresh-xyz' });
      const err = await loadCredentials('special:1', p).catch((e) => e);
      expect(err).toBeInstanceOf(CredentialsError);
      expect(err.message).toMatch(/docker-credential-missing \(not installed or not in PATH\)/);
    } finally {
      process.env.PATH = oldPath;
    }
  });
});
