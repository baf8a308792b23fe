// Fetching a foreign layer from the URLs of its descriptor, once the registry
// said it does not hold the blob (Docker's order: registry first, then each
// URL in turn). These are other hosts: the GET carries no Authorization, no
// registry TLS settings, only the Range of a resumed download. Each URL gets
// the usual retries; a URL that fails is passed over for the next, and when
// none serves the blob the error names the layer and every URL tried.
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

/** The error message when no URL served the layer: its digest, then each URL with what went wrong. */
export function foreignFailureMessage(digest: string, failures: { url: string; reason: string }[]): string {
  return `layer ${digest} is not in the registry and none of its URLs served it: ${failures.map((f) => `${f.url} (${f.reason})`).join('; ')}`;
}

export async function fetchForeignBlob(desc: Descriptor, partialPath: string, registryError: RegistryError, opts: ForeignFetchOptions): Promise<void> {
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
  throw new RegistryError(foreignFailureMessage(desc.digest, failures), registryError.status, registryError.registryCode, { cause: registryError });
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
