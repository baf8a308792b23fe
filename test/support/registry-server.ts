// Runs the real registry (Debian's docker-registry, distribution v2.8) on
// 127.0.0.1 for integration tests, open or behind htpasswd Basic auth or
// token auth with a token issuer written here. Also pushes images to it with
// skopeo. Every registry started is killed when the test process exits.
//
//   const reg = await startRegistry({ auth: 'token' });
//   await pushImage(layoutDir, reg.host, 'test/app:v1', reg.credentials);
//   ... reg.tokenRequests ...
//   await reg.stop();
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export type RegistryAuth = 'none' | 'basic' | 'token';

export interface StartRegistryOptions {
  auth?: RegistryAuth;
  /** The one user known to basic and token auth (default tsrun / tsrun-secret). */
  username?: string;
  password?: string;
  /** Token auth: lifetime of issued tokens in seconds (default 300). */
  tokenExpiresIn?: number;
  /** Token auth: give anonymous clients pull access (default false: credentials required). */
  anonymousPull?: boolean;
  /**
   * Token auth: the OAuth2 refresh token ("identitytoken" in config.json) that a POST with
   * grant_type=refresh_token exchanges for an access token of the user (default: a random one,
   * see RunningRegistry.identityToken).
   */
  identityToken?: string;
  /** Token auth: false makes the issuer answer every POST with 404, like token servers without OAuth2 (default true). */
  oauth?: boolean;
  /**
   * Accept manifests whose foreign (non-distributable) layers have http(s) `urls`
   * without holding their blobs (validation.manifests.urls.allow; default: such URLs are refused).
   */
  allowForeignUrls?: boolean;
}

/** One request the token issuer served. */
export interface TokenRequestRecord {
  method: string;
  /** POST: the form fields; GET: the query parameters (scope joined by spaces when repeated). */
  params: Record<string, string>;
  authorization?: string;
  contentType?: string;
  status: number;
}

export interface RunningRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  auth: RegistryAuth;
  /** The user that basic/token auth accept. */
  credentials: { username: string; password: string };
  /** Storage directory of the registry. */
  storageDir: string;
  /** Token auth: number of token requests served so far (0 otherwise). */
  readonly tokenRequests: number;
  /** Token auth: the issuer's address. */
  tokenRealm?: string;
  /** Token auth: the refresh token the issuer accepts in an OAuth2 POST. */
  identityToken?: string;
  /** Token auth: every request the issuer served, in order (empty otherwise). */
  readonly tokenLog: TokenRequestRecord[];
  /** The last few kB the registry printed (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const p of live) p.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** A token issuer for the registry's token auth: ES256 JWTs carrying the signing certificate in x5c. */
async function startTokenIssuer(
  dir: string,
  opts: { username: string; password: string; service: string; issuer: string; expiresIn: number; anonymousPull: boolean; identityToken: string; oauth: boolean },
) {
  const keyPath = join(dir, 'token-key.pem');
  const certPath = join(dir, 'token-cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=tsrun-test-token-issuer',
  ], { stdio: 'ignore' });
  const key = readFileSync(keyPath);
  const certDer = readFileSync(certPath, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  const state = { requests: 0 };
  const log: TokenRequestRecord[] = [];

  const issue = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    state.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const post = req.method === 'POST';
    const params = post ? new URLSearchParams(body) : url.searchParams;
    const rec: TokenRequestRecord = { method: req.method ?? '', params: {}, status: 0 };
    for (const [k, v] of params) rec.params[k] = rec.params[k] === undefined ? v : `${rec.params[k]} ${v}`;
    if (req.headers.authorization) rec.authorization = req.headers.authorization;
    if (req.headers['content-type']) rec.contentType = req.headers['content-type'];
    log.push(rec);
    const answer = (status: number, doc: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(doc));
    };
    let authed: boolean;
    if (post) {
      // OAuth2 (distribution spec auth/oauth.md, RFC 6749): only the refresh_token grant is known here.
      if (!opts.oauth) return answer(404, { errors: [{ code: 'NOT_FOUND', message: 'this token server has no OAuth2 endpoint' }] });
      if (params.get('grant_type') !== 'refresh_token') return answer(400, { error: 'unsupported_grant_type' });
      if (!params.get('client_id') || params.get('service') !== opts.service) return answer(400, { error: 'invalid_request', error_description: 'client_id and service are required' });
      if (params.get('refresh_token') !== opts.identityToken) return answer(400, { error: 'invalid_grant', error_description: 'unknown or revoked refresh token' });
      authed = true;
    } else {
      const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
      authed = req.headers.authorization === expected;
      if (req.headers.authorization && !authed) return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
      if (!authed && !opts.anonymousPull) {
        return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': 'Basic realm="tsrun-test-token-issuer"' });
      }
    }
    // scope=repository:<name>:<actions>; grant what is asked (anonymous: pull only).
    const access = params.getAll('scope').flatMap((s) => s.split(' ')).map((s) => {
      const m = /^([^:]+):(.+):([^:]+)$/.exec(s);
      if (!m) return undefined;
      const actions = m[3]!.split(',').filter((a) => authed || a === 'pull');
      return { type: m[1], name: m[2], actions };
    }).filter((a) => a !== undefined);
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer] };
    const claims = {
      iss: opts.issuer, sub: authed ? opts.username : '', aud: opts.service,
      exp: now + opts.expiresIn, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('SHA256').update(signingInput).sign({ key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${b64url(signature)}`;
    const issuedAt = new Date().toISOString();
    // The OAuth2 answer has access_token and scope only; the GET flow's has both token fields.
    if (post) answer(200, { access_token: token, scope: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' '), expires_in: opts.expiresIn, issued_at: issuedAt });
    else answer(200, { token, access_token: token, expires_in: opts.expiresIn, issued_at: issuedAt });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => issue(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certPath,
    log,
    identityToken: opts.identityToken,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

async function waitForRegistry(host: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited with ${proc.exitCode}:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(`http://${host}/v2/`, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.setTimeout(1000, () => req.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${host} within 15 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RunningRegistry> {
  installExitHook();
  const auth = opts.auth ?? 'none';
  const username = opts.username ?? 'tsrun';
  const password = opts.password ?? 'tsrun-secret';
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-registry-'));
  const storageDir = join(dir, 'storage');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;

  let authYaml = '';
  let issuer: Awaited<ReturnType<typeof startTokenIssuer>> | undefined;
  if (auth === 'basic') {
    const line = execFileSync('htpasswd', ['-Bbn', username, password], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'htpasswd'), `${line}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: tsrun-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    const service = 'tsrun-test-registry';
    const iss = 'tsrun-test-issuer';
    issuer = await startTokenIssuer(dir, {
      username, password, service, issuer: iss, expiresIn: opts.tokenExpiresIn ?? 300, anonymousPull: opts.anonymousPull ?? false,
      identityToken: opts.identityToken ?? `tsrun-refresh-${randomBytes(12).toString('hex')}`, oauth: opts.oauth ?? true,
    });
    authYaml = `auth:\n  token:\n    realm: ${issuer.realm}\n    service: ${service}\n    issuer: ${iss}\n    rootcertbundle: ${issuer.certPath}\n`;
  }
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    ...(opts.allowForeignUrls ? ['validation:', '  manifests:', '    urls:', '      allow:', "        - '^https?://'"] : []),
    authYaml,
  ].join('\n'));

  const proc = spawn('/usr/bin/docker-registry', ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  proc.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  proc.on('exit', () => live.delete(proc));
  try {
    await waitForRegistry(host, proc, () => output);
  } catch (err) {
    proc.kill('SIGKILL');
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const running: RunningRegistry = {
    host,
    auth,
    credentials: { username, password },
    storageDir,
    get tokenLog() {
      return issuer?.log ?? [];
    },
    get tokenRequests() {
      return issuer?.requests ?? 0;
    },
    logs: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await issuer?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (issuer) {
    running.tokenRealm = issuer.realm;
    running.identityToken = issuer.identityToken;
  }
  return running;
}

/**
 * Push an image to a test registry with skopeo. `source` is an OCI layout
 * directory (its only image is pushed) or any skopeo transport reference
 * ('oci:/dir:tag', 'docker-archive:/x.tar'). Asynchronous on purpose: the
 * token issuer runs in this process and must keep answering.
 */
export function pushImage(source: string, host: string, repoTag: string, creds?: { username: string; password: string }): Promise<void> {
  const src = /^[a-z-]+:/.test(source) ? source : `oci:${source}`;
  const args = ['copy', '--insecure-policy', '--quiet', '--dest-tls-verify=false'];
  if (creds) args.push('--dest-creds', `${creds.username}:${creds.password}`);
  args.push(src, `docker://${host}/${repoTag}`);
  return new Promise((resolve, reject) => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run skopeo: ${String(err)}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`skopeo ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

/**
 * The project's busybox image (built by images/build.mjs if missing), served by a fresh
 * open registry on 127.0.0.1: what most CLI suites start from. Returns the registry and
 * the image's name in it.
 */
export async function serveBusybox(): Promise<{ registry: RunningRegistry; image: string }> {
  const repo = resolve(__dirname, '../..');
  execFileSync(process.execPath, [join(repo, 'images/build.mjs'), 'busybox'], { stdio: 'ignore' });
  const registry = await startRegistry({ auth: 'none' });
  await pushImage(join(repo, 'images/out/busybox'), registry.host, 'busybox:latest');
  return { registry, image: `${registry.host}/busybox` };
}
