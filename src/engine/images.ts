// Image operations behind the CLI's image verbs: list, inspect, tag, remove
// (Docker's untag/delete rules), prune, disk usage, read-only mounts.
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import { digestHex } from '../image/digest.js';
import { familiarString, parseReference, type Reference } from '../image/reference.js';
import { isMountPoint, mountReadOnly, unmount } from '../snapshot/overlay.js';
import type { HistoryEntry } from '../oci/image.js';
import { nameKey, type ImageRecord } from '../store/index.js';
import { FileLock } from '../util/lock.js';
import { ensureDir } from '../util/fs.js';
import { ContainerStore } from './container-store.js';
import { layout, type EngineContext } from './context.js';
import { openStore } from './pull.js';
import { recordEvent } from './events.js';

/** Who uses an image: the names of the containers made from it (tests pass their own). */
export type ImageInUseCheck = (ctx: EngineContext, imageId: string) => string[];

/** Names of the containers (running or not) created from image `imageId`: rmi refuses to delete it. */
export function imageInUse(ctx: EngineContext, imageId: string): string[] {
  return new ContainerStore(ctx).list().filter((c) => c.imageId === imageId).map((c) => c.name);
}

/** "docker.io/library/busybox:latest" -> "busybox:latest", for output. */
export function familiarName(canonical: string): string {
  try {
    return familiarString(parseReference(canonical));
  } catch {
    return canonical;
  }
}

/** Short ID as Docker prints it: 12 hex digits. */
export function shortId(id: string): string {
  return digestHex(id).slice(0, 12);
}

/** All images, newest first. `dangling`: only images without tags. */
export function listImages(ctx: EngineContext, opts: { dangling?: boolean } = {}): ImageRecord[] {
  let recs = openStore(ctx).images.list();
  if (opts.dangling) recs = recs.filter((r) => r.repoTags.length === 0);
  return recs.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : a.id.localeCompare(b.id)));
}

/** The image `name` refers to (name, ID or ID prefix); NotFoundError otherwise. */
export function inspectImage(ctx: EngineContext, name: string): ImageRecord {
  return openStore(ctx).images.require(name);
}

/** One step of an image's history, newest first as `docker history` lists them. */
export interface HistoryStep {
  /** The image's own ID on the newest step; undefined on the others (Docker prints <missing>). */
  id?: string;
  created?: string;
  createdBy: string;
  /** Bytes of the step's layer unpacked; 0 for steps that made no layer. */
  size: number;
  comment: string;
  /** The image's tags, on the newest step. */
  tags: string[];
}

/** The history of image `name`: its config's steps, each with the size of the layer it made. */
export function imageHistory(ctx: EngineContext, name: string): HistoryStep[] {
  const store = openStore(ctx);
  const rec = store.images.require(name);
  const layerSize = (i: number) => {
    const layer = rec.layers[i];
    return layer ? (store.layers.meta(layer.chainId)?.size ?? layer.size) : 0;
  };
  // Steps without empty_layer made the layers, in order; an image without history shows one step per layer.
  const entries: HistoryEntry[] = rec.config.history?.length ? rec.config.history : rec.layers.map(() => ({ created: rec.config.created }));
  let layer = 0;
  const steps = entries.map((h): HistoryStep => ({
    created: h.created,
    createdBy: h.created_by ?? '',
    size: h.empty_layer ? 0 : layerSize(layer++),
    comment: h.comment ?? '',
    tags: [],
  }));
  steps.reverse();
  if (steps[0]) Object.assign(steps[0], { id: rec.id, tags: rec.repoTags });
  return steps;
}

/** Give image `source` the name `target` ("repo[:tag]"). */
export async function tagImage(ctx: EngineContext, source: string, target: string): Promise<string> {
  const store = openStore(ctx);
  const rec = store.images.require(source);
  const ref = parseReference(target);
  if (ref.digest) throw new UsageError(`refusing to create a tag with a digest reference: "${target}"`);
  const key = nameKey(ref);
  await store.images.tag(rec.id, key);
  recordEvent(ctx, 'image', 'tag', rec.id, { name: familiarName(key) });
  return key;
}

/** rmi's events: an untag per name removed, then delete if the image went (Actor.ID is the image ID, as Docker's). */
export async function removeImage(
  ctx: EngineContext,
  name: string,
  opts: { force?: boolean; inUse?: ImageInUseCheck } = {},
): Promise<RemoveResult> {
  const id = openStore(ctx).images.resolve(name)?.record.id;
  const result = await removeImageRecord(ctx, name, opts);
  for (const n of result.untagged) recordEvent(ctx, 'image', 'untag', id ?? n, { name: n });
  if (id && result.deleted[0] === id) recordEvent(ctx, 'image', 'delete', id, { name: id });
  return result;
}

export interface RemoveResult {
  /** Familiar names removed ("busybox:latest", "busybox@sha256:…"). */
  untagged: string[];
  /** Image ID, then the chain IDs of the layers freed (top first). */
  deleted: string[];
  reclaimed: number;
}

/**
 * Docker's rmi: by name, remove that name (and the image when it was its last
 * tag); by ID, remove every name and the image. Refuses when containers use an
 * image that would be deleted, or when an ID names an image with tags in
 * several repositories, unless `force`; a forced removal of an image that
 * containers still use only untags it (its layers stay under their rootfs).
 */
async function removeImageRecord(
  ctx: EngineContext,
  name: string,
  opts: { force?: boolean; inUse?: ImageInUseCheck } = {},
): Promise<RemoveResult> {
  const store = openStore(ctx);
  const found = store.images.resolve(name);
  if (!found) throw new NotFoundError('image', name);
  const { record: rec, name: matched } = found;
  const users = (opts.inUse ?? imageInUse)(ctx, rec.id);
  const result: RemoveResult = { untagged: [], deleted: [], reclaimed: 0 };
  const allNames = [...rec.repoTags, ...rec.repoDigests];

  if (matched !== undefined) {
    const otherTags = rec.repoTags.filter((t) => t !== matched);
    if (otherTags.length > 0) {
      // Other tags keep the image: just drop this name (and its digest names if no tag of that repo remains).
      await store.images.untag(matched);
      result.untagged.push(familiarName(matched));
      const repo = repoOf(matched);
      if (!otherTags.some((t) => repoOf(t) === repo)) {
        for (const d of rec.repoDigests.filter((d) => repoOf(d) === repo && d !== matched)) {
          await store.images.untag(d);
          result.untagged.push(familiarName(d));
        }
      }
      return result;
    }
    if (users.length > 0 && !opts.force) {
      throw new ConflictError(
        `unable to remove repository reference "${name}" (must force) - container ${users[0]} is using its referenced image ${shortId(rec.id)}`,
      );
    }
  } else {
    const repos = new Set(allNames.map(repoOf));
    if (repos.size > 1 && !opts.force) {
      throw new ConflictError(`unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`);
    }
    if (users.length > 0 && !opts.force) {
      throw new ConflictError(`unable to delete ${shortId(rec.id)} (must be forced) - image is being used by container ${users[0]}`);
    }
  }

  if (users.length > 0) {
    // Forced, but containers need the layers: leave a dangling image behind.
    for (const n of allNames) {
      await store.images.untag(n);
      result.untagged.push(familiarName(n));
    }
    return result;
  }
  await unmountImageDir(ctx, rec.id);
  const { names, sweep } = await store.removeImage(rec.id);
  result.untagged.push(...names.sort((a, b) => Number(a.includes('@')) - Number(b.includes('@'))).map(familiarName));
  result.deleted.push(rec.id, ...[...sweep.layers].reverse());
  result.reclaimed = sweep.reclaimed;
  return result;
}

function repoOf(canonical: string): string {
  const at = canonical.indexOf('@');
  if (at >= 0) return canonical.slice(0, at);
  const colon = canonical.lastIndexOf(':');
  return colon > canonical.lastIndexOf('/') ? canonical.slice(0, colon) : canonical;
}

export interface PruneResult {
  untagged: string[];
  deleted: string[];
  reclaimed: number;
}

/** Remove dangling images (all unused ones with `all`), then orphaned blobs, layers and stale partials. */
export async function pruneImages(ctx: EngineContext, opts: { all?: boolean } = {}): Promise<PruneResult> {
  const store = openStore(ctx);
  const out: PruneResult = { untagged: [], deleted: [], reclaimed: 0 };
  for (const rec of store.images.list()) {
    if (!opts.all && rec.repoTags.length > 0) continue;
    if (imageInUse(ctx, rec.id).length > 0) continue;
    const r = await removeImage(ctx, rec.id, { force: true });
    out.untagged.push(...r.untagged);
    out.deleted.push(...r.deleted);
    out.reclaimed += r.reclaimed;
  }
  const gc = await store.collectGarbage();
  out.deleted.push(...gc.layers);
  out.reclaimed += gc.reclaimed;
  return out;
}

export interface ImageDiskUsage {
  total: number;
  active: number;
  /** Unique bytes of all unpacked layers images use (shared layers once). */
  size: number;
  /** Bytes of the layers that only unused images need. */
  reclaimable: number;
  /** Bytes of compressed blobs kept in the content store. */
  blobs: number;
}

export function imageDiskUsage(ctx: EngineContext): ImageDiskUsage {
  const store = openStore(ctx);
  const recs = store.images.list();
  const layerSize = new Map(store.layers.list().map((m) => [m.chainId, m.size]));
  const activeLayers = new Set<string>();
  const allLayers = new Set<string>();
  let active = 0;
  for (const r of recs) {
    const used = imageInUse(ctx, r.id).length > 0;
    if (used) active++;
    for (const l of r.layers) {
      allLayers.add(l.chainId);
      if (used) activeLayers.add(l.chainId);
    }
  }
  const sum = (ids: Iterable<string>) => [...ids].reduce((a, id) => a + (layerSize.get(id) ?? 0), 0);
  const size = sum(allLayers);
  return {
    total: recs.length, active, size, reclaimable: size - sum(activeLayers),
    blobs: store.content.list().reduce((a, b) => a + b.size, 0),
  };
}

function imageMountDir(ctx: EngineContext, id: string): string {
  return join(ctx.root, 'image-mounts', digestHex(id));
}

async function withMountLock<T>(ctx: EngineContext, id: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = await FileLock.acquire(join(ensureDir(layout(ctx).locks), `image-mount-${digestHex(id)}.lock`));
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Mount an image's merged tree read-only and return the directory; mounting again returns the same one. */
export async function mountImage(ctx: EngineContext, name: string): Promise<string> {
  const store = openStore(ctx);
  const rec = store.images.require(name);
  const dir = imageMountDir(ctx, rec.id);
  return withMountLock(ctx, rec.id, () => {
    if (isMountPoint(dir)) return dir;
    mkdirSync(dir, { recursive: true });
    const lowers = rec.layers.map((l) => store.layers.shortPath(l.chainId)).reverse();
    mountReadOnly(lowers, dir);
    return dir;
  });
}

/** Undo mountImage; false when it was not mounted. */
export async function unmountImage(ctx: EngineContext, name: string): Promise<boolean> {
  const rec = openStore(ctx).images.require(name);
  return unmountImageDir(ctx, rec.id);
}

async function unmountImageDir(ctx: EngineContext, id: string): Promise<boolean> {
  const dir = imageMountDir(ctx, id);
  if (!existsSync(dir)) return false;
  return withMountLock(ctx, id, () => {
    const was = unmount(dir);
    try {
      rmdirSync(dir);
    } catch {
      // still busy (lazily detached) or already gone
    }
    return was;
  });
}

/** Parse and canonicalise a user-given reference (for the CLI's messages). */
export function canonicalReference(input: string): { ref: Reference; canonical: string; familiar: string } {
  const ref = parseReference(input);
  return { ref, canonical: nameKey(ref), familiar: familiarString(ref) };
}
