// The push side of the OCI distribution API (spec "Pushing blobs", "Pushing
// manifests"), on top of the pull client's auth, retries and transport:
//
//   HEAD  /v2/<name>/blobs/<digest>                         200: nothing to send
//   POST  /v2/<name>/blobs/uploads/?mount=<d>&from=<repo>   201: mounted from another repository;
//                                                           202: an ordinary upload session instead
//   POST  /v2/<name>/blobs/uploads/                         202 + Location: a session
//   PUT   <location>?digest=<d>   (the whole blob)          201: done (monolithic)
//   PATCH <location>  Content-Range: a-b  (one chunk)       202 + Location, Range: 0-b  (chunked ...)
//   PUT   <location>?digest=<d>   (no body)                 201: ... done
//   PUT   /v2/<name>/manifests/<tag>                        201 + Docker-Content-Digest
//
// A Location may be absolute or relative to the URL that answered; it may
// carry the session's state in its query, so every request goes to the last
// Location exactly as given (plus digest= for the final PUT). Credentials go
// only to the registry's own host. Mirrors are never used for pushes.
//
// A failed upload is started again from a fresh session (the old one is
// cancelled with a DELETE, best effort): 429, 5xx, broken connections, a
// session the registry forgot (BLOB_UPLOAD_UNKNOWN) or a chunk it did not
// take (416, a Range that is not what was sent).
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { DigestMismatchError, RegistryError, UsageError } from '../errors.js';
import { sha256Digest } from '../image/digest.js';
import type { Reference } from '../image/reference.js';
import { pullScope } from './auth.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import type { RequestContext } from './error-answers.js';
import { allowsNondistributable, type Endpoint } from './hosts.js';
import { discard, type HttpResponse, type StreamBody } from './http.js';

/** Blobs up to this size go in one PUT; bigger ones in PATCH chunks of this size. */
export const DEFAULT_UPLOAD_CHUNK_SIZE = 32 << 20;

export interface RegistryPushClientOptions extends RegistryClientOptions {
  /** Chunk size for blob uploads; blobs up to it are sent with one monolithic PUT (default $TSRUN_PUSH_CHUNK_SIZE, else 32 MiB). */
  chunkSize?: number;
}

/** $TSRUN_PUSH_CHUNK_SIZE (bytes, or with a k/m/g suffix), else 32 MiB. */
export function defaultChunkSize(env: string | undefined = process.env.TSRUN_PUSH_CHUNK_SIZE): number {
  if (env === undefined || env.trim() === '') return DEFAULT_UPLOAD_CHUNK_SIZE;
  const m = /^\s*(\d+)\s*([kmg]?)i?b?\s*$/i.exec(env);
  const n = m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`TSRUN_PUSH_CHUNK_SIZE=${JSON.stringify(env)} is not a size (bytes, or a number with k, m or g)`);
  return n;
}

/** Where the bytes of a blob come from. */
export type BlobSource = { path: string } | { bytes: Buffer };

export interface BlobUploadOptions {
  /** Bytes sent so far (of this attempt: a retried upload starts again at 0). */
  onProgress?: (done: number, total: number) => void;
  /** Reports retries of this blob (instead of the client's onRetry). */
  onRetry?: RegistryClientOptions['onRetry'];
  signal?: AbortSignal;
  /** A session already open for this blob (what a mount that did not happen left). */
  session?: URL;
}

export type MountResult = { mounted: true } | { mounted: false; session?: URL };

/** The token scope a push needs: `repository:<path>:pull,push`. */
export function pushScope(repositoryPath: string): string {
  return `repository:${repositoryPath}:pull,push`;
}

/** The scopes of a cross-repository mount: push to the target, pull from the source (space-separated). */
export function mountScope(repositoryPath: string, fromPath: string): string {
  return `${pushScope(repositoryPath)} ${pullScope(fromPath)}`;
}

/**
 * The URL an upload continues at: the answer's Location, absolute or
 * relative to the URL that answered (RFC 9110 §10.2.2). Query and all are kept.
 */
export function uploadLocation(location: string | string[] | undefined, answered: URL, status: number): URL {
  const value = (Array.isArray(location) ? location[0] : location)?.trim();
  if (!value) throw new RegistryError(`${answered.host} answered ${status} to an upload request without a Location header`, status, 'BLOB_UPLOAD_INVALID');
  try {
    return new URL(value, answered);
  } catch (err) {
    throw new RegistryError(`${answered.host} sent an unusable upload Location ${JSON.stringify(value)}`, status, 'BLOB_UPLOAD_INVALID', { cause: err });
  }
}

/** The session URL with `digest=<d>` added to whatever query it carries (the final PUT). */
export function completionUrl(session: URL, digest: string): URL {
  const url = new URL(session.href);
  const param = `digest=${encodeURIComponent(digest)}`;
  url.search = url.search.length > 1 ? `${url.search}&${param}` : `?${param}`;
  return url;
}

/** The URL path of a mount request (spec: ?mount=<digest>&from=<repository>). */
export function mountPath(root: string, repositoryPath: string, digest: string, fromPath: string): string {
  return `${root}/${repositoryPath}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromPath)}`;
}

/** Byte ranges [start, end] (inclusive, as Content-Range writes them) of the chunks of a blob. */
export function uploadChunks(size: number, chunkSize: number): { start: number; end: number }[] {
  const step = Math.max(1, Math.floor(chunkSize));
  const out: { start: number; end: number }[] = [];
  for (let start = 0; start < size; start += step) out.push({ start, end: Math.min(size, start + step) - 1 });
  return out;
}

/** The last byte a registry says it holds, from a `Range: 0-<end>` answer (some write `bytes=0-<end>`); undefined if absent or odd. */
export function rangeEnd(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  const m = /^\s*(?:bytes=)?0-(\d+)\s*$/.exec(v ?? '');
  return m ? Number(m[1]) : undefined;
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Worth starting the upload over: the session was lost, or a chunk was not taken. */
function restartable(err: unknown): boolean {
  return err instanceof RegistryError && (err.registryCode === 'BLOB_UPLOAD_UNKNOWN' || err.status === 416);
}

export class RegistryPushClient extends RegistryClient {
  private readonly chunkSize: number;

  constructor(opts: RegistryPushClientOptions = {}) {
    super(opts);
    this.chunkSize = Math.max(1, opts.chunkSize ?? defaultChunkSize());
  }

  private endpoint(ref: Reference): Endpoint {
    const [ep] = this.endpointList(ref.domain, 'push');
    if (!ep) throw new RegistryError(`no endpoint configured for ${ref.domain}`, undefined, undefined);
    return ep;
  }

  private pushContext(ref: Reference, what: RequestContext['what'], target?: string): RequestContext {
    return { ...this.context(ref, what, target), push: true };
  }

  /** Whether foreign layers are uploaded to this registry (allowNondistributableArtifacts in the registries config). */
  allowsNondistributable(ref: Reference): boolean {
    return allowsNondistributable(this.hosts, ref.domain);
  }

  /** Whether the repository already has the blob (HEAD). */
  async blobExists(ref: Reference, digest: string, opts: { onRetry?: RegistryClientOptions['onRetry']; signal?: AbortSignal } = {}): Promise<boolean> {
    const ep = this.endpoint(ref);
    return this.retrying(opts.signal, async () => {
      try {
        const res = await this.send(ep, {
          method: 'HEAD', path: `${ep.root}/${ref.path}/blobs/${digest}`, scope: pushScope(ref.path),
          ctx: this.pushContext(ref, 'blob', digest), ...(opts.signal ? { signal: opts.signal } : {}),
        });
        discard(res);
        return true;
      } catch (err) {
        if (err instanceof RegistryError && err.status === 404) return false;
        throw err;
      }
    }, opts.onRetry ? { onRetry: opts.onRetry } : {});
  }

  /**
   * Ask the registry to link a blob of repository `fromPath` (same registry)
   * into this one. Not mounted: the registry may have opened an ordinary
   * upload session instead (returned for uploadBlob), or refused the mount
   * (no pull access to the source, say): the caller uploads.
   */
  async mountBlob(ref: Reference, digest: string, fromPath: string, opts: { onRetry?: RegistryClientOptions['onRetry']; signal?: AbortSignal } = {}): Promise<MountResult> {
    const ep = this.endpoint(ref);
    try {
      return await this.retrying(opts.signal, async () => {
        const res = await this.send(ep, {
          method: 'POST', path: mountPath(ep.root, ref.path, digest, fromPath), body: Buffer.alloc(0), scope: mountScope(ref.path, fromPath),
          ctx: this.pushContext(ref, 'upload', digest), ...(opts.signal ? { signal: opts.signal } : {}),
        });
        discard(res);
        if (res.status === 201) return { mounted: true } as const;
        if (res.status === 202 && header(res, 'location')) return { mounted: false, session: uploadLocation(res.headers.location, res.url, res.status) } as const;
        return { mounted: false } as const;
      }, opts.onRetry ? { onRetry: opts.onRetry } : {});
    } catch (err) {
      if (opts.signal?.aborted || !(err instanceof RegistryError)) throw err;
      return { mounted: false };
    }
  }

  /**
   * Upload a blob: one PUT when it fits in a chunk, else PATCH chunks and a
   * final PUT. Any failure worth another try starts over with a new session.
   */
  async uploadBlob(ref: Reference, desc: { digest: string; size: number }, source: BlobSource, opts: BlobUploadOptions = {}): Promise<void> {
    const ep = this.endpoint(ref);
    const scope = pushScope(ref.path);
    const ctx = this.pushContext(ref, 'upload', desc.digest);
    const signal = opts.signal ? { signal: opts.signal } : {};
    let given = opts.session;
    await this.retrying(opts.signal, async () => {
      let session: URL;
      let minChunk = 0;
      if (given) {
        session = given;
        given = undefined; // a retry opens its own
      } else {
        const res = await this.send(ep, { method: 'POST', path: `${ep.root}/${ref.path}/blobs/uploads/`, body: Buffer.alloc(0), scope, ctx, ...signal });
        discard(res);
        session = uploadLocation(res.headers.location, res.url, res.status);
        minChunk = Number(header(res, 'oci-chunk-min-length')) || 0;
      }
      // Bytes of the blob read into requests: a chunk's start plus what of it went out.
      const progress = (done: number) => opts.onProgress?.(done, desc.size);
      progress(0);
      try {
        const chunkSize = Math.max(this.chunkSize, minChunk);
        let res: HttpResponse;
        if (desc.size <= chunkSize) {
          res = await this.send(ep, {
            method: 'PUT', path: completionUrl(session, desc.digest).href, scope, ctx, ...signal,
            headers: { 'content-type': 'application/octet-stream' },
            body: streamBody(source, 0, desc.size - 1, progress),
          });
        } else {
          for (const { start, end } of uploadChunks(desc.size, chunkSize)) {
            const patched = await this.send(ep, {
              method: 'PATCH', path: session.href, scope, ctx, ...signal,
              headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}` },
              body: streamBody(source, start, end, progress),
            });
            discard(patched);
            const held = rangeEnd(patched.headers.range);
            if (held !== undefined && held !== end) {
              throw new RegistryError(`${patched.url.host} holds bytes 0-${held} of ${desc.digest} after a chunk that ended at ${end}`, 416, 'BLOB_UPLOAD_INVALID');
            }
            if (header(patched, 'location')) session = uploadLocation(patched.headers.location, patched.url, patched.status);
          }
          res = await this.send(ep, { method: 'PUT', path: completionUrl(session, desc.digest).href, body: Buffer.alloc(0), scope, ctx, ...signal });
        }
        discard(res);
        const said = header(res, 'docker-content-digest');
        if (said && said !== desc.digest) throw new DigestMismatchError(desc.digest, said, `blob uploaded to ${ctx.repository} (Docker-Content-Digest)`);
      } catch (err) {
        await this.cancel(ep, session, scope, ctx);
        throw err;
      }
    }, { alsoRetry: restartable, ...(opts.onRetry ? { onRetry: opts.onRetry } : {}) });
  }

  /** Put a manifest under a tag (or its digest) as the exact bytes given; returns its digest. */
  async putManifest(ref: Reference, tagOrDigest: string, bytes: Buffer, mediaType: string, opts: { onRetry?: RegistryClientOptions['onRetry']; signal?: AbortSignal } = {}): Promise<string> {
    const ep = this.endpoint(ref);
    const digest = sha256Digest(bytes);
    return this.retrying(opts.signal, async () => {
      const res = await this.send(ep, {
        method: 'PUT', path: `${ep.root}/${ref.path}/manifests/${tagOrDigest}`, scope: pushScope(ref.path),
        ctx: this.pushContext(ref, 'manifest', tagOrDigest), headers: { 'content-type': mediaType }, body: bytes,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      discard(res);
      const said = header(res, 'docker-content-digest');
      if (said?.startsWith('sha256:') && said !== digest) throw new DigestMismatchError(digest, said, `manifest pushed to ${this.context(ref, 'manifest').repository}:${tagOrDigest} (Docker-Content-Digest)`);
      return digest;
    }, opts.onRetry ? { onRetry: opts.onRetry } : {});
  }

  /** Best effort: give up an upload session (one a mount attempt opened and nobody will use). */
  async cancelUpload(ref: Reference, session: URL): Promise<void> {
    await this.cancel(this.endpoint(ref), session, pushScope(ref.path), this.pushContext(ref, 'upload'));
  }

  /** Best effort: tell the registry an abandoned session can go. */
  private async cancel(ep: Endpoint, session: URL, scope: string, ctx: RequestContext): Promise<void> {
    try {
      discard(await this.send(ep, { method: 'DELETE', path: session.href, scope, ctx }));
    } catch {
      // The session expires on its own.
    }
  }
}

/**
 * The bytes [start, end] of a blob as a request body; `progress` gets the
 * offset in the blob reached (a body opened again, for a redirect or a second
 * auth round, counts from `start` again).
 */
function streamBody(source: BlobSource, start: number, end: number, progress: (done: number) => void): StreamBody {
  const length = end - start + 1;
  return {
    length,
    open: () => {
      let at = start;
      const counted = new Transform({
        transform(chunk: Buffer, _enc, done) {
          at += chunk.length;
          progress(at);
          done(null, chunk);
        },
      });
      const raw: Readable = 'path' in source
        ? length > 0 ? createReadStream(source.path, { start, end }) : Readable.from([])
        : Readable.from(length > 0 ? [source.bytes.subarray(start, end + 1)] : []);
      raw.once('error', (err) => counted.destroy(err));
      return raw.pipe(counted);
    },
  };
}
