// A pull-side client for the OCI distribution API: manifests and blobs,
// with auth (Basic, Bearer tokens), mirrors, retries and resumable,
// verified blob downloads. The push side (uploads) builds on it in upload.ts.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DigestMismatchError, RegistryError, RegistryUnreachableError } from '../errors.js';
import { digestAlgorithm, isValidDigest, sha256Digest } from '../image/digest.js';
import { MANIFEST_ACCEPT, parseManifest } from '../image/manifest.js';
import { fetchTarget, repositoryName, type Reference } from '../image/reference.js';
import type { Descriptor } from '../oci/image.js';
import { TokenCache, basicAuthorization, oauthErrorText, oauthRefreshRequest, parseTokenResponse, parseWwwAuthenticate, pullScope, tokenUrl, type Challenge } from './auth.js';
import { downloadBlob } from './blob-download.js';
import { defaultDockerConfigPath, loadCredentials, normaliseServer, type Credentials } from './credentials.js';
import { parseErrorBody, registryError, type RequestContext } from './error-answers.js';
import { fetchForeignBlob } from './foreign-fetch.js';
import { endpointsFor, loadHostsConfig, type Endpoint, type HostsConfig, type InsecureTransport } from './hosts.js';
import { discard, readBody, request, type HttpMethod, type HttpResponse, type RequestSpec } from './http.js';
import { MAX_RETRY_AFTER_MS, backoffMs, isTemporary, retryAfterMs } from './retry.js';

export interface RegistryClientOptions {
  /** Default $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  dockerConfigPath?: string;
  /** Default $TSRUN_REGISTRIES_CONFIG, else /etc/tsrun/registries.json (see hosts.ts). */
  hostsConfigPath?: string;
  /** Attempts per request for temporary failures (default 5). */
  maxAttempts?: number;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** First backoff delay; doubles per attempt (default 500 ms). */
  retryBaseDelayMs?: number;
  /** Socket idle timeout (default 30 s). */
  timeoutMs?: number;
  /** Relaxed TLS / plain HTTP for every registry this client talks to, beyond the hosts config (one command's choice). */
  insecure?: InsecureTransport;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_ERROR_BODY = 64 << 10;
/** Code of network errors after which an "insecure" HTTPS endpoint is retried over plain HTTP. */
const TLS_FAILURES = new Set(['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ECONNRESET']);

export interface SendSpec {
  method: HttpMethod;
  /** A path under the endpoint's host, or an absolute URL (an upload's Location). */
  path: string;
  headers?: Record<string, string>;
  body?: RequestSpec['body'];
  /** Token scope, several separated by spaces; undefined for /v2/. */
  scope?: string;
  ctx: RequestContext;
  signal?: AbortSignal;
  /** Use these credentials instead of the stored ones (login); null for none. */
  creds?: Credentials | null;
  /**
   * A HEAD whose error answer should be explained: such an answer has no body,
   * so it cannot tell an unknown repository (NAME_UNKNOWN) from an unknown tag
   * (MANIFEST_UNKNOWN); the same URL is asked again with a GET, whose answer is
   * the one reported (or returned, if the GET succeeds).
   */
  explainHeadError?: boolean;
}

export class RegistryClient {
  protected readonly hosts: HostsConfig;
  private readonly dockerConfigPath: string;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly timeoutMs: number;
  private readonly endpoints = new Map<string, Endpoint[]>();
  private readonly credentials = new Map<string, Promise<Credentials | undefined>>();
  /** Last auth challenge per endpoint host, so later requests authenticate up front. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new TokenCache();
  private readonly tokenRequests = new Map<string, Promise<string>>();
  /** Retry-After of the error answers that carried one. */
  private readonly retryAfter = new WeakMap<object, number>();

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.hosts = loadHostsConfig(opts.hostsConfigPath);
    this.dockerConfigPath = opts.dockerConfigPath ?? defaultDockerConfigPath();
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.baseDelayMs = opts.retryBaseDelayMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Digest, media type and size of what a reference points at (HEAD, falling back to GET). */
  async resolve(ref: Reference): Promise<{ digest: string; mediaType: string; size: number }> {
    const target = fetchTarget(ref);
    return this.overEndpoints(ref.domain, 'pull', async (ep) => {
      const ctx = this.context(ref, 'manifest', target);
      const res = await this.retrying(undefined, () =>
        this.send(ep, { method: 'HEAD', path: manifestPath(ep, ref, target), headers: { accept: MANIFEST_ACCEPT }, scope: pullScope(ref.path), ctx, explainHeadError: true }),
      ).catch((err) => this.unknownRepositoryOr(ep, ref, err));
      discard(res);
      const digest = header(res, 'docker-content-digest');
      const mediaType = header(res, 'content-type')?.split(';')[0]?.trim();
      const size = Number(header(res, 'content-length'));
      const usable = digest !== undefined && isValidDigest(digest) && (!ref.digest || digest === ref.digest);
      if (usable && mediaType && mediaType !== 'application/json' && Number.isSafeInteger(size) && size > 0) {
        return { digest, mediaType, size };
      }
      // Some registries answer HEAD without the digest or the type: fetch and compute.
      const m = await this.manifestFrom(ep, ref, target);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    });
  }

  /** A manifest or index by tag or digest; verified against the digest when fetched by one. */
  async getManifest(ref: Reference, digestOrTag?: string): Promise<FetchedManifest> {
    const target = digestOrTag ?? fetchTarget(ref);
    return this.overEndpoints(ref.domain, 'pull', (ep) => this.manifestFrom(ep, ref, target).catch((err) => this.unknownRepositoryOr(ep, ref, err)));
  }

  /** A small blob (an image config) read into memory, verified. */
  async getBlob(ref: Reference, desc: Descriptor): Promise<Buffer> {
    const algorithm = digestAlgorithm(desc.digest);
    return this.overEndpoints(ref.domain, 'pull', (ep) =>
      this.retrying(undefined, async () => {
        const ctx = this.context(ref, 'blob', desc.digest);
        const res = await this.send(ep, { method: 'GET', path: blobPath(ep, ref, desc.digest), scope: pullScope(ref.path), ctx });
        const bytes = await readBody(res, desc.size);
        if (bytes.length !== desc.size) {
          throw new DigestMismatchError(`${desc.size} bytes`, `${bytes.length} bytes`, `size of blob ${desc.digest} of ${ctx.repository}`);
        }
        const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
        if (actual !== desc.digest) throw new DigestMismatchError(desc.digest, actual, `blob of ${ctx.repository}`);
        return bytes;
      }),
    );
  }

  /**
   * Download a blob into `partialPath`, resuming from its current size with a
   * Range request. Verifies size and digest at the end; on mismatch deletes
   * the partial file and throws DigestMismatchError. The caller renames the
   * verified file into place.
   */
  async fetchBlob(
    ref: Reference,
    desc: Descriptor,
    partialPath: string,
    opts: { onProgress?: (doneBytes: number, totalBytes: number) => void; signal?: AbortSignal } = {},
  ): Promise<void> {
    digestAlgorithm(desc.digest); // validates before any I/O
    try {
      await this.overEndpoints(ref.domain, 'pull', (ep) =>
        this.retrying(opts.signal, () => this.fetchBlobOnce(ep, ref, desc, partialPath, opts)),
      );
    } catch (err) {
      // A layer with URLs that the registry did not serve, whatever the reason
      // (missing, refused, 5xx after the retries, a broken connection, wrong
      // bytes): its descriptor's URLs, as Docker does. Without URLs, or when
      // the pull was cancelled, the registry's error stands.
      if (!desc.urls?.length || (err as Error)?.name === 'AbortError' || opts.signal?.aborted) throw err;
      await fetchForeignBlob(desc, partialPath, err, {
        ...opts,
        timeoutMs: this.timeoutMs,
        retry: (fn) => this.retrying(opts.signal, fn),
      });
    }
  }

  /** Check that a registry speaks the v2 API and that we may log in (with `creds`, or the stored ones). */
  async ping(server: string, creds?: Credentials | null): Promise<void> {
    const domain = normaliseServer(server);
    const [ep] = this.endpointList(domain, 'login');
    const ctx: RequestContext = { registry: domain, what: 'ping' };
    const res = await this.retrying(undefined, () => this.send(ep!, { method: 'GET', path: `${ep!.root}/`, ctx, creds }));
    discard(res);
  }

  /** Verify credentials against the registry, token flow included (what "login" does before saving). */
  async checkLogin(server: string, creds: Credentials): Promise<void> {
    await this.ping(server, creds);
  }

  // ---- internals ----

  protected context(ref: Reference, what: RequestContext['what'], target?: string): RequestContext {
    const ctx: RequestContext = { registry: ref.domain, repository: repositoryName(ref), what };
    if (target !== undefined) ctx.target = target;
    return ctx;
  }

  protected endpointList(domain: string, purpose: 'pull' | 'push' | 'login'): Endpoint[] {
    const key = `${purpose} ${domain}`;
    let eps = this.endpoints.get(key);
    if (!eps) this.endpoints.set(key, (eps = endpointsFor(this.hosts, domain, purpose, this.opts.insecure)));
    return eps;
  }

  /** Try mirrors in order, then the registry; the registry's own error is the one reported. */
  private async overEndpoints<T>(domain: string, purpose: 'pull' | 'login', fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    const eps = this.endpointList(domain, purpose);
    for (const ep of eps) {
      if (!ep.mirror) return fn(ep);
      try {
        return await fn(ep);
      } catch (err) {
        if ((err as Error)?.name === 'AbortError') throw err;
        // A mirror that lacks the content or is down: go on to the next one.
      }
    }
    throw new RegistryError(`no endpoint configured for ${domain}`, undefined, undefined);
  }

  /**
   * Run `fn` again on temporary failures (and on those `alsoRetry` accepts),
   * with backoff or the server's Retry-After. `onRetry` replaces the client's
   * own callback for this call.
   */
  protected async retrying<T>(
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
    opts: { onRetry?: RegistryClientOptions['onRetry']; alsoRetry?: (err: unknown) => boolean } = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (signal?.aborted || attempt >= this.maxAttempts || !(isTemporary(err) || opts.alsoRetry?.(err))) throw err;
        const asked = this.retryAfter.get(err as object);
        if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) throw err;
        const delayMs = asked ?? backoffMs(attempt, this.baseDelayMs);
        (opts.onRetry ?? this.opts.onRetry)?.({ attempt, delayMs, reason: (err as Error).message });
        await sleep(delayMs, undefined, signal ? { signal } : undefined);
      }
    }
  }

  private async manifestFrom(ep: Endpoint, ref: Reference, target: string): Promise<FetchedManifest> {
    return this.retrying(undefined, async () => {
      const ctx = this.context(ref, 'manifest', target);
      const res = await this.send(ep, { method: 'GET', path: manifestPath(ep, ref, target), headers: { accept: MANIFEST_ACCEPT }, scope: pullScope(ref.path), ctx });
      const bytes = await readBody(res, MAX_MANIFEST_BYTES);
      const digest = sha256Digest(bytes);
      const name = `manifest ${repositoryName(ref)}${target.includes(':') ? '@' : ':'}${target}`;
      if (isValidDigest(target)) {
        const algorithm = digestAlgorithm(target);
        const actual = algorithm === 'sha256' ? digest : `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
        if (actual !== target) throw new DigestMismatchError(target, actual, name);
      }
      const claimed = header(res, 'docker-content-digest');
      if (claimed?.startsWith('sha256:') && claimed !== digest) throw new DigestMismatchError(claimed, digest, `${name} (Docker-Content-Digest)`);
      const parsed = parseManifest(bytes, header(res, 'content-type'));
      return { bytes, mediaType: parsed.mediaType, digest: isValidDigest(target) ? target : digest };
    });
  }

  /**
   * Throws `err`, or NAME_UNKNOWN in its place when `err` is a MANIFEST_UNKNOWN
   * and the repository itself is unknown. distribution (docker-registry) says
   * MANIFEST_UNKNOWN for any tag of a repository it has never heard of; its tag
   * list answers NAME_UNKNOWN then, so the user learns which part of the name
   * is wrong. One extra request, on the error path only.
   */
  private async unknownRepositoryOr(ep: Endpoint, ref: Reference, err: unknown): Promise<never> {
    // A mirror's error is never reported (the registry is asked next): no need to explain it.
    if (ep.mirror || !(err instanceof RegistryError) || err.registryCode !== 'MANIFEST_UNKNOWN') throw err;
    try {
      const ctx = this.context(ref, 'manifest');
      discard(await this.send(ep, { method: 'GET', path: `${ep.root}/${ref.path}/tags/list?n=1`, scope: pullScope(ref.path), ctx }));
    } catch (probe) {
      // Only the registry's own NAME_UNKNOWN counts (a bare 404 reads as MANIFEST_UNKNOWN here):
      // a refusal or a failure says nothing about the repository.
      if (probe instanceof RegistryError && probe.registryCode === 'NAME_UNKNOWN') throw probe;
    }
    throw err;
  }

  private async fetchBlobOnce(
    ep: Endpoint,
    ref: Reference,
    desc: Descriptor,
    partialPath: string,
    opts: { onProgress?: (doneBytes: number, totalBytes: number) => void; signal?: AbortSignal },
  ): Promise<void> {
    const ctx = this.context(ref, 'blob', desc.digest);
    const spec: SendSpec = { method: 'GET', path: blobPath(ep, ref, desc.digest), scope: pullScope(ref.path), ctx };
    if (opts.signal) spec.signal = opts.signal;
    const get = (from?: number) => this.send(ep, from === undefined ? spec : { ...spec, headers: { range: `bytes=${from}-` } });
    await downloadBlob(desc, partialPath, get, ctx.repository!, opts);
  }

  private storedCredentials(host: string): Promise<Credentials | undefined> {
    let p = this.credentials.get(host);
    if (!p) this.credentials.set(host, (p = loadCredentials(host, this.dockerConfigPath)));
    return p;
  }

  /**
   * One request with authentication: sends what the last challenge of this host
   * asks for, and on a 401 learns the challenge and tries once more. Answers
   * >= 400 become RegistryErrors (with Retry-After remembered for 429s).
   */
  protected async send(ep: Endpoint, spec: SendSpec): Promise<HttpResponse> {
    const creds = spec.creds === undefined ? await this.storedCredentials(ep.host) : (spec.creds ?? undefined);
    let ctx: RequestContext = creds ? { ...spec.ctx, username: creds.username } : spec.ctx;
    const scope = spec.scope ?? '';
    let authorization = await this.authorization(ep, scope, creds, ctx);
    for (let round = 0; ; round++) {
      const res = await this.transport(ep, spec, authorization);
      if (res.status < 400) return res;
      const body = await readBody(res, MAX_ERROR_BODY).catch(() => Buffer.alloc(0));
      if (res.status === 401) {
        const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
        const challenge = challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
        if (challenge && round === 0) {
          this.challenges.set(ep.host, challenge);
          if (authorization?.startsWith('Bearer ')) this.tokens.delete(tokenOwner(ep, creds), scope);
          const next = await this.authorization(ep, scope || challenge.params.scope || '', creds, ctx);
          if (next !== undefined && next !== authorization) {
            authorization = next;
            continue;
          }
        }
        // A token that authenticates but does not grant what the request needs (RFC 6750).
        if (challenge?.params.error === 'insufficient_scope') ctx = { ...ctx, insufficientScope: true };
      }
      let answer = { status: res.status, headers: res.headers, body };
      // Rate limits and server errors are left to the retries: a GET would only add load.
      if (spec.explainHeadError && spec.method === 'HEAD' && !parseErrorBody(body) && res.status !== 429 && res.status < 500) {
        const got = await this.transport(ep, { ...spec, method: 'GET' }, authorization);
        if (got.status < 400) return got;
        answer = { status: got.status, headers: got.headers, body: await readBody(got, MAX_ERROR_BODY).catch(() => Buffer.alloc(0)) };
      }
      const err = registryError(answer.status, answer.body, ctx);
      const after = retryAfterMs(answer.headers['retry-after']);
      if (after !== undefined) this.retryAfter.set(err, after);
      throw err;
    }
  }

  private async transport(ep: Endpoint, spec: SendSpec, authorization: string | undefined): Promise<HttpResponse> {
    for (;;) {
      const url = new URL(spec.path, ep.base);
      const headers: Record<string, string> = { ...spec.headers };
      // An upload's Location may send us to another host (object storage): our credentials are for the registry only.
      if (authorization && url.origin === ep.base.origin) headers.authorization = authorization;
      try {
        return await request({
          method: spec.method,
          url,
          headers,
          ...(spec.body !== undefined ? { body: spec.body } : {}),
          ...(url.origin === ep.base.origin ? { tls: ep.tls } : {}),
          timeoutMs: this.timeoutMs,
          ...(spec.signal ? { signal: spec.signal } : {}),
        });
      } catch (err) {
        // An "insecure" registry that does not speak TLS: use plain HTTP from now on.
        if (ep.httpFallback && err instanceof RegistryUnreachableError && TLS_FAILURES.has(err.errno ?? '')) {
          ep.httpFallback = false;
          ep.base = new URL(`http://${ep.host}`);
          continue;
        }
        throw err;
      }
    }
  }

  /** The Authorization header for `ep` given its last challenge, fetching a token if needed. */
  private async authorization(ep: Endpoint, scope: string, creds: Credentials | undefined, ctx: RequestContext): Promise<string | undefined> {
    const challenge = this.challenges.get(ep.host);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return creds && (creds.username || creds.secret) ? basicAuthorization(creds.username, creds.secret) : undefined;
    if (challenge.scheme !== 'bearer') return undefined;
    const cached = this.tokens.get(tokenOwner(ep, creds), scope);
    if (cached) return `Bearer ${cached}`;
    // Concurrent blob downloads share one token request.
    const key = `${tokenOwner(ep, creds)} ${scope}`;
    let pending = this.tokenRequests.get(key);
    if (!pending) {
      pending = this.fetchToken(ep, challenge, scope, creds, ctx).finally(() => this.tokenRequests.delete(key));
      this.tokenRequests.set(key, pending);
    }
    return `Bearer ${await pending}`;
  }

  private async fetchToken(ep: Endpoint, challenge: Challenge, scope: string, creds: Credentials | undefined, ctx: RequestContext): Promise<string> {
    const scopes = scope.split(' ').filter(Boolean);
    const unusable = (err: unknown) =>
      new RegistryError(`${ep.host} sent an unusable Bearer challenge (realm ${JSON.stringify(challenge.params.realm)})`, 401, 'UNAUTHORIZED', { cause: err });
    if (creds?.identityToken) {
      // An identity token is an OAuth2 refresh token: exchange it with a POST.
      let post: { url: URL; body: string };
      try {
        post = oauthRefreshRequest(challenge, scopes, creds.identityToken);
      } catch (err) {
        throw unusable(err);
      }
      const res = await request({
        method: 'POST',
        url: post.url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: post.body,
        timeoutMs: this.timeoutMs,
        ...(post.url.host === ep.host ? { tls: ep.tls } : {}),
      });
      const body = await readBody(res, 1 << 20);
      // 404: a token server without OAuth2 (distribution spec): use the GET flow.
      if (res.status !== 404) return this.storeToken(ep, creds, scope, res, body, post.url, ctx, true);
    }
    let url: URL;
    try {
      url = tokenUrl(challenge, scopes, creds?.username || undefined);
    } catch (err) {
      throw unusable(err);
    }
    const headers: Record<string, string> = {};
    // With an identity token there is usually no password; Docker then asks anonymously too.
    if (creds && (!creds.identityToken || creds.secret)) headers.authorization = basicAuthorization(creds.username, creds.secret);
    const res = await request({
      method: 'GET',
      url,
      headers,
      timeoutMs: this.timeoutMs,
      ...(url.host === ep.host ? { tls: ep.tls } : {}),
    });
    const body = await readBody(res, 1 << 20);
    return this.storeToken(ep, creds, scope, res, body, url, ctx, false);
  }

  /** Check a token server's answer and cache the token it carries. */
  private storeToken(ep: Endpoint, creds: Credentials | undefined, scope: string, res: HttpResponse, body: Buffer, url: URL, ctx: RequestContext, oauth: boolean): string {
    if (oauth && (res.status === 400 || res.status === 401)) {
      // RFC 6749 errors ({"error":"invalid_grant",...}): the identity token was refused.
      const said = oauthErrorText(body);
      throw new RegistryError(
        `unauthorized: token server ${url.host} rejected the identity token for ${ctx.repository ?? ctx.registry}${said ? ` (${said})` : ''}`,
        res.status,
        'UNAUTHORIZED',
        { hint: `run "tsrun login ${ctx.registry}" again` },
      );
    }
    if (res.status >= 400) {
      const err = registryError(res.status, body, { ...ctx, what: 'token' });
      const after = retryAfterMs(res.headers['retry-after']);
      if (after !== undefined) this.retryAfter.set(err, after);
      throw err;
    }
    const token = parseTokenResponse(body);
    if (!token) throw new RegistryError(`token server ${url.host} answered without a token`, res.status, undefined);
    this.tokens.set(tokenOwner(ep, creds), scope, token.token, token.expiresInSec);
    return token.token;
  }
}

/** Tokens belong to a host and to the credentials they were issued for (login tries other ones). */
function tokenOwner(ep: Endpoint, creds: Credentials | undefined): string {
  if (!creds) return ep.host;
  return `${ep.host} ${createHash('sha256').update(`${creds.username}\0${creds.secret}\0${creds.identityToken ?? ''}`).digest('hex').slice(0, 16)}`;
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The endpoint's API root ("/v2", or a mirror's "/cache/v2") + the repository's path. */
function manifestPath(ep: Endpoint, ref: Reference, target: string): string {
  return `${ep.root}/${ref.path}/manifests/${target}`;
}

function blobPath(ep: Endpoint, ref: Reference, digest: string): string {
  return `${ep.root}/${ref.path}/blobs/${digest}`;
}
