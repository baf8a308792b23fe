// A small in-memory registry (OCI distribution API: pulls, and pushes with
// monolithic or chunked uploads, mounts and manifest PUTs) that can
// misbehave on demand: wrong bytes, truncated bodies, 429/5xx answers, slow
// bodies, blob redirects to a second host, ignored Range headers. It records
// every request with its headers, so tests can check what a client sent.
// Loopback only: a main server on 127.0.0.1 and a "storage" server on
// 127.0.0.2 (another host as far as a client is concerned).
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'wrong-digest' }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'slow'; chunkBytes: number; delayMs: number }
  | { kind: 'ignore-range' }
  | { kind: 'reset' };

export interface FaultRule {
  fault: Fault;
  method?: string;
  /** Matched against the request path. */
  path?: RegExp;
  /** How many matching requests it applies to (default 1). */
  times?: number;
  /**
   * Only for requests that passed the registry's auth, so a client's first,
   * anonymous try (answered 401) does not use the fault up.
   */
  authenticated?: boolean;
}

export interface RecordedRequest {
  server: 'registry' | 'storage';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
  /** Body bytes actually written. */
  bytesSent: number;
  /** The request body, for token POSTs and manifest PUTs. */
  body?: string;
  /** Upload PATCH/PUT: bytes of blob data received. */
  bytesReceived?: number;
}

export interface FaultRegistryOptions {
  /** Send blob GETs to the storage server (another host) with a 307. */
  redirectBlobs?: boolean;
  /**
   * How upload sessions are given in Location (each carries its state in the query, checked on
   * the next request): 'root-relative' /v2/… (default), 'absolute' http://host/v2/…, or
   * 'relative' to the URL that answered ("u1?_state=…").
   */
  uploadLocation?: 'root-relative' | 'absolute' | 'relative';
  /** Answer upload POSTs with OCI-Chunk-Min-Length. */
  chunkMinLength?: number;
  /** 'basic' or 'bearer' auth, with these credentials (anonymous pulls refused). */
  auth?: {
    scheme: 'basic' | 'bearer';
    username: string;
    password: string;
    tokenExpiresIn?: number;
    /** Bearer: the refresh token an OAuth2 POST to /token may exchange (grant_type=refresh_token). */
    identityToken?: string;
    /** Bearer: false makes POST /token answer 404, like a token server without OAuth2 (default true). */
    oauth?: boolean;
  };
}

export interface FaultRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  storageHost: string;
  requests: RecordedRequest[];
  tokenRequests: number;
  addBlob(bytes: Buffer | string): { digest: string; size: number };
  addManifest(repo: string, tag: string, bytes: Buffer | string, mediaType: string): string;
  /** What was pushed (or added): a blob by digest, a manifest by repository and tag. */
  blob(digest: string): Buffer | undefined;
  manifest(repo: string, tag: string): { bytes: Buffer; mediaType: string; digest: string } | undefined;
  /** Upload sessions still open (neither completed nor cancelled). */
  openUploads(): number;
  inject(rule: FaultRule): void;
  close(): Promise<void>;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function listen(server: http.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startFaultRegistry(opts: FaultRegistryOptions = {}): Promise<FaultRegistry> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { bytes: Buffer; mediaType: string; digest: string }>();
  const rules: FaultRule[] = [];
  const requests: RecordedRequest[] = [];
  const tokens = new Set<string>();
  const state = { tokenRequests: 0 };

  /** The next fault for `req`: among the `authenticated` rules once it passed auth, else among the others. */
  const takeFault = (req: IncomingMessage, passedAuth = false): Fault | undefined => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const i = rules.findIndex((r) => !!r.authenticated === passedAuth && (!r.method || r.method === req.method) && (!r.path || r.path.test(path)));
    if (i < 0) return undefined;
    const rule = rules[i]!;
    rule.times = (rule.times ?? 1) - 1;
    if (rule.times <= 0) rules.splice(i, 1);
    return rule.fault;
  };

  const record = (server: RecordedRequest['server'], req: IncomingMessage, res: ServerResponse): RecordedRequest => {
    const r: RecordedRequest = { server, method: req.method ?? '', path: req.url ?? '', headers: req.headers, status: 0, bytesSent: 0 };
    requests.push(r);
    res.on('finish', () => (r.status = res.statusCode));
    res.on('close', () => (r.status ||= res.statusCode));
    return r;
  };

  const sendError = (res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}) => {
    const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  /** Write `bytes` honouring Range and the body faults. */
  const sendBytes = async (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, bytes: Buffer, headers: Record<string, string>, fault: Fault | undefined) => {
    let body = bytes;
    if (fault?.kind === 'wrong-digest') {
      body = Buffer.from(bytes);
      if (body.length > 0) body[body.length - 1] = body[body.length - 1]! ^ 0xff;
    }
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && fault?.kind !== 'ignore-range') {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
      body = body.subarray(start, end + 1);
      status = 206;
    }
    res.writeHead(status, { ...headers, 'content-length': body.length, 'accept-ranges': 'bytes' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (fault?.kind === 'truncate') {
      const part = body.subarray(0, Math.min(fault.afterBytes, body.length));
      res.write(part);
      rec.bytesSent += part.length;
      // Let the bytes reach the client, then cut the connection mid-body.
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'slow') {
      for (let off = 0; off < body.length; off += fault.chunkBytes) {
        if (res.destroyed) return;
        const chunk = body.subarray(off, off + fault.chunkBytes);
        res.write(chunk);
        rec.bytesSent += chunk.length;
        await new Promise((r) => setTimeout(r, fault.delayMs));
      }
      res.end();
      return;
    }
    rec.bytesSent += body.length;
    res.end(body);
  };

  const authorized = (req: IncomingMessage): boolean => {
    const a = opts.auth;
    if (!a) return true;
    const h = req.headers.authorization ?? '';
    if (a.scheme === 'basic') return h === `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
    return h.startsWith('Bearer ') && tokens.has(h.slice(7));
  };

  // ---- push side: upload sessions and manifest PUTs ----
  const uploads = new Map<string, { repo: string; data: Buffer[]; size: number; state: string }>();
  let uploadCount = 0;
  /** The Location of an upload session, in the style the options ask for, with its state in the query. */
  const sessionLocation = (host: string | undefined, repo: string, id: string, state: string): string => {
    const query = `?_state=${encodeURIComponent(state)}`;
    if (opts.uploadLocation === 'absolute') return `http://${host}/v2/${repo}/blobs/uploads/${id}${query}`;
    if (opts.uploadLocation === 'relative') return `${id}${query}`; // relative to .../blobs/uploads/(…)
    return `/v2/${repo}/blobs/uploads/${id}${query}`;
  };
  const readAll = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  };

  const handleUpload = async (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, url: URL, repo: string, id: string) => {
    if (req.method === 'POST' && id === '') {
      await readAll(req);
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && from !== repo && blobs.has(mount)) {
        res.writeHead(201, { location: `/v2/${repo}/blobs/${mount}`, 'docker-content-digest': mount, 'content-length': 0 });
        res.end();
        return;
      }
      const newId = `u${++uploadCount}`;
      const state = `${newId}+0/=`;
      uploads.set(newId, { repo, data: [], size: 0, state });
      res.writeHead(202, {
        location: sessionLocation(req.headers.host, repo, newId, state), 'docker-upload-uuid': newId, range: '0-0', 'content-length': 0,
        ...(opts.chunkMinLength ? { 'oci-chunk-min-length': String(opts.chunkMinLength) } : {}),
      });
      res.end();
      return;
    }
    const session = uploads.get(id);
    if (!session || session.repo !== repo) {
      await readAll(req);
      sendError(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
      return;
    }
    if (req.method === 'DELETE') {
      uploads.delete(id);
      res.writeHead(204);
      res.end();
      return;
    }
    if (url.searchParams.get('_state') !== session.state) {
      await readAll(req);
      sendError(res, 400, 'BLOB_UPLOAD_INVALID', `upload state lost: got ${JSON.stringify(url.searchParams.get('_state'))}`);
      return;
    }
    const range = /^(\d+)-(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
    if (req.method === 'PATCH' && range && Number(range[1]) !== session.size) {
      await readAll(req);
      res.writeHead(416, { range: `0-${session.size - 1}`, 'content-length': 0 });
      res.end();
      return;
    }
    const body = await readAll(req);
    rec.bytesReceived = body.length;
    session.data.push(body);
    session.size += body.length;
    if (req.method === 'PATCH') {
      session.state = `${id}+${session.size}/=`;
      res.writeHead(202, { location: sessionLocation(req.headers.host, repo, id, session.state), range: `0-${session.size - 1}`, 'docker-upload-uuid': id, 'content-length': 0 });
      res.end();
      return;
    }
    if (req.method === 'PUT') {
      const want = url.searchParams.get('digest') ?? '';
      const bytes = Buffer.concat(session.data);
      uploads.delete(id);
      if (sha256(bytes) !== want) {
        sendError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
        return;
      }
      blobs.set(want, bytes);
      res.writeHead(201, { location: `/v2/${repo}/blobs/${want}`, 'docker-content-digest': want, 'content-length': 0 });
      res.end();
      return;
    }
    sendError(res, 405, 'UNSUPPORTED', `${req.method} on an upload`);
  };

  let storagePort = 0;
  const registry = http.createServer(async (req, res) => {
    const rec = record('registry', req, res);
    const url = new URL(req.url ?? '/', 'http://x');
    const a = opts.auth;
    if (url.pathname === '/token' && a?.scheme === 'bearer') {
      state.tokenRequests++;
      if (req.method === 'POST') {
        // OAuth2 (distribution spec, auth/oauth.md): a form, answered with access_token.
        const chunks: Buffer[] = [];
        for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
        rec.body = Buffer.concat(chunks).toString('utf8');
        if (a.oauth === false) {
          sendError(res, 404, 'NOT_FOUND', 'no OAuth2 here');
          return;
        }
        const form = new URLSearchParams(rec.body);
        if (form.get('grant_type') !== 'refresh_token' || !a.identityToken || form.get('refresh_token') !== a.identityToken) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'unknown refresh token' }));
          return;
        }
        const token = randomBytes(16).toString('hex');
        tokens.add(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: token, expires_in: a.tokenExpiresIn ?? 300, scope: form.get('scope') ?? '' }));
        return;
      }
      if (req.headers.authorization !== `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`) {
        sendError(res, 401, 'UNAUTHORIZED', 'bad credentials');
        return;
      }
      const token = randomBytes(16).toString('hex');
      tokens.add(token);
      const body = JSON.stringify({ token, expires_in: a.tokenExpiresIn ?? 300 });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    /** Answers the faults that replace the whole answer (reset, status); true when it did. */
    const answeredByFault = (f: Fault | undefined): boolean => {
      if (f?.kind === 'reset') {
        req.socket.destroy();
        return true;
      }
      if (f?.kind === 'status') {
        sendError(res, f.status, f.status === 429 ? 'TOOMANYREQUESTS' : 'UNKNOWN', f.body ?? `injected ${f.status}`, f.retryAfter ? { 'retry-after': f.retryAfter } : {});
        return true;
      }
      return false;
    };
    const beforeAuth = takeFault(req);
    if (answeredByFault(beforeAuth)) return;
    if (!authorized(req)) {
      const challenge = a!.scheme === 'basic'
        ? 'Basic realm="fault-registry"'
        : `Bearer realm="http://${req.headers.host}/token",service="fault-registry"`;
      sendError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': challenge });
      return;
    }
    const fault = beforeAuth ?? takeFault(req, true);
    if (answeredByFault(fault)) return;
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end('{}');
      return;
    }
    const up = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(url.pathname);
    if (up) {
      await handleUpload(req, res, rec, url, up[1]!, up[2]!);
      return;
    }
    if (req.method === 'PUT') {
      const man = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      if (!man) {
        sendError(res, 404, 'NAME_UNKNOWN', 'no such route');
        return;
      }
      const body = await readAll(req);
      const digest = sha256(body);
      const mediaType = req.headers['content-type'] ?? '';
      rec.body = body.toString('utf8');
      manifests.set(`${man[1]}:${man[2]}`, { bytes: body, mediaType, digest });
      res.writeHead(201, { location: `/v2/${man[1]}/manifests/${digest}`, 'docker-content-digest': digest, 'content-length': 0 });
      res.end();
      return;
    }
    const tagList = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (tagList) {
      // As distribution: NAME_UNKNOWN for a repository with no manifest at all.
      const tags = [...manifests.keys()].filter((k) => k.startsWith(`${tagList[1]}:`)).map((k) => k.slice(tagList[1]!.length + 1));
      if (tags.length === 0) {
        sendError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: tagList[1], tags }));
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) {
      sendError(res, 404, 'NAME_UNKNOWN', 'no such route');
      return;
    }
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const man = manifests.get(`${repo}:${ref}`) ?? [...manifests.entries()].find(([k, v]) => k.startsWith(`${repo}:`) && v.digest === ref)?.[1];
      if (!man) {
        sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
        return;
      }
      await sendBytes(req, res, rec, man.bytes, { 'content-type': man.mediaType, 'docker-content-digest': man.digest }, fault);
      return;
    }
    const blob = blobs.get(ref);
    if (!blob) {
      sendError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      return;
    }
    if (opts.redirectBlobs && req.method === 'GET') {
      res.writeHead(307, { location: `http://127.0.0.2:${storagePort}/storage/${ref}?sig=abc` });
      res.end();
      return;
    }
    await sendBytes(req, res, rec, blob, { 'content-type': 'application/octet-stream', 'docker-content-digest': ref }, fault);
  });

  const storage = http.createServer(async (req, res) => {
    const rec = record('storage', req, res);
    const m = /^\/storage\/([^/?]+)/.exec(req.url ?? '');
    const blob = m ? blobs.get(m[1]!) : undefined;
    if (!blob) {
      res.writeHead(404);
      res.end();
      return;
    }
    await sendBytes(req, res, rec, blob, { 'content-type': 'application/octet-stream' }, takeFault(req));
  });

  const port = await listen(registry, '127.0.0.1');
  storagePort = await listen(storage, '127.0.0.2');

  return {
    host: `127.0.0.1:${port}`,
    storageHost: `127.0.0.2:${storagePort}`,
    requests,
    get tokenRequests() {
      return state.tokenRequests;
    },
    addBlob(bytes) {
      const b = Buffer.from(bytes);
      const digest = sha256(b);
      blobs.set(digest, b);
      return { digest, size: b.length };
    },
    blob(digest) {
      return blobs.get(digest);
    },
    manifest(repo, tag) {
      return manifests.get(`${repo}:${tag}`);
    },
    openUploads() {
      return uploads.size;
    },
    addManifest(repo, tag, bytes, mediaType) {
      const b = Buffer.from(bytes);
      const digest = sha256(b);
      manifests.set(`${repo}:${tag}`, { bytes: b, mediaType, digest });
      return digest;
    },
    inject(rule) {
      rules.push(rule);
    },
    async close() {
      for (const s of [registry, storage]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
