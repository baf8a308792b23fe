// The HTTP transport for registry traffic, on node:http/node:https (cheaper in
// CPU than fetch). Keep-alive agents, an idle timeout, and redirects followed
// by hand so that credentials never leak: blob GETs are commonly redirected to
// object storage on another host, which must not see our Authorization header.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { RegistryError, RegistryUnreachableError } from '../errors.js';

export interface TlsSettings {
  /** Extra CA certificates (PEM) trusted for this registry. */
  ca?: Buffer;
  /** false for registries marked insecure. */
  rejectUnauthorized?: boolean;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * A body streamed from elsewhere (a blob file): opened afresh for every
 * attempt (a 307/308 redirect, a second auth round), with its length known
 * up front so it goes out with a Content-Length rather than chunked.
 */
export interface StreamBody {
  length: number;
  open: () => Readable;
}

export interface RequestSpec {
  method: HttpMethod;
  url: URL;
  headers?: Record<string, string>;
  /** Request body: a form for OAuth2 token requests, a manifest, or a blob as a stream. */
  body?: string | Buffer | StreamBody;
  /** TLS settings for the request's own host; redirect targets on other hosts get the defaults. */
  tls?: TlsSettings;
  /** Idle timeout of the socket, also while the body streams (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: URL;
  body: IncomingMessage;
}

let httpAgentCache: http.Agent | undefined;
let httpsAgentCache: https.Agent | undefined;

/**
 * The bin launchers (src/native/cli_launch.c) move NODE_EXTRA_CA_CERTS to TSRUN_EXTRA_CA_CERTS (Node would parse the
 * bundle at every start, ~35 ms, even for commands that never use TLS): load it here, on first use.
 */
function httpsAgent(): https.Agent {
  if (httpsAgentCache) return httpsAgentCache;
  const extra = process.env.TSRUN_EXTRA_CA_CERTS;
  let ca: (string | Buffer)[] | undefined;
  if (extra) {
    try {
      ca = [...tls.rootCertificates, readFileSync(extra)];
    } catch {
      ca = undefined; // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS.
    }
  }
  return (httpsAgentCache = new https.Agent({ keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) }));
}
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Send one request, following redirects; the caller must consume or discard the body. */
export async function request(spec: RequestSpec): Promise<HttpResponse> {
  let url = spec.url;
  let headers: Record<string, string> = { ...spec.headers };
  let method = spec.method;
  let body = spec.body;
  const origin = spec.url.origin;
  for (let hop = 0; ; hop++) {
    const res = await once(spec, method, body, url, headers, url.origin === origin ? spec.tls : undefined);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) {
      return { status: res.statusCode ?? 0, headers: res.headers, url, body: res };
    }
    res.resume();
    if (hop >= (spec.maxRedirects ?? 10)) {
      throw new RegistryError(`too many redirects fetching ${spec.url.href} (last: ${url.href})`, res.statusCode, undefined);
    }
    const next = new URL(location, url);
    if (method !== 'GET' && method !== 'HEAD' && res.statusCode !== 307 && res.statusCode !== 308) {
      // 301/302/303 turn a POST (or PUT, PATCH) into a GET without its body, as browsers and Go do.
      method = 'GET';
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !['content-type', 'content-length'].includes(k.toLowerCase())));
    }
    if (next.origin !== origin) {
      // Credentials are for the registry only: drop them for any other host,
      // and keep them dropped even if a later hop comes back.
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    url = next;
  }
}

function describeErrno(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ENOTFOUND': return 'host not found';
    case 'EAI_AGAIN': return 'temporary DNS failure';
    case 'ECONNRESET': return 'connection reset';
    case 'ETIMEDOUT': return 'timed out';
    case 'EHOSTUNREACH': return 'host unreachable';
    case 'ENETUNREACH': return 'network unreachable';
    case 'EPROTO': case 'ERR_SSL_WRONG_VERSION_NUMBER': return 'TLS handshake failed (is it a plain-HTTP registry? mark it "insecure" in the registries config)';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT': case 'SELF_SIGNED_CERT_IN_CHAIN': case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE': case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'TLS certificate not trusted (set "caFile" for this registry in the registries config)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return 'TLS certificate does not match the host name';
    default: return code ?? 'network error';
  }
}

/** Wrap a socket-level error in a typed error naming the host. */
export function networkError(url: URL, err: unknown): RegistryUnreachableError {
  const code = (err as NodeJS.ErrnoException)?.code;
  return new RegistryUnreachableError(`cannot connect to ${url.host} (${url.protocol}//${url.host}): ${describeErrno(code)}`, code, { cause: err });
}

function once(
  spec: RequestSpec,
  method: RequestSpec['method'],
  body: RequestSpec['body'],
  url: URL,
  headers: Record<string, string>,
  tls: TlsSettings | undefined,
): Promise<IncomingMessage> {
  const isHttps = url.protocol === 'https:';
  if (!isHttps && url.protocol !== 'http:') return Promise.reject(new RegistryError(`unsupported URL scheme in ${url.href}`, undefined, undefined));
  const timeoutMs = spec.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (isHttps ? 443 : 80),
      path: url.pathname + url.search,
      headers: { 'user-agent': 'tsrun/0.1', ...headers, ...(body !== undefined ? { 'content-length': String(bodyLength(body)) } : {}) },
      agent: isHttps ? httpsAgent() : (httpAgentCache ??= new http.Agent({ keepAlive: true, maxSockets: 16 })),
      signal: spec.signal,
    };
    if (isHttps && tls) {
      if (tls.ca) options.ca = tls.ca;
      if (tls.rejectUnauthorized === false) options.rejectUnauthorized = false;
    }
    let stream: Readable | undefined;
    const req = (isHttps ? https : http).request(options, (res) => {
      // The body keeps the same idle timeout: a stalled download becomes an error.
      res.socket.setTimeout(timeoutMs);
      if (stream && !req.writableFinished) {
        // Answered before the whole body went out (an error, typically): stop
        // sending, and drop the connection once the answer is read, since a
        // server that stopped reading would hold it until its own timeout.
        stream.unpipe(req);
        stream.destroy();
        const drop = () => req.destroy();
        res.once('end', drop);
        res.once('close', drop);
      }
      resolve(res);
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error(`no answer from ${url.host} in ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (err) => reject(spec.signal?.aborted ? err : networkError(url, err)));
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    // A streamed body: a read error aborts the request.
    const s = body.open();
    stream = s;
    s.once('error', (err) => req.destroy(err));
    req.once('close', () => s.destroy());
    s.pipe(req);
  });
}

function bodyLength(body: NonNullable<RequestSpec['body']>): number {
  if (typeof body === 'string' || Buffer.isBuffer(body)) return Buffer.byteLength(body);
  return body.length;
}

/** Read a whole (small) body; fails if it exceeds `limit` bytes or breaks off. */
export async function readBody(res: HttpResponse, limit = 8 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        res.body.destroy();
        throw new RegistryError(`response from ${res.url.host} is larger than ${limit} bytes (${res.url.pathname})`, res.status, undefined);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw bodyError(res.url, err);
  }
  return Buffer.concat(chunks);
}

/** A body that broke off half way: temporary, worth a retry (with Range for blobs). */
export function bodyError(url: URL, err: unknown): RegistryUnreachableError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const why = code === 'ETIMEDOUT' ? 'stalled (idle timeout)' : 'closed before the body was complete';
  return new RegistryUnreachableError(`download from ${url.host} ${why}`, code === 'ETIMEDOUT' ? 'ETIMEDOUT' : 'TRUNCATED', { cause: err });
}

export function discard(res: HttpResponse): void {
  res.body.resume();
}
