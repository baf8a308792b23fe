// Pulling an image: registry -> content store -> unpacked layers -> image record.
//
// Order of work, and why:
// - Resolve the reference with a manifest HEAD (cheap, not rate-limited on the
//   Hub); anything already in the content store is read locally, so pulling an
//   image we have costs one request.
// - Layers download in parallel (3, as Docker) into stable partial files under
//   the per-blob lock: a second process pulling the same image waits on the lock
//   ("Waiting") and then finds the blob; a killed pull resumes from the partial.
// - Each layer is unpacked while its own download runs, from the partial file
//   as it grows (decompression and file creation, not transfer, are a pull's
//   cost). The layer appears only once the blob's digest and the layer's diffID
//   both checked out. Should that early unpack fail in the layer's own bytes
//   (a diffID mismatch, a bad archive) when it read exactly the verified blob,
//   that is the error: the same bytes would fail the same way. Otherwise (it
//   may have read a partial that a retry rewrote) the layer is unpacked again
//   from the verified blob. Layers live in separate directories (overlay
//   stacks them), so order does not matter.
// - Manifests and config are checked (media types, platform, config shape)
//   before any of them is stored; errors name the image and, for a layer, its
//   short ID.
// - The image record and names are written last: an image is visible only when
//   all of it is on disk. The whole pull holds the store's shared lease so a
//   concurrent rmi/prune cannot sweep blobs we stored but have not yet recorded.
import { closeSync, openSync, statSync } from 'node:fs';
import { ArchiveError, DigestMismatchError, InvalidManifestError, StoreError, TsrunError, UnsafeArchiveError } from '../errors.js';
import { digestHex } from '../image/digest.js';
import {
  chainIds, formatPlatform, hostPlatform, isLayerMediaType, normalisedPlatform, parseImageConfig, parseManifest, parsePlatform, platformMatches,
  selectManifest, type ParsedManifest,
} from '../image/manifest.js';
import { familiarString, namesNoTagOrDigest, parseReference, referenceString, repositoryName, type Reference } from '../image/reference.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/image.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import { Store, nameKey, type ImageLayer, type ImageRecord } from '../store/index.js';
import type { Growth } from '../unpack/growing-file.js';
import { unpackLayer } from '../unpack/index.js';
import { layout, type EngineContext } from './context.js';
import { throttled } from '../util/throttle.js';

export type LayerStatus =
  | 'Pulling fs layer'
  | 'Waiting'
  | 'Downloading'
  | 'Verifying Checksum'
  | 'Download complete'
  | 'Extracting'
  | 'Pull complete'
  | 'Already exists'
  | 'Retrying';

export type PullEvent =
  /** Before any network traffic. `defaultTag`: the input named no tag ("Using default tag: latest"). */
  | { type: 'start'; input: string; reference: string; familiar: string; path: string; tag?: string; digest?: string; defaultTag: boolean }
  /** One layer's progress; `id` is the 12-hex short digest of its blob. */
  | { type: 'layer'; id: string; status: LayerStatus; current?: number; total?: number; retryInSeconds?: number }
  /** A manifest or config request is being retried. */
  | { type: 'retry'; attempt: number; retryInSeconds: number; reason: string }
  | { type: 'done'; digest: string; upToDate: boolean; reference: string; familiar: string; image: ImageRecord };

/** The part of RegistryClient a pull uses (tests inject fakes). */
export interface PullRegistry {
  resolve(ref: Reference): Promise<{ digest: string; mediaType: string; size: number }>;
  getManifest(ref: Reference, digestOrTag?: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }>;
  getBlob(ref: Reference, desc: Descriptor): Promise<Buffer>;
  fetchBlob(
    ref: Reference,
    desc: Descriptor,
    partialPath: string,
    opts?: { onProgress?: (doneBytes: number, totalBytes: number) => void; signal?: AbortSignal },
  ): Promise<void>;
}

export type UnpackFn = (
  blobPath: string,
  mediaType: string,
  destDir: string,
  opts?: {
    expectedDiffId?: string;
    onProgress?: (done: number, total: number) => void;
    /** blobPath is still being downloaded, up to `size` bytes: read it as it grows. */
    growing?: { size: number; growth: Growth };
  },
) => Promise<{ diffId: string; size: number }>;

export interface PullDeps {
  /** Make a registry client (one per layer, so retries are reported on the right line). */
  makeRegistry?: (opts: RegistryClientOptions) => PullRegistry;
  unpack?: UnpackFn;
}

export interface PullOptions {
  /** "linux/arm64/v8"; default: this machine's platform. */
  platform?: string;
  onEvent?: (e: PullEvent) => void;
  /** Accepted for the CLI's -q; events are still emitted. */
  quiet?: boolean;
  /** Parallel layer downloads (default 3). */
  concurrency?: number;
  registryOptions?: RegistryClientOptions;
  deps?: PullDeps;
}

export function openStore(ctx: EngineContext): Store {
  const l = layout(ctx);
  return new Store({ content: l.content, layers: l.layers, metadata: l.metadata });
}

/** The 12-hex short ID Docker shows for a layer. */
export function shortLayerId(digest: string): string {
  return digestHex(digest).slice(0, 12);
}

/**
 * Runs the manifest and config stage; a document that does not follow the
 * spec is reported with the image it belongs to (the parser knows only bytes).
 */
async function withImageContext<T>(ref: Reference, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof InvalidManifestError) throw new InvalidManifestError(`${familiarString(ref)}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Docker's refusal of a single-platform image that is not the platform asked for. */
function checkRequestedPlatform(ref: Reference, config: ImageConfig, want: Platform): void {
  const actual: Platform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  if (platformMatches(actual, want)) return;
  throw new TsrunError(
    'PLATFORM_MISMATCH',
    `image with reference ${referenceString(ref)} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(normalisedPlatform(actual))}`,
  );
}

/**
 * A layer's unpack error as the user should see it: naming the image and the
 * layer's short ID, never the store path the bytes were read from.
 */
function layerError(ref: Reference, layer: ImageLayer, blobPaths: string[], err: unknown): unknown {
  const where = `${familiarString(ref)}: layer ${shortLayerId(layer.digest)}`;
  if (err instanceof DigestMismatchError && err.expected === layer.diffId) {
    return new DigestMismatchError(err.expected, err.actual, `${where}: uncompressed content (diffID)`);
  }
  if (err instanceof ArchiveError || err instanceof UnsafeArchiveError) {
    let message = err.message;
    for (const p of blobPaths) message = message.split(`layer ${p}`).join('the blob').split(p).join('the blob');
    return new ArchiveError(`${where}: ${message}`, { cause: err.cause });
  }
  return err; // local failures (disk full, permissions) keep their paths: they are about this machine
}

/** Errors in the layer's bytes themselves: unpacking the same bytes again gives the same error. */
function isContentError(err: unknown): boolean {
  return err instanceof DigestMismatchError || err instanceof ArchiveError || err instanceof UnsafeArchiveError;
}



/** The download's side of a blob that is unpacked while it arrives. */
class DownloadGrowth implements Growth {
  private waiters: (() => void)[] = [];
  private finished = false;
  private error: unknown;

  next(): Promise<void> {
    return new Promise<void>((res) => this.waiters.push(res));
  }

  state(): { finished: boolean; error?: unknown } {
    return { finished: this.finished, error: this.error };
  }

  /** More bytes were written. */
  grew(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  settle(error?: unknown): void {
    this.finished = true;
    this.error = error;
    this.grew();
  }
}

/** A counting semaphore for the download slots. */
class Slots {
  private free: number;
  private readonly queue: (() => void)[] = [];
  constructor(n: number) {
    this.free = Math.max(1, n);
  }
  get busy(): boolean {
    return this.free === 0;
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((res) => this.queue.push(res));
  }
  give(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.free++;
  }
}

export async function pullImage(ctx: EngineContext, reference: string, opts: PullOptions = {}): Promise<ImageRecord> {
  const ref = parseReference(reference);
  const emit = (e: PullEvent) => opts.onEvent?.(e);
  const makeRegistry = opts.deps?.makeRegistry ?? ((o: RegistryClientOptions) => new RegistryClient(o));
  const unpack: UnpackFn = opts.deps?.unpack ?? unpackLayer;
  const want = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const store = openStore(ctx);

  emit({
    type: 'start', input: reference, reference: referenceString(ref), familiar: familiarString(ref), path: ref.path,
    tag: ref.tag, digest: ref.digest, defaultTag: namesNoTagOrDigest(reference),
  });

  return store.withLease(async () => {
    store.content.gc(); // stale partials (a day old, unlocked) from pulls that never came back
    const registry = makeRegistry({
      ...opts.registryOptions,
      onRetry: (info) => emit({ type: 'retry', attempt: info.attempt, retryInSeconds: Math.ceil(info.delayMs / 1000), reason: info.reason }),
    });

    // Manifest (through an index when the reference names one), then config.
    // A digest we already hold needs no request at all (pinned pulls work offline).
    // What is fetched is stored only once all of it checked out, so an image
    // refused for its documents or its platform leaves nothing behind.
    const unstored: { bytes: Buffer; digest: string }[] = [];
    const { manifest, manifestDigest, manifestMediaType, indexDigest, config, top } = await withImageContext(ref, async () => {
      let top: { digest: string; mediaType: string };
      if (ref.digest && store.content.has(ref.digest)) {
        top = { digest: ref.digest, mediaType: parseManifest(store.content.read(ref.digest)).mediaType };
      } else {
        top = await registry.resolve(ref);
      }
      const fetchManifest = async (digest: string, mediaType: string): Promise<ParsedManifest> => {
        if (store.content.has(digest)) return parseManifest(store.content.read(digest), mediaType);
        const m = await registry.getManifest(ref, digest);
        const parsed = parseManifest(m.bytes, m.mediaType || mediaType);
        unstored.push({ bytes: m.bytes, digest });
        return parsed;
      };
      let parsed = await fetchManifest(top.digest, top.mediaType);
      let manifestDigest = top.digest;
      let indexDigest: string | undefined;
      if (parsed.kind === 'index') {
        const desc = selectManifest(parsed.index, want);
        indexDigest = top.digest;
        manifestDigest = desc.digest;
        parsed = await fetchManifest(desc.digest, desc.mediaType);
        if (parsed.kind !== 'manifest') throw new StoreError(`${familiarString(ref)}: index entry ${desc.digest} is itself an index; nested indexes are not supported`);
      }
      const manifest: ImageManifest = parsed.manifest;
      for (const d of manifest.layers) {
        if (!isLayerMediaType(d.mediaType)) {
          throw new InvalidManifestError(`layer ${shortLayerId(d.digest)} has the unsupported media type "${d.mediaType}"`);
        }
      }

      const configDesc = manifest.config;
      let configBytes: Buffer;
      if (store.content.has(configDesc.digest)) {
        configBytes = store.content.read(configDesc.digest);
      } else {
        configBytes = await registry.getBlob(ref, configDesc);
        unstored.push({ bytes: configBytes, digest: configDesc.digest });
      }
      const config = parseImageConfig(configBytes);
      // An index entry was chosen for the platform; a lone manifest must be
      // checked against it, as Docker does (only when one was asked for).
      if (opts.platform && !indexDigest) checkRequestedPlatform(ref, config, want);
      return { manifest, manifestDigest, manifestMediaType: parsed.mediaType, indexDigest, config, top };
    });
    const configDesc = manifest.config;
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new StoreError(
        `${familiarString(ref)}: the manifest lists ${manifest.layers.length} layers but the config has ${diffIds.length} diff IDs`,
      );
    }
    const chains = chainIds(diffIds);
    for (const { bytes, digest } of unstored) store.content.putBytes(bytes, digest);

    // Layers.
    const layerRecords: ImageLayer[] = manifest.layers.map((d, i) => ({
      digest: d.digest, mediaType: d.mediaType, size: d.size, diffId: diffIds[i]!, chainId: chains[i]!,
    }));
    const sizes: number[] = new Array(layerRecords.length).fill(0);
    const todo: number[] = [];
    layerRecords.forEach((l, i) => {
      const meta = store.layers.meta(l.chainId);
      if (meta) {
        sizes[i] = meta.size;
        emit({ type: 'layer', id: shortLayerId(l.digest), status: 'Already exists' });
      } else {
        todo.push(i);
        emit({ type: 'layer', id: shortLayerId(l.digest), status: 'Pulling fs layer' });
      }
    });

    const slots = new Slots(opts.concurrency ?? 3);
    const abort = new AbortController();
    const pullLayer = async (i: number, queued: boolean) => {
      const l = layerRecords[i]!;
      const desc = manifest.layers[i]!;
      const id = shortLayerId(l.digest);
      const ev = (status: LayerStatus, extra: Partial<Extract<PullEvent, { type: 'layer' }>> = {}) =>
        emit({ type: 'layer', id, status, ...extra });
      if (queued) ev('Waiting');
      // The layer's unpack, from the blob or from its partial file while it downloads.
      let downloaded = false;
      const extract = (blobPath: string, growing?: { size: number; growth: Growth }) =>
        store.layers
          .ensure(
            l.chainId,
            async (tmpTree) => {
              const result = await unpack(blobPath, l.mediaType, tmpTree, {
                expectedDiffId: l.diffId,
                // While it downloads, the line shows the download; extraction shows once that is complete.
                onProgress: throttled(100, (done, total) => downloaded && ev('Extracting', { current: done, total })),
                ...(growing ? { growing } : {}),
              });
              if (result.diffId !== l.diffId) throw new DigestMismatchError(l.diffId, result.diffId, `layer ${l.digest} (diffId)`);
              return result;
            },
            { parent: i > 0 ? chains[i - 1] : undefined },
          )
          .catch((err: unknown) => {
            throw layerError(ref, l, [blobPath, store.content.blobPath(l.digest)], err);
          });
      type Extracted = Awaited<ReturnType<typeof extract>>;
      let early: Promise<{ done: Extracted } | { failed: unknown }> | undefined;
      // The early unpack read exactly the blob's bytes when the download wrote
      // them once, from an empty partial file: no resume of an older partial,
      // no retry or foreign URL that may have rewritten it under the reader.
      let readFinalBytes = false;
      await slots.take();
      try {
        if (abort.signal.aborted) return;
        const lock = await store.content.lockBlob(l.digest, () => ev('Waiting'));
        try {
          if (!store.content.has(l.digest)) {
            let retried = false;
            const client = makeRegistry({
              ...opts.registryOptions,
              onRetry: (info) => {
                retried = true;
                ev('Retrying', { retryInSeconds: Math.ceil(info.delayMs / 1000) });
              },
            });
            const partial = store.content.partialPath(l.digest);
            closeSync(openSync(partial, 'a')); // the early unpack opens it at once
            const startedEmpty = statSync(partial).size === 0;
            const growth = new DownloadGrowth();
            const progress = throttled(100, (done, total) => ev('Downloading', { current: done, total }));
            const download = (async () => {
              await client.fetchBlob(ref, desc, partial, {
                signal: abort.signal,
                onProgress: (done, total) => {
                  growth.grew();
                  progress(done, total);
                },
              });
              ev('Verifying Checksum');
              // fetchBlob verified the digest while streaming; the size check here is cheap.
              await store.content.commitPartial(l.digest, { expectedSize: desc.size });
            })();
            download.then(
              () => growth.settle(),
              (err: unknown) => growth.settle(err ?? new Error('download failed')),
            );
            early = extract(partial, { size: desc.size, growth }).then(
              (done) => ({ done }),
              (failed: unknown) => ({ failed }),
            );
            try {
              await download;
            } catch (err) {
              await early; // its tree is removed before the error goes on
              throw err;
            }
            readFinalBytes = startedEmpty && !retried && !desc.urls?.length;
          }
          downloaded = true;
          ev('Download complete');
        } finally {
          lock.release();
        }
      } finally {
        slots.give();
      }
      if (abort.signal.aborted) return;
      ev('Extracting', { current: 0, total: desc.size });
      const first = await early;
      let extracted: Extracted;
      if (first && 'done' in first) extracted = first.done;
      else if (first && readFinalBytes && isContentError(first.failed)) throw first.failed; // the same bytes would fail the same way
      else extracted = await extract(store.content.blobPath(l.digest)); // no early unpack, or it may have read other bytes
      const { meta } = extracted;
      sizes[i] = meta.size;
      ev('Pull complete');
    };

    const results = await Promise.allSettled(
      todo.map((i, n) =>
        pullLayer(i, n >= (opts.concurrency ?? 3)).catch((err) => {
          abort.abort(err);
          throw err;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    // Record and names, last.
    const names = ref.digest
      ? [`${repositoryName(ref)}@${ref.digest}`]
      : [nameKey(ref), `${repositoryName(ref)}@${top.digest}`];
    const before = store.images.readNames()[nameKey(ref)];
    const existing = store.images.get(configDesc.digest);
    const upToDate = before === configDesc.digest && existing !== undefined;
    const record: ImageRecord = {
      id: configDesc.digest,
      repoTags: [],
      repoDigests: [],
      manifestDigest,
      manifestMediaType,
      ...(indexDigest ? { indexDigest } : {}),
      layers: layerRecords,
      config,
      created: config.created ?? existing?.created ?? new Date().toISOString(),
      size: sizes.reduce((a, b) => a + b, 0),
      pulledAt: existing?.pulledAt ?? new Date().toISOString(),
    };
    await store.images.put(record, names);
    const image = store.images.get(record.id)!;
    emit({ type: 'done', digest: top.digest, upToDate, reference: referenceString(ref), familiar: familiarString(ref), image });
    return image;
  });
}
