// Parsing and validation of image indexes, manifests and configs (OCI and
// Docker schema2), platform matching, and layer chain IDs.
import { InvalidManifestError, NotFoundError } from '../errors.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../oci/image.js';
import { isValidDigest, sha256Digest } from './digest.js';

/** Accept header for manifest requests: every kind we can use, best first. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bareMediaType(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new InvalidManifestError(`${what} is not valid JSON`, { cause: err });
  }
}

function checkPlatform(p: unknown, where: string): Platform {
  if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
    throw new InvalidManifestError(`${where}: platform needs string "os" and "architecture"`);
  }
  if (p.variant !== undefined && typeof p.variant !== 'string') throw new InvalidManifestError(`${where}: platform variant must be a string`);
  return p as unknown as Platform;
}

/** Validates one descriptor: media type, digest, non-negative integer size. */
export function checkDescriptor(d: unknown, where: string): Descriptor {
  if (!isObject(d)) throw new InvalidManifestError(`${where}: descriptor must be an object`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new InvalidManifestError(`${where}: descriptor has no mediaType`);
  if (typeof d.digest !== 'string' || !isValidDigest(d.digest)) {
    throw new InvalidManifestError(`${where}: invalid digest ${JSON.stringify(d.digest)}`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new InvalidManifestError(`${where}: invalid size ${JSON.stringify(d.size)}`);
  }
  if (d.urls !== undefined && (!Array.isArray(d.urls) || d.urls.some((u) => typeof u !== 'string'))) {
    throw new InvalidManifestError(`${where}: urls must be a list of strings`);
  }
  if (d.platform !== undefined) checkPlatform(d.platform, where);
  return d as unknown as Descriptor;
}

/**
 * Parse and validate a manifest or index. The media type comes from the body's
 * "mediaType" field, else the Content-Type, else the shape of the document.
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  const doc = parseJson(bytes, 'manifest');
  if (!isObject(doc)) throw new InvalidManifestError('manifest must be a JSON object');
  const headerType = bareMediaType(contentType);
  const bodyType = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;

  if (doc.schemaVersion === 1 || SCHEMA1_TYPES.has(bodyType ?? '') || SCHEMA1_TYPES.has(headerType ?? '')) {
    throw new InvalidManifestError(
      'Docker image manifest schema 1 is not supported (deprecated since 2017); the image must be pushed again with a current tool',
    );
  }
  if (doc.schemaVersion !== 2) throw new InvalidManifestError(`unsupported manifest schemaVersion ${JSON.stringify(doc.schemaVersion)}`);

  let mediaType = bodyType;
  const known = (t: string | undefined) => t !== undefined && (INDEX_TYPES.has(t) || MANIFEST_TYPES.has(t));
  if (!known(mediaType)) {
    if (mediaType !== undefined) throw new InvalidManifestError(`unsupported manifest media type "${mediaType}"`);
    if (known(headerType)) mediaType = headerType;
    else if (Array.isArray(doc.manifests)) mediaType = MediaType.OciIndex;
    else if (isObject(doc.config) && Array.isArray(doc.layers)) mediaType = MediaType.OciManifest;
    else throw new InvalidManifestError(`cannot tell the manifest type (Content-Type ${JSON.stringify(contentType ?? '')}, no "mediaType" field)`);
  }
  const mt = mediaType as string;

  if (INDEX_TYPES.has(mt)) {
    if (!Array.isArray(doc.manifests)) throw new InvalidManifestError(`${mt}: "manifests" must be a list`);
    doc.manifests.forEach((m, i) => checkDescriptor(m, `index manifests[${i}]`));
    return { kind: 'index', mediaType: mt, index: doc as unknown as ImageIndex };
  }
  if (!isObject(doc.config)) throw new InvalidManifestError(`${mt}: "config" descriptor is missing`);
  checkDescriptor(doc.config, 'manifest config');
  if (!Array.isArray(doc.layers)) throw new InvalidManifestError(`${mt}: "layers" must be a list`);
  doc.layers.forEach((l, i) => checkDescriptor(l, `manifest layers[${i}]`));
  return { kind: 'manifest', mediaType: mt, manifest: doc as unknown as ImageManifest };
}

// ---- platforms ----

const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
  x86: { architecture: '386' },
};
const KNOWN_ARCHS = new Set(['amd64', 'arm64', 'arm', '386', 'ppc64le', 'ppc64', 's390x', 'riscv64', 'mips64le', 'mips64', 'mipsle', 'mips', 'loong64', 'wasm']);
const KNOWN_OSES = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'android', 'ios', 'plan9', 'aix', 'js', 'wasip1']);

/** Canonical form: arm defaults to v7, arm64's "v8" is implied and dropped, "8" becomes "v8". */
function normalisePlatform(os: string, arch: string, variant: string | undefined): Platform {
  const alias = ARCH_ALIASES[arch];
  let architecture = alias?.architecture ?? arch;
  let v = variant ?? alias?.variant;
  if (v !== undefined && /^\d+$/.test(v)) v = `v${v}`;
  if (architecture === 'arm64' && v === 'v8') v = undefined;
  if (architecture === 'arm' && v === undefined) v = 'v7';
  if (architecture === 'amd64' && v === 'v1') v = undefined;
  const p: Platform = { os, architecture };
  if (v !== undefined) p.variant = v;
  return p;
}

/** "linux/arm64/v8", "linux/amd64", "linux", or a bare architecture like "arm64". */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  const bad = (why: string): never => {
    throw new InvalidManifestError(`invalid platform "${s}": ${why} (expected os[/arch[/variant]], e.g. linux/arm64/v8)`);
  };
  if (parts.length > 3 || parts.some((p) => p === '' || !/^[a-z0-9._-]+$/.test(p))) bad('malformed');
  const [first, second, third] = parts as [string, string?, string?];
  if (parts.length === 1) {
    if (KNOWN_OSES.has(first)) return normalisePlatform(first, hostPlatform().architecture, undefined);
    if (KNOWN_ARCHS.has(first) || first in ARCH_ALIASES) return normalisePlatform('linux', first, undefined);
    bad(`"${first}" is neither a known OS nor a known architecture`);
  }
  return normalisePlatform(first, second!, third);
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

/** The platform of this machine, in OCI terms. */
export function hostPlatform(): Platform {
  const archMap: Record<string, string> = {
    x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', riscv64: 'riscv64',
    loong64: 'loong64', mips: 'mips', mipsel: 'mipsle',
  };
  let arch = archMap[process.arch] ?? process.arch;
  if (process.arch === 'ppc64') arch = 'ppc64le'; // Node on Linux only runs on little-endian ppc64
  let variant: string | undefined;
  if (arch === 'arm') {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    variant = v === undefined ? 'v7' : `v${String(v)}`;
  }
  return normalisePlatform(process.platform === 'win32' ? 'windows' : process.platform, arch, variant);
}

function variantNumber(v: string | undefined): number {
  const m = /^v(\d+)$/.exec(v ?? '');
  return m ? Number(m[1]) : NaN;
}

/**
 * 0 = exact match, n > 0 = compatible but n steps older (an arm/v6 image runs
 * on arm/v7), undefined = cannot run.
 */
function platformDistance(candidate: Platform, want: Platform): number | undefined {
  const c = normalisePlatform(candidate.os.toLowerCase(), candidate.architecture.toLowerCase(), candidate.variant?.toLowerCase());
  if (c.os !== want.os || c.architecture !== want.architecture) return undefined;
  if (c.variant === want.variant) return 0;
  if (want.variant === undefined) return undefined;
  // Only numbered variants are backwards compatible (arm v5 < v6 < v7 < v8, amd64 v1..v4).
  const cv = c.variant === undefined ? (c.architecture === 'amd64' ? 1 : c.architecture === 'arm64' ? 8 : NaN) : variantNumber(c.variant);
  const wv = variantNumber(want.variant);
  if (Number.isNaN(cv) || Number.isNaN(wv) || cv > wv) return undefined;
  return wv - cv;
}

/**
 * An entry of an index for a real platform: not an attestation (BuildKit lists
 * those with the platform unknown/unknown and a "vnd.docker.reference.type"
 * annotation).
 */
function hasRealPlatform(d: Descriptor): d is Descriptor & { platform: Platform } {
  if (!d.platform) return false;
  if (d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return false;
  return d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown';
}

/** The manifest of `index` for platform `want`, preferring an exact variant match. */
export function selectManifest(index: ImageIndex, want: Platform): Descriptor {
  const w = normalisedPlatform(want);
  let best: { d: Descriptor; dist: number } | undefined;
  const platforms = index.manifests.filter(hasRealPlatform);
  for (const d of platforms) {
    if (!MANIFEST_TYPES.has(d.mediaType)) continue; // nested indexes and other artifacts
    const dist = platformDistance(d.platform, w);
    if (dist !== undefined && (best === undefined || dist < best.dist)) best = { d, dist };
  }
  if (best) return best.d;
  const available = platforms.map((d) => formatPlatform(d.platform));
  throw new NotFoundError(
    'manifest for platform',
    `${formatPlatform(w)} (the image provides ${available.length ? [...new Set(available)].join(', ') : 'no platforms'})`,
  );
}

/** `p` in canonical form (lower case, aliases resolved, default variants), as platform matching compares them. */
export function normalisedPlatform(p: Platform): Platform {
  return normalisePlatform(p.os.toLowerCase(), p.architecture.toLowerCase(), p.variant?.toLowerCase());
}

/**
 * Whether an image built for `candidate` (a config's os, architecture and
 * variant) answers a request for `want`: the same platform, or an older
 * variant that runs on it (arm/v6 for arm/v7), as an index entry would.
 */
export function platformMatches(candidate: Platform, want: Platform): boolean {
  return platformDistance(candidate, normalisedPlatform(want)) !== undefined;
}

// ---- layers ----

/**
 * Layer media types a pull unpacks (Docker's list): OCI and Docker tar, with
 * gzip or zstd or none, and their foreign/non-distributable forms. Anything
 * else (an artifact's blob, a type from the future) is refused rather than
 * guessed from its bytes.
 */
const LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.OciLayer,
  MediaType.OciLayerGzip,
  MediaType.OciLayerZstd,
  MediaType.OciLayerNondistributable,
  MediaType.OciLayerNondistributableGzip,
  MediaType.OciLayerNondistributableZstd,
  'application/vnd.docker.image.rootfs.diff.tar',
  MediaType.DockerLayerGzip,
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar',
  MediaType.DockerForeignLayerGzip,
]);

export function isLayerMediaType(mediaType: string): boolean {
  return LAYER_TYPES.has(mediaType);
}

// ---- image config ----

export function parseImageConfig(bytes: Buffer): ImageConfig {
  const doc = parseJson(bytes, 'image config');
  if (!isObject(doc)) throw new InvalidManifestError('image config must be a JSON object');
  if (typeof doc.architecture !== 'string' || doc.architecture === '') throw new InvalidManifestError('image config has no "architecture"');
  if (typeof doc.os !== 'string' || doc.os === '') throw new InvalidManifestError('image config has no "os"');
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw new InvalidManifestError('image config "rootfs" must be {"type":"layers","diff_ids":[...]}');
  }
  rootfs.diff_ids.forEach((d, i) => {
    if (typeof d !== 'string' || !isValidDigest(d)) throw new InvalidManifestError(`image config rootfs.diff_ids[${i}] is not a valid digest: ${JSON.stringify(d)}`);
  });
  const cfg = doc.config;
  if (cfg !== undefined && cfg !== null) {
    if (!isObject(cfg)) throw new InvalidManifestError('image config "config" must be an object');
    const stringList = (k: string) => {
      const v = cfg[k];
      if (v !== undefined && v !== null && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) {
        throw new InvalidManifestError(`image config config.${k} must be a list of strings`);
      }
    };
    stringList('Env');
    stringList('Entrypoint');
    stringList('Cmd');
    for (const k of ['User', 'WorkingDir', 'StopSignal']) {
      if (cfg[k] !== undefined && typeof cfg[k] !== 'string') throw new InvalidManifestError(`image config config.${k} must be a string`);
    }
    for (const k of ['ExposedPorts', 'Volumes', 'Labels']) {
      if (cfg[k] !== undefined && cfg[k] !== null && !isObject(cfg[k])) throw new InvalidManifestError(`image config config.${k} must be an object`);
    }
  }
  if (doc.history !== undefined && !Array.isArray(doc.history)) throw new InvalidManifestError('image config "history" must be a list');
  return doc as unknown as ImageConfig;
}

/** ChainID of each prefix of the layer stack (OCI image spec, "Layer ChainID"). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    if (!isValidDigest(diffId)) throw new InvalidManifestError(`invalid diff ID "${diffId}"`);
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : sha256Digest(`${prev} ${diffId}`));
  }
  return out;
}
