// Builds tiny OCI image layouts for tests, with tar layers written here
// (no dependency on image recipes or the network).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  path: string;
  /** File content; omit for a directory (path ending in "/"). */
  content?: string | Buffer;
  mode?: number;
}

function header(name: string, size: number, mode: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar test helper: name too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write(mode.toString(8).padStart(7, '0') + '\0', 100, 8, 'ascii');
  h.write('0000000\0', 108, 8, 'ascii'); // uid
  h.write('0000000\0', 116, 8, 'ascii'); // gid
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
  h.write('00000000000\0', 136, 12, 'ascii'); // mtime
  h.fill(' ', 148, 156); // checksum placeholder
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0' + '00', 257, 8, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** An uncompressed ustar archive of `entries`. */
export function tarOf(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.content === undefined) {
      parts.push(header(e.path.endsWith('/') ? e.path : `${e.path}/`, 0, e.mode ?? 0o755, '5'));
      continue;
    }
    const data = Buffer.from(e.content);
    parts.push(header(e.path, data.length, e.mode ?? 0o644, '0'), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface BuiltLayout {
  dir: string;
  tag: string;
  manifestDigest: string;
  manifest: Buffer;
  configDigest: string;
  config: Buffer;
  layers: { digest: string; diffId: string; size: number; blob: Buffer }[];
}

/**
 * Write an OCI layout at `dir` holding one image tagged `tag` whose layers are
 * the given uncompressed tars (stored gzip-compressed).
 */
export function buildOciLayout(dir: string, tag: string, layerTars: Buffer[], runConfig: Record<string, unknown> = { Cmd: ['/bin/sh'] }): BuiltLayout {
  const blobsDir = join(dir, 'blobs', 'sha256');
  mkdirSync(blobsDir, { recursive: true });
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(join(blobsDir, d.slice(7)), b);
    return d;
  };
  const layers = layerTars.map((tar) => {
    const blob = gzipSync(tar);
    return { digest: put(blob), diffId: sha256(tar), size: blob.length, blob };
  });
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: runConfig,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created_by: 'tsrun test' })),
  }));
  const configDigest = put(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  }));
  const manifestDigest = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: manifestDigest,
      size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': tag },
    }],
  }));
  return { dir, tag, manifestDigest, manifest, configDigest, config, layers };
}
