// Pushing an image: content store -> registry, as `docker push` does.
//
// What goes out, in order:
// - every layer blob of the manifest (up to 5 at once, as Docker): skipped when
//   the repository has it already (HEAD), else mounted from another repository
//   of the same registry that is known to hold it, else uploaded; a foreign
//   layer (non-distributable, with urls) is skipped unless the registry's
//   allowNondistributableArtifacts setting says otherwise (image/foreign.ts);
// - the config blob, the same way (without a mount);
// - the manifest, under the tag, as the very bytes the store holds: the digest
//   the registry computes is the one `tsrun images --digests` shows locally.
//
// "Known to hold it" comes from the repo digests of the name index: a pull
// records <repo>@<digest>, and so does a successful push, so every repository
// an image was pulled from or pushed to is a mount source for its blobs
// (Docker keeps the same knowledge in its V2 metadata per layer).
//
// The whole push holds the store's shared lease: a concurrent rmi or prune
// cannot sweep the blobs being sent.
import { DigestMismatchError, StoreError, TsrunError, UsageError } from '../errors.js';
import { digestHex, sha256Digest } from '../image/digest.js';
import { isForeignLayer } from '../image/foreign.js';
import { parseManifest } from '../image/manifest.js';
import { familiarRepository, namesNoTagOrDigest, parseReference, referenceString, repositoryName, type Reference } from '../image/reference.js';
import type { Descriptor } from '../oci/image.js';
import type { RegistryClientOptions } from '../registry/client.js';
import { RegistryPushClient, type BlobSource, type BlobUploadOptions, type MountResult, type RegistryPushClientOptions } from '../registry/upload.js';
import type { ImageRecord, Store } from '../store/index.js';
import type { EngineContext } from './context.js';
import { openStore } from './pull.js';
import { throttled } from '../util/throttle.js';

export type PushLayerStatus = 'Preparing' | 'Waiting' | 'Pushing' | 'Pushed' | 'Layer already exists' | 'Mounted from' | 'Skipped foreign layer' | 'Retrying';

export type PushEvent =
  /** Before any network traffic. `defaultTag`: the input named no tag ("Using default tag: latest"). */
  | { type: 'start'; input: string; repository: string; tags: string[]; defaultTag: boolean }
  /** One tag's push begins (several with --all-tags). */
  | { type: 'tag'; tag: string }
  /** One layer's progress; `id` is the 12-hex short diff ID Docker shows; `from` names a mount's source repository. */
  | { type: 'layer'; id: string; status: PushLayerStatus; current?: number; total?: number; from?: string; retryInSeconds?: number }
  /** A config or manifest request is being retried. */
  | { type: 'retry'; attempt: number; retryInSeconds: number; reason: string }
  | { type: 'done'; tag: string; digest: string; size: number; reference: string };

/** The part of RegistryPushClient a push uses (tests inject fakes). */
export interface PushRegistry {
  blobExists(ref: Reference, digest: string, opts?: { onRetry?: RegistryClientOptions['onRetry']; signal?: AbortSignal }): Promise<boolean>;
  mountBlob(ref: Reference, digest: string, fromPath: string, opts?: { onRetry?: RegistryClientOptions['onRetry']; signal?: AbortSignal }): Promise<MountResult>;
  cancelUpload(ref: Reference, session: URL): Promise<void>;
  uploadBlob(ref: Reference, desc: { digest: string; size: number }, source: BlobSource, opts?: BlobUploadOptions): Promise<void>;
  putManifest(ref: Reference, tag: string, bytes: Buffer, mediaType: string, opts?: { onRetry?: RegistryClientOptions['onRetry']; signal?: AbortSignal }): Promise<string>;
  /** Upload foreign layers to this registry too (default: skip them, as Docker). */
  allowsNondistributable?(ref: Reference): boolean;
}

export interface PushOptions {
  /** Push every local tag of the repository (the input must name no tag). */
  allTags?: boolean;
  onEvent?: (e: PushEvent) => void;
  /** Parallel layer uploads (default 5, Docker's max-concurrent-uploads). */
  concurrency?: number;
  registryOptions?: RegistryPushClientOptions;
  deps?: { makeRegistry?: (opts: RegistryPushClientOptions) => PushRegistry };
}

export interface PushResult {
  tag: string;
  /** "127.0.0.1:5000/app:v1" */
  reference: string;
  digest: string;
  /** Bytes of the manifest. */
  size: number;
}

/** How many other repositories a blob is tried to be mounted from before uploading it (Docker: 3). */
const MAX_MOUNT_CANDIDATES = 3;



/** Run `fn` over `items` with at most `n` at a time; `queued(i)` is told which had to wait. Stops starting new ones after a failure. */
async function limited<T>(items: T[], n: number, fn: (item: T, queued: boolean) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const width = Math.max(1, n);
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i >= width);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(width, items.length) }, worker));
  const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}

/** The tags to push: the one named (default latest), or with allTags every local tag of the repository. */
export function tagsToPush(names: Record<string, string>, ref: Reference, allTags: boolean): string[] {
  if (!allTags) return [ref.tag ?? 'latest'];
  const repo = repositoryName(ref);
  const tags: string[] = [];
  for (const name of Object.keys(names)) {
    if (name.includes('@') || !name.startsWith(`${repo}:`)) continue;
    const tag = name.slice(repo.length + 1);
    if (!tag.includes('/')) tags.push(tag);
  }
  return tags.sort();
}

/**
 * Repositories of the same registry (other than `ref`'s own) that hold each
 * blob, from the repo digests of the images that contain it.
 */
export function mountSources(images: ImageRecord[], ref: Reference): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rec of images) {
    const paths: string[] = [];
    for (const name of rec.repoDigests) {
      let r: Reference;
      try {
        r = parseReference(name);
      } catch {
        continue;
      }
      if (r.domain === ref.domain && r.path !== ref.path && !paths.includes(r.path)) paths.push(r.path);
    }
    if (paths.length === 0) continue;
    for (const d of [...rec.layers.map((l) => l.digest), rec.id]) {
      const list = out.get(d) ?? [];
      for (const p of paths) if (!list.includes(p)) list.push(p);
      out.set(d, list);
    }
  }
  for (const list of out.values()) list.sort();
  return out;
}

/** What the store holds for one image: the manifest's exact bytes, checked against the recorded digest. */
function storedManifest(store: Store, rec: ImageRecord, name: string): { bytes: Buffer; mediaType: string; config: Descriptor; layers: Descriptor[] } {
  const digest = rec.manifestDigest;
  if (!store.content.has(digest)) {
    throw new StoreError(`the manifest ${digest} of ${name} is not in the store`, { hint: `pull or load ${name} again` });
  }
  const bytes = store.content.read(digest);
  if (digest.startsWith('sha256:') && sha256Digest(bytes) !== digest) {
    throw new DigestMismatchError(digest, sha256Digest(bytes), `stored manifest of ${name}`);
  }
  const parsed = parseManifest(bytes, rec.manifestMediaType);
  if (parsed.kind !== 'manifest') throw new StoreError(`the manifest ${digest} of ${name} is an index; only image manifests can be pushed`);
  return { bytes, mediaType: parsed.mediaType, config: parsed.manifest.config, layers: parsed.manifest.layers };
}

/** A blob the push sends, from the store; its size must be the one the manifest announces. */
function storedBlob(store: Store, desc: Descriptor, name: string): BlobSource {
  const size = store.content.size(desc.digest);
  if (size === undefined) throw new StoreError(`blob ${desc.digest} of ${name} is not in the store`, { hint: `pull or load ${name} again` });
  if (size !== desc.size) throw new StoreError(`blob ${desc.digest} of ${name} has ${size} bytes in the store, the manifest says ${desc.size}`);
  return { path: store.content.blobPath(desc.digest) };
}

/** Push `input` ("repo[:tag]", or "repo" with allTags) from the local store to its registry. */
export async function pushImage(ctx: EngineContext, input: string, opts: PushOptions = {}): Promise<PushResult[]> {
  const ref = parseReference(input);
  if (ref.digest) throw new UsageError(`cannot push a digest reference: "${input}"`, { hint: 'push a tag; the digest stays the same' });
  const defaultTag = namesNoTagOrDigest(input);
  if (opts.allTags && !defaultTag) throw new UsageError("tag can't be used with --all-tags/-a");
  const emit = (e: PushEvent) => opts.onEvent?.(e);
  const store = openStore(ctx);
  const repo = repositoryName(ref);
  const familiar = familiarRepository(ref);

  // Every tag must name a local image before anything is sent.
  const names = store.images.readNames();
  const tags = tagsToPush(names, ref, opts.allTags === true);
  if (tags.length === 0) {
    throw new TsrunError('NOT_FOUND', `An image does not exist locally with the tag: ${familiar}`, {
      hint: `name an image with "tsrun tag IMAGE ${familiar}:TAG" first`,
    });
  }
  for (const tag of tags) {
    if (names[`${repo}:${tag}`] === undefined) {
      throw new TsrunError('NOT_FOUND', `An image does not exist locally with the tag: ${familiar}${defaultTag && !opts.allTags ? '' : `:${tag}`}`, {
        hint: `name an image with "tsrun tag IMAGE ${familiar}:${tag}" first`,
      });
    }
  }

  emit({ type: 'start', input, repository: repo, tags, defaultTag: defaultTag && !opts.allTags });
  const makeRegistry = opts.deps?.makeRegistry ?? ((o: RegistryPushClientOptions) => new RegistryPushClient(o));
  const registry = makeRegistry({
    ...opts.registryOptions,
    onRetry: (info) => emit({ type: 'retry', attempt: info.attempt, retryInSeconds: Math.ceil(info.delayMs / 1000), reason: info.reason }),
  });

  return store.withLease(async () => {
    const results: PushResult[] = [];
    for (const tag of tags) {
      const tagRef: Reference = { domain: ref.domain, path: ref.path, tag };
      const name = `${familiar}:${tag}`;
      const id = store.images.readNames()[`${repo}:${tag}`];
      const rec = id === undefined ? undefined : store.images.get(id);
      if (!rec) throw new TsrunError('NOT_FOUND', `An image does not exist locally with the tag: ${name}`);
      const manifest = storedManifest(store, rec, name);
      const sources = mountSources(store.images.list(), ref);
      emit({ type: 'tag', tag });

      // Layers, top first as Docker lists them; a blob listed twice goes once.
      const diffIds = rec.config.rootfs?.diff_ids ?? [];
      const layers: { desc: Descriptor; id: string }[] = [];
      for (const [i, desc] of manifest.layers.entries()) {
        if (layers.some((l) => l.desc.digest === desc.digest)) continue;
        layers.push({ desc, id: digestHex(diffIds[i] ?? desc.digest).slice(0, 12) });
      }
      layers.reverse();
      // Foreign layers stay out unless the registry allows them (Docker's allow-nondistributable-artifacts):
      // the manifest keeps their descriptors, so clients fetch them from their URLs.
      const allowForeign = registry.allowsNondistributable?.(tagRef) === true;
      const skipped = (desc: Descriptor) => !allowForeign && isForeignLayer(desc);
      const blobs = new Map(layers.filter((l) => !skipped(l.desc)).map((l) => [l.desc.digest, storedBlob(store, l.desc, name)]));
      for (const l of layers) emit({ type: 'layer', id: l.id, status: 'Preparing' });

      const abort = new AbortController();
      await limited(layers, opts.concurrency ?? 5, async ({ desc, id }, queued) => {
        const ev = (status: PushLayerStatus, extra: Partial<Extract<PushEvent, { type: 'layer' }>> = {}) => emit({ type: 'layer', id, status, ...extra });
        const onRetry: RegistryClientOptions['onRetry'] = (info) => ev('Retrying', { retryInSeconds: Math.ceil(info.delayMs / 1000) });
        const call = { onRetry, signal: abort.signal };
        if (skipped(desc)) {
          ev('Skipped foreign layer');
          return;
        }
        if (queued) ev('Waiting');
        try {
          if (await registry.blobExists(tagRef, desc.digest, call)) {
            ev('Layer already exists');
            return;
          }
          let session: URL | undefined;
          for (const from of (sources.get(desc.digest) ?? []).slice(0, MAX_MOUNT_CANDIDATES)) {
            const mount = await registry.mountBlob(tagRef, desc.digest, from, call);
            if (mount.mounted) {
              if (session) await registry.cancelUpload(tagRef, session);
              ev('Mounted from', { from });
              return;
            }
            if (mount.session) {
              if (session) await registry.cancelUpload(tagRef, session);
              session = mount.session;
            }
          }
          const progress = throttled(100, (done, total) => ev('Pushing', { current: done, total }));
          await registry.uploadBlob(tagRef, { digest: desc.digest, size: desc.size }, blobs.get(desc.digest)!, {
            ...call,
            onProgress: progress,
            ...(session ? { session } : {}),
          });
          ev('Pushed');
        } catch (err) {
          abort.abort(err);
          throw err;
        }
      });

      // Config, then the manifest under the tag.
      const configSource = storedBlob(store, manifest.config, name);
      if (!(await registry.blobExists(tagRef, manifest.config.digest))) {
        await registry.uploadBlob(tagRef, { digest: manifest.config.digest, size: manifest.config.size }, configSource);
      }
      const digest = await registry.putManifest(tagRef, tag, manifest.bytes, manifest.mediaType);
      if (digest !== rec.manifestDigest) throw new DigestMismatchError(rec.manifestDigest, digest, `manifest pushed as ${name}`);
      // The repository now holds the image: record it (a repo digest, as a pull does), also as a mount source.
      await store.images.tag(rec.id, `${repo}@${digest}`);
      const result: PushResult = { tag, reference: referenceString(tagRef), digest, size: manifest.bytes.length };
      results.push(result);
      emit({ type: 'done', ...result });
    }
    return results;
  });
}
