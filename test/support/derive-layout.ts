// Derives an OCI layout from another one: the source's layers plus one more,
// and a patched runtime config (what a Dockerfile's ADD and VOLUME/ENV would
// do to the project's busybox). Returns the new config blob, whose bytes are
// the image's identity (its sha256 is tsrun's image ID).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function deriveOciLayout(
  src: string,
  dst: string,
  tag: string,
  extraLayerTar: Buffer,
  patchRunConfig: (cfg: Record<string, unknown>) => void,
): { configBlob: Buffer } {
  const blobDir = join(dst, 'blobs', 'sha256');
  mkdirSync(blobDir, { recursive: true });
  const readBlob = (digest: string) => readFileSync(join(src, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
  const writeBlob = (b: Buffer) => {
    const d = digestOf(b);
    writeFileSync(join(blobDir, d.slice('sha256:'.length)), b);
    return d;
  };
  const srcIndex = JSON.parse(readFileSync(join(src, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readBlob(srcIndex.manifests[0].digest).toString());
  for (const layer of manifest.layers) writeBlob(readBlob(layer.digest));
  const config = JSON.parse(readBlob(manifest.config.digest).toString());
  const gz = gzipSync(extraLayerTar);
  manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: writeBlob(gz), size: gz.length });
  config.rootfs.diff_ids.push(digestOf(extraLayerTar));
  config.config ??= {};
  patchRunConfig(config.config);
  const configBlob = Buffer.from(JSON.stringify(config));
  manifest.config = { ...manifest.config, digest: writeBlob(configBlob), size: configBlob.length };
  const manifestBlob = Buffer.from(JSON.stringify(manifest));
  writeFileSync(join(dst, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const entry = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: writeBlob(manifestBlob), size: manifestBlob.length, annotations: { 'org.opencontainers.image.ref.name': tag } };
  writeFileSync(join(dst, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  return { configBlob };
}
