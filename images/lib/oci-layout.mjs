// Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) for one
// image: compresses each layer tar, records its diff_id, writes the config and
// the manifest, and tags it in index.json (org.opencontainers.image.ref.name),
// the form `skopeo copy oci:<dir>:<tag>` and `umoci unpack --image <dir>:<tag>` read.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: { none: 'application/vnd.oci.image.layer.v1.tar', gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd' },
};

const sha256 = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

/** Compresses a tar (Buffer) as asked. */
export function compressLayer(tar, compression) {
  if (compression === 'none') return tar;
  if (compression === 'gzip') return gzipSync(tar, { level: 6 });
  if (compression === 'zstd') return execFileSync('zstd', ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 });
  throw new Error(`unknown compression ${compression}`);
}

/**
 * @param {string} outDir  replaced atomically (built beside it, then renamed)
 * @param {{
 *   layers: { tar: Buffer, compression?: 'gzip'|'zstd'|'none', createdBy?: string }[],
 *   config?: Record<string, unknown>,   // the runtime "config" object (Cmd, Env, ...)
 *   tag?: string, architecture?: string, os?: string, created?: string,
 * }} image
 * @returns {{ manifestDigest: string, configDigest: string, layers: { digest: string, diffId: string, mediaType: string, size: number }[] }}
 */
export function writeOciLayout(outDir, image) {
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const blobs = join(tmp, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const putBlob = (buf) => {
    const digest = sha256(buf);
    writeFileSync(join(blobs, digest.slice(7)), buf);
    return { digest, size: buf.length };
  };

  const created = image.created ?? '2024-01-01T00:00:00Z';
  const layers = image.layers.map((l) => {
    const compression = l.compression ?? 'gzip';
    const blob = compressLayer(l.tar, compression);
    const { digest, size } = putBlob(blob);
    return { digest, size, diffId: sha256(l.tar), mediaType: MEDIA.layer[compression], createdBy: l.createdBy ?? 'tsrun images/build.mjs' };
  });
  const config = {
    created,
    architecture: image.architecture ?? 'amd64',
    os: image.os ?? 'linux',
    config: image.config ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: l.createdBy })),
  };
  const configBlob = putBlob(Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBlob = putBlob(Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{
      mediaType: MEDIA.manifest,
      digest: manifestBlob.digest,
      size: manifestBlob.size,
      annotations: { 'org.opencontainers.image.ref.name': image.tag ?? 'latest' },
      platform: { architecture: config.architecture, os: config.os },
    }],
  };
  writeFileSync(join(tmp, 'index.json'), JSON.stringify(index));
  writeFileSync(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  mkdirSync(dirname(outDir), { recursive: true });
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return {
    manifestDigest: manifestBlob.digest,
    configDigest: configBlob.digest,
    layers: layers.map(({ digest, diffId, mediaType, size }) => ({ digest, diffId, mediaType, size })),
  };
}

/** Reads back what writeOciLayout wrote (for tests): the blob path and media type of each layer. */
export function layoutLayers(layoutDir) {
  const read = (p) => JSON.parse(readFileSync(p, 'utf8'));
  const index = read(join(layoutDir, 'index.json'));
  const manifest = read(join(layoutDir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)));
  const config = read(join(layoutDir, 'blobs', 'sha256', manifest.config.digest.slice(7)));
  return manifest.layers.map((l, i) => ({
    path: join(layoutDir, 'blobs', 'sha256', l.digest.slice(7)),
    mediaType: l.mediaType,
    digest: l.digest,
    diffId: config.rootfs.diff_ids[i],
  }));
}
