// Fetching a layer from the URLs of its descriptor, once the registry failed
// to serve it for whatever reason: it does not hold the blob, refused us, kept
// answering 5xx, dropped the connection or sent the wrong bytes (Docker's
// order: registry first, then each URL in turn). These are other hosts: the
// GET carries no Authorization, no registry TLS settings, only the Range of a
// resumed download. Each URL gets the usual retries; a URL that fails is
// passed over for the next, and when none serves the blob the error names the
// layer, what the registry did, and every URL tried.
import { RegistryError } from '../errors.js';
import { parseForeignUrl } from '../image/foreign.js';
import type { Descriptor } from '../oci/image.js';
import { downloadBlob, type DownloadOptions } from './blob-download.js';
import { readBody, request, type HttpResponse } from './http.js';

export interface ForeignFetchOptions extends DownloadOptions {
  timeoutMs: number;
  /** The client's retry loop (backoff, Retry-After, the layer's "Retrying" line). */
  retry: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** A URL as errors show it: without its query, which may hold a signature. */
export function urlForDisplay(url: URL): string {
  return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
}

/** The registry's part of the message: that it lacks the blob (404), or how it failed. */
function registryFailureText(registryFailure: unknown): string {
  if (registryFailure instanceof RegistryError && registryFailure.status === 404) return 'is not in the registry';
  return `could not be fetched from the registry (${(registryFailure as Error)?.message ?? String(registryFailure)})`;
}

/**
 * The error message when neither the registry nor any URL served the layer:
 * its digest, the registry's failure, then each URL with what went wrong.
 */
export function foreignFailureMessage(digest: string, registryFailure: unknown, failures: { url: string; reason: string }[]): string {
  const urls = failures.map((f) => `${f.url} (${f.reason})`).join('; ');
  return `layer ${digest} ${registryFailureText(registryFailure)} and none of its URLs served it: ${urls}`;
}

/**
 * Download `desc` from its URLs after the registry failed with
 * `registryFailure`; throws a RegistryError (caused by that failure, with its
 * status when it had one) when no URL serves it.
 */
export async function fetchForeignBlob(desc: Descriptor, partialPath: string, registryFailure: unknown, opts: ForeignFetchOptions): Promise<void> {
  const failures: { url: string; reason: string }[] = [];
  for (const raw of desc.urls ?? []) {
    let url: URL;
    try {
      url = parseForeignUrl(raw);
    } catch (err) {
      failures.push({ url: raw, reason: (err as Error).message });
      continue;
    }
    const get = (from?: number) => plainGet(url, from, opts);
    try {
      await opts.retry(() => downloadBlob(desc, partialPath, get, urlForDisplay(url), opts));
      return;
    } catch (err) {
      if ((err as Error)?.name === 'AbortError' || opts.signal?.aborted) throw err;
      failures.push({ url: urlForDisplay(url), reason: (err as Error).message });
    }
  }
  const status = registryFailure instanceof RegistryError ? registryFailure.status : undefined;
  const code = registryFailure instanceof RegistryError ? registryFailure.registryCode : undefined;
  throw new RegistryError(foreignFailureMessage(desc.digest, registryFailure, failures), status, code, { cause: registryFailure });
}

/** A GET with nothing of the registry's: answers >= 400 become RegistryErrors with their status. */
async function plainGet(url: URL, from: number | undefined, opts: ForeignFetchOptions): Promise<HttpResponse> {
  const res = await request({
    method: 'GET',
    url,
    headers: from === undefined ? {} : { range: `bytes=${from}-` },
    timeoutMs: opts.timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status < 400) return res;
  await readBody(res, 64 << 10).catch(() => undefined);
  throw new RegistryError(`${res.url.host} answered ${res.status}`, res.status, undefined);
}
