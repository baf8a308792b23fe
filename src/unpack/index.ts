// unpackLayer: one layer blob -> one directory tree in overlayfs form, with
// the diffId computed on the way (sha256 of the uncompressed tar stream).
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { DigestMismatchError, StoreError, TsrunError } from '../errors.js';
import { streamUncompressed } from './decompress.js';
import { LayerExtractor } from './extract.js';
import type { Growth } from './growing-file.js';
import { NodeWriter } from './node-writer.js';
import { TarParser } from './tar.js';

export interface UnpackResult {
  diffId: string;
  /** Uncompressed tar bytes. */
  size: number;
}

export interface UnpackOptions {
  expectedDiffId?: string;
  onProgress?: (compressedBytesRead: number, totalCompressed: number) => void;
  /** The blob is still being written, up to `size` bytes: unpack it as it arrives. */
  growing?: { size: number; growth: Growth };
}

/**
 * Extracts the layer at blobPath (gzip, zstd or plain tar; detected from the
 * media type and the magic bytes) into destDir, which must not exist yet.
 * Whiteouts become overlayfs whiteouts (char 0/0) and opaque dirs get
 * trusted.overlay.opaque=y. On any error destDir is removed and a typed error
 * thrown: UnsafeArchiveError (naming the entry), ArchiveError,
 * DigestMismatchError, or StoreError for local filesystem failures.
 */
export async function unpackLayer(blobPath: string, mediaType: string, destDir: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  try {
    mkdirSync(dirname(destDir), { recursive: true });
    mkdirSync(destDir, 0o755);
  } catch (err) {
    // Not ours to remove when it already existed.
    throw new StoreError(`cannot create the layer directory ${destDir}: ${(err as Error).message}`, { cause: err });
  }
  // Files, symlinks and directories are made on the writer's one thread, in order: this thread
  // parses and hashes while zlib inflates on libuv's pool. More threads were slower here: ext4
  // creates then contend in its inode allocator (perf: recently_deleted).
  const writer = new NodeWriter();
  const extractor = new LayerExtractor(destDir, writer);
  try {
    const parser = new TarParser(extractor);
    const hash = createHash('sha256');
    let size = 0;
    await streamUncompressed(
      blobPath,
      mediaType,
      (chunk) => {
        hash.update(chunk);
        size += chunk.length;
        parser.write(chunk);
      },
      opts.onProgress,
      opts.growing,
    );
    parser.end();
    extractor.finish();
    const diffId = `sha256:${hash.digest('hex')}`;
    if (opts.expectedDiffId !== undefined && opts.expectedDiffId !== diffId)
      throw new DigestMismatchError(opts.expectedDiffId, diffId, `uncompressed layer ${blobPath} (diffId)`);
    return { diffId, size };
  } catch (err) {
    extractor.abort();
    rmSync(destDir, { recursive: true, force: true });
    if (err instanceof TsrunError) throw err;
    throw new StoreError(`cannot unpack layer ${blobPath} into ${destDir}: ${(err as Error).message}`, { cause: err });
  } finally {
    writer.close();
  }
}
