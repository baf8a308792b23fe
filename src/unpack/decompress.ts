// Turns a layer blob into a stream of uncompressed tar bytes: gzip through
// node:zlib, zstd through a `zstd -dc` child (as fast as native bindings,
// which npm cannot install offline), plain tar as is.
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ArchiveError, StoreError } from '../errors.js';
import { readGrowingFile, type Growth } from './growing-file.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** What the media type claims; undefined when it does not say (unknown or foreign types). */
export function compressionOfMediaType(mediaType: string): Compression | undefined {
  const mt = mediaType.toLowerCase();
  if (mt.endsWith('+gzip') || mt.endsWith('.gzip') || mt.endsWith('tar.gz')) return 'gzip';
  if (mt.endsWith('+zstd') || mt.endsWith('.zstd')) return 'zstd';
  if (mt.endsWith('.tar') || mt.endsWith('+tar')) return 'none';
  return undefined;
}

/** What the first bytes say. */
export function compressionOfMagic(head: Buffer): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return undefined;
}

/**
 * Decides the decompressor. The magic bytes win over the media type (some
 * registries and tools label layers wrongly), but a blob labelled compressed
 * whose bytes are not must not be read as a tar.
 */
export function chooseCompression(mediaType: string, head: Buffer, what: string): Compression {
  const magic = compressionOfMagic(head);
  if (magic) return magic;
  const claimed = compressionOfMediaType(mediaType);
  if (claimed === 'gzip' || claimed === 'zstd')
    throw new ArchiveError(`${what}: media type ${mediaType} says ${claimed}, but the data is not ${claimed}`);
  return 'none';
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    const n = readSync(fd, buf, 0, 4, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The first bytes of a stream (for its magic), and the stream with them put back. */
async function peekHead(chunks: AsyncGenerator<Buffer>): Promise<[Buffer, AsyncIterable<Buffer>]> {
  const seen: Buffer[] = [];
  let have = 0;
  while (have < 4) {
    const { value, done } = await chunks.next();
    if (done) break;
    seen.push(value);
    have += value.length;
  }
  const head = Buffer.concat(seen).subarray(0, 4);
  async function* replay() {
    yield* seen;
    yield* chunks;
  }
  return [head, replay()];
}

const READ_CHUNK = 1 << 20;
const OUT_CHUNK = 256 * 1024;

/**
 * Streams the uncompressed bytes of `blobPath` into `consume`, one chunk at a
 * time (awaited: that is the back-pressure). Resolves when all is consumed and
 * the decompressor finished cleanly.
 */
export async function streamUncompressed(
  blobPath: string,
  mediaType: string,
  consume: (chunk: Buffer) => void,
  onProgress?: (compressedBytesRead: number, totalCompressed: number) => void,
  growing?: { size: number; growth: Growth },
): Promise<void> {
  let total: number;
  let head: Buffer;
  let source: AsyncIterable<Buffer> & { destroy?: () => void };
  try {
    if (growing) {
      total = growing.size;
      [head, source] = await peekHead(readGrowingFile(blobPath, growing.size, growing.growth));
    } else {
      total = statSync(blobPath).size;
      head = readHead(blobPath);
      source = createReadStream(blobPath, { highWaterMark: READ_CHUNK });
    }
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new StoreError(`cannot read layer blob ${blobPath}: ${(err as Error).message}`, { cause: err });
  }
  const compression = chooseCompression(mediaType, head, `layer ${blobPath}`);

  let read = 0;
  const counted = async function* (src: AsyncIterable<Buffer>) {
    for await (const chunk of src) {
      read += chunk.length;
      onProgress?.(read, total);
      yield chunk;
    }
  };
  const sink = async (src: AsyncIterable<Buffer>) => {
    for await (const chunk of src) consume(chunk);
  };

  if (compression === 'none') {
    await pipeline(source, counted, sink);
    return;
  }
  if (compression === 'gzip') {
    try {
      await pipeline(source, counted, createGunzip({ chunkSize: OUT_CHUNK }), sink);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new ArchiveError(`layer ${blobPath}: corrupt gzip data: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    return;
  }

  const child = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new ArchiveError(`cannot run zstd to decompress layer ${blobPath}: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => resolve(signal ? -1 : code));
  });
  exited.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
  // The feeding side may fail with EPIPE when zstd stops early on corrupt data: its exit status tells why.
  const feeding = pipeline(source, counted, child.stdin).then(
    () => undefined,
    (err: NodeJS.ErrnoException) => err,
  );
  try {
    await pipeline(child.stdout, sink);
  } catch (err) {
    child.kill('SIGKILL');
    source.destroy?.();
    await exited; // throws when zstd could not be run at all: the better message
    throw err;
  }
  const feedError = await feeding;
  const code = await exited;
  if (code !== 0) throw new ArchiveError(`layer ${blobPath}: zstd -dc failed (exit ${code}): ${stderr.trim() || 'no message'}`);
  if (feedError && feedError.code !== 'EPIPE') throw new StoreError(`cannot read layer blob ${blobPath}: ${feedError.message}`, { cause: feedError });
}
