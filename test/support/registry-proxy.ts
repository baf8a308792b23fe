// An HTTP proxy in front of a real test registry that counts the body bytes
// it forwards, records request headers, can answer 429 (with Retry-After) in
// place of the registry, and can redirect blob GETs to a "storage" listener on
// another host (127.0.0.2), which fetches the blob from the registry with the
// credentials of the redirected request, remembered server-side under the
// URL's signature (like a pre-signed storage URL). With `mapPath` it serves
// the registry under other paths (a mirror behind a path prefix): each request
// path is rewritten before it is forwarded, and a path it maps to undefined is
// answered 404 without asking the registry.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  server: 'proxy' | 'storage';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
  bodyBytes: number;
}

export interface RegistryProxy {
  /** '127.0.0.1:PORT': use as the registry host. */
  host: string;
  storageHost: string;
  requests: ProxiedRequest[];
  /** Answer the next `times` requests whose path matches with 429 + Retry-After. */
  throttle(path: RegExp, retryAfter: string, times?: number): void;
  /** Redirect blob GETs to the storage listener. */
  redirectBlobs(): void;
  close(): Promise<void>;
}

export interface RegistryProxyOptions {
  /** The registry's path for a request path (query included), or undefined for a 404. Default: the same path. */
  mapPath?: (path: string) => string | undefined;
}

export async function startRegistryProxy(upstream: string, opts: RegistryProxyOptions = {}): Promise<RegistryProxy> {
  const requests: ProxiedRequest[] = [];
  const throttles: { path: RegExp; retryAfter: string; times: number }[] = [];
  let redirect = false;
  const signed = new Map<string, string | undefined>();
  let storagePort = 0;

  const forward = (server: ProxiedRequest['server'], req: http.IncomingMessage, res: http.ServerResponse, path: string, headers: IncomingHttpHeaders) => {
    const rec: ProxiedRequest = { server, method: req.method ?? '', path: req.url ?? '', headers: req.headers, status: 0, bodyBytes: 0 };
    requests.push(rec);
    const [hostname, port] = upstream.split(':');
    const up = http.request({ hostname, port: Number(port), method: req.method, path, headers: { ...headers, host: upstream } }, (ur) => {
      rec.status = ur.statusCode ?? 0;
      const h = { ...ur.headers };
      // Absolute Location/realm URLs of the registry stay as they are (token realm is elsewhere anyway).
      res.writeHead(ur.statusCode ?? 502, h);
      ur.on('data', (c: Buffer) => (rec.bodyBytes += c.length));
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
    return rec;
  };

  const proxy = http.createServer((req, res) => {
    const path = opts.mapPath ? opts.mapPath(req.url ?? '/') : (req.url ?? '/');
    if (path === undefined) {
      requests.push({ server: 'proxy', method: req.method ?? '', path: req.url ?? '', headers: req.headers, status: 404, bodyBytes: 0 });
      const body = JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'not served under this path', detail: null }] });
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const t = throttles.find((x) => x.path.test(path));
    if (t) {
      if (--t.times <= 0) throttles.splice(throttles.indexOf(t), 1);
      requests.push({ server: 'proxy', method: req.method ?? '', path, headers: req.headers, status: 429, bodyBytes: 0 });
      const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down', detail: null }] });
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': t.retryAfter, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (redirect && req.method === 'GET' && /\/blobs\/sha256:/.test(path)) {
      // Like a real registry: check access first (a HEAD upstream with the
      // same headers), redirect only what would be served.
      const [hostname, port] = upstream.split(':');
      const head = http.request({ hostname, port: Number(port), method: 'HEAD', path, headers: { ...req.headers, host: upstream } }, (hr) => {
        hr.resume();
        if (hr.statusCode !== 200) {
          forward('proxy', req, res, path, req.headers);
          return;
        }
        requests.push({ server: 'proxy', method: 'GET', path, headers: req.headers, status: 307, bodyBytes: 0 });
        const sig = String(signed.size + 1);
        signed.set(sig, req.headers.authorization);
        res.writeHead(307, { location: `http://127.0.0.2:${storagePort}/signed${path}?X-Signature=${sig}` });
        res.end();
      });
      head.on('error', () => res.destroy());
      head.end();
      return;
    }
    forward('proxy', req, res, path, req.headers);
  });

  const storage = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/signed/, '');
    const headers: IncomingHttpHeaders = { ...req.headers };
    delete headers.authorization;
    const auth = signed.get(url.searchParams.get('X-Signature') ?? '');
    if (auth) headers.authorization = auth;
    const rec = forward('storage', req, res, path, headers);
    rec.headers = req.headers; // what the client sent, not what we forwarded
  });

  const listen = (s: http.Server, host: string) =>
    new Promise<number>((r) => s.listen(0, host, () => r((s.address() as AddressInfo).port)));
  const port = await listen(proxy, '127.0.0.1');
  storagePort = await listen(storage, '127.0.0.2');
  return {
    host: `127.0.0.1:${port}`,
    storageHost: `127.0.0.2:${storagePort}`,
    requests,
    throttle(path, retryAfter, times = 1) {
      throttles.push({ path, retryAfter, times });
    },
    redirectBlobs() {
      redirect = true;
    },
    async close() {
      for (const s of [proxy, storage]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
