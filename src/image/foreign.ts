// Foreign (non-distributable) layers: blobs whose licence keeps them out of
// registries (Windows base images), so their descriptors carry `urls` to fetch
// them from. Docker's rules, which tsrun follows:
// - pull (distribution/pull_v2.go): any layer with urls is fetched from the
//   registry first, then from each URL in turn, with a plain HTTP client (no
//   registry credentials);
// - push (distribution/push_v2.go): a layer of a foreign media type with urls
//   is not uploaded ("Skipped foreign layer") unless the registry is listed in
//   allow-nondistributable-artifacts; the manifest keeps the descriptor as is;
// - save/load (image/tarexport): the layer goes into the archive like any
//   other, and manifest.json's LayerSources keeps its descriptor.
import { MediaType, type Descriptor } from '../oci/image.js';

const NONDISTRIBUTABLE: ReadonlySet<string> = new Set([
  MediaType.DockerForeignLayerGzip,
  MediaType.OciLayerNondistributable,
  MediaType.OciLayerNondistributableGzip,
  MediaType.OciLayerNondistributableZstd,
]);

/** Docker's foreign layer type or one of the OCI non-distributable layer types. */
export function isNondistributableMediaType(mediaType: string): boolean {
  return NONDISTRIBUTABLE.has(mediaType);
}

/** A layer a push leaves out by default: non-distributable, and with somewhere else to get it from. */
export function isForeignLayer(desc: Descriptor): boolean {
  return isNondistributableMediaType(desc.mediaType) && (desc.urls?.length ?? 0) > 0;
}

/** A descriptor URL a pull may use: http or https only (no file:, no ftp:, nothing local). */
export function parseForeignUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol.replace(/:$/, '')} (only http and https)`);
  return url;
}
