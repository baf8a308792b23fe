// A verified, resumable blob download into a partial file, whatever serves the
// bytes: the registry's blob endpoint (client.ts) or a foreign layer's URL
// (foreign-fetch.ts). The caller supplies the GET; this module does the Range
// resume, the hashing as the bytes stream, and the size and digest checks.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, rmSync, statSync, truncateSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestMismatchError, RegistryError, RegistryUnreachableError } from '../errors.js';
import { digestAlgorithm } from '../image/digest.js';
import type { Descriptor } from '../oci/image.js';
import { bodyError, discard, type HttpResponse } from './http.js';

/**
 * One GET of the blob, from byte `from` on when given (a `Range: bytes=N-`
 * request). Answers >= 400 must be thrown as RegistryErrors with their status
 * (a 416 makes the download start over from zero).
 */
export type BlobGet = (from?: number) => Promise<HttpResponse>;

export interface DownloadOptions {
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

/**
 * Download `desc` into `partialPath`, resuming from its current size. Verifies
 * size and digest; on a mismatch deletes the partial file and throws
 * DigestMismatchError. `source` names where the bytes came from in errors.
 */
export async function downloadBlob(desc: Descriptor, partialPath: string, get: BlobGet, source: string, opts: DownloadOptions = {}): Promise<void> {
  const algorithm = digestAlgorithm(desc.digest);
  closeSync(openSync(partialPath, 'a')); // exists even for an empty blob
  let have = fileSize(partialPath);
  if (have > desc.size) {
    truncateSync(partialPath, 0);
    have = 0;
  }
  // The bytes already on disk count towards the digest: hash them first.
  let hash = createHash(algorithm);
  if (have > 0) await hashFile(partialPath, hash, opts.signal);
  if (have < desc.size) {
    let res: HttpResponse | undefined;
    if (have > 0) {
      try {
        res = await get(have);
      } catch (err) {
        if (!(err instanceof RegistryError && err.status === 416)) throw err;
      }
      const range = res?.status === 206 ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res, 'content-range') ?? '') : null;
      if (res && res.status === 206 && range && Number(range[1]) === have) {
        // Resuming: append after what we have.
      } else if (res && res.status === 200) {
        // The server ignored Range and sends the whole blob: start over.
        truncateSync(partialPath, 0);
        have = 0;
        hash = createHash(algorithm);
      } else {
        // 416, or a 206 for some other range: start over with a plain GET.
        if (res) discard(res);
        res = undefined;
        truncateSync(partialPath, 0);
        have = 0;
        hash = createHash(algorithm);
      }
    }
    res ??= await get();
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        if (have + chunk.length > desc.size) {
          done(new DigestMismatchError(`${desc.size} bytes`, `more than ${desc.size} bytes`, `size of blob ${desc.digest} of ${source}`));
          return;
        }
        have += chunk.length;
        hash.update(chunk);
        opts.onProgress?.(have, desc.size);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res.body, counted, createWriteStream(partialPath, { flags: 'a' }), opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      if (err instanceof DigestMismatchError) {
        rmSync(partialPath, { force: true });
        throw err;
      }
      if ((err as Error)?.name === 'AbortError' || opts.signal?.aborted) throw err;
      throw bodyError(res.url, err);
    }
    if (have < desc.size) {
      // A clean end of stream short of the size: the server or a proxy cut it.
      throw new RegistryUnreachableError(`download of ${desc.digest} from ${res.url.host} ended after ${have} of ${desc.size} bytes`, 'TRUNCATED');
    }
  }
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== desc.digest) {
    rmSync(partialPath, { force: true });
    throw new DigestMismatchError(desc.digest, actual, `blob of ${source}`);
  }
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function hashFile(path: string, hash: Hash, signal?: AbortSignal): Promise<void> {
  const stream = createReadStream(path, signal ? { signal } : {});
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
}
