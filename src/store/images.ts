// Image records and the name index, under <dir> (= <root>/metadata):
//   images/<hex>.json   one record per image, keyed by its ID (the config digest)
//   names.json          { names: { "docker.io/library/busybox:latest": "sha256:…", "…@sha256:…": "sha256:…" } }
//   .lock               flock serialising every read-modify-write of the above
// The name index is the only source of repoTags/repoDigests (filled in when a
// record is read), so a tag can never point one way in the index and another
// way in a record. Every file is replaced atomically.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, StoreError } from '../errors.js';
import type { ImageConfig } from '../oci/image.js';
import { digestHex } from '../image/digest.js';
import { parseReference, referenceString, repositoryName, type Reference } from '../image/reference.js';
import { FileLock } from '../util/lock.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';

export interface ImageLayer {
  /** Digest of the (compressed) blob. */
  digest: string;
  mediaType: string;
  /** Size of the blob. */
  size: number;
  diffId: string;
  chainId: string;
}

export interface ImageRecord {
  /** The image ID: digest of its config. */
  id: string;
  /** Canonical names, e.g. "docker.io/library/busybox:latest" (from the name index). */
  repoTags: string[];
  /** Canonical digests, e.g. "docker.io/library/busybox@sha256:…" (from the name index). */
  repoDigests: string[];
  /** Digest of the platform manifest. */
  manifestDigest: string;
  manifestMediaType?: string;
  /** Digest of the index the manifest was chosen from, when the tag named an index. */
  indexDigest?: string;
  layers: ImageLayer[];
  config: ImageConfig;
  /** Creation time from the config, else when it was pulled. */
  created: string;
  /** Sum of the uncompressed layer sizes (what Docker shows as SIZE). */
  size: number;
  /** When the image was pulled or loaded. */
  pulledAt: string;
}

type StoredRecord = Omit<ImageRecord, 'repoTags' | 'repoDigests'>;

interface NameIndex {
  names: Record<string, string>;
}

/** The index key for a reference: "repo@digest" when pinned, else "repo:tag". */
export function nameKey(ref: Reference): string {
  if (ref.digest) return `${repositoryName(ref)}@${ref.digest}`;
  return referenceString({ domain: ref.domain, path: ref.path, tag: ref.tag ?? 'latest' });
}

const MIN_ID_PREFIX = 3;

export class ImageStore {
  constructor(readonly dir: string) {}

  private recordPath(id: string): string {
    return join(this.dir, 'images', `${digestHex(id)}.json`);
  }

  private indexPath(): string {
    return join(this.dir, 'names.json');
  }

  /** Run `fn` holding the metadata lock (writers only; readers see atomic files). */
  async locked<T>(fn: () => T | Promise<T>): Promise<T> {
    ensureDir(this.dir);
    const lock = await FileLock.acquire(join(this.dir, '.lock'), { pollMs: 20 });
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  readNames(): Record<string, string> {
    try {
      const idx = JSON.parse(readFileSync(this.indexPath(), 'utf8')) as NameIndex;
      return idx.names ?? {};
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new StoreError(`image name index ${this.indexPath()} is unreadable`, { cause: err });
    }
  }

  private writeNames(names: Record<string, string>): void {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(names).sort()) sorted[k] = names[k]!;
    ensureDir(this.dir);
    writeJsonAtomic(this.indexPath(), { names: sorted } satisfies NameIndex, { durable: true });
  }

  private withNames(rec: StoredRecord, names: Record<string, string>): ImageRecord {
    const repoTags: string[] = [];
    const repoDigests: string[] = [];
    for (const [name, id] of Object.entries(names)) {
      if (id !== rec.id) continue;
      (name.includes('@') ? repoDigests : repoTags).push(name);
    }
    return { ...rec, repoTags: repoTags.sort(), repoDigests: repoDigests.sort() };
  }

  private readStored(id: string): StoredRecord | undefined {
    let text: string;
    try {
      text = readFileSync(this.recordPath(id), 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as StoredRecord;
    } catch (err) {
      throw new StoreError(`image record ${this.recordPath(id)} is corrupt`, { cause: err });
    }
  }

  get(id: string): ImageRecord | undefined {
    const rec = this.readStored(id);
    return rec && this.withNames(rec, this.readNames());
  }

  has(id: string): boolean {
    return existsSync(this.recordPath(id));
  }

  ids(): string[] {
    let files: string[] = [];
    try {
      files = readdirSync(join(this.dir, 'images'));
    } catch {
      return [];
    }
    return files.filter((f) => /^[a-f0-9]{64}\.json$/.test(f)).map((f) => `sha256:${f.slice(0, 64)}`);
  }

  list(): ImageRecord[] {
    const names = this.readNames();
    const out: ImageRecord[] = [];
    for (const id of this.ids()) {
      const rec = this.readStored(id);
      if (rec) out.push(this.withNames(rec, names));
    }
    return out;
  }

  /**
   * Store a record and point `names` (canonical "repo:tag" / "repo@digest") at it.
   * Returns, for each name that pointed at another image before, that image's ID.
   */
  async put(record: ImageRecord | StoredRecord, names: string[] = []): Promise<Map<string, string>> {
    const { repoTags: _t, repoDigests: _d, ...stored } = record as ImageRecord;
    return this.locked(() => {
      ensureDir(join(this.dir, 'images'));
      writeJsonAtomic(this.recordPath(stored.id), stored, { durable: true });
      const index = this.readNames();
      const moved = new Map<string, string>();
      for (const n of names) {
        if (index[n] !== undefined && index[n] !== stored.id) moved.set(n, index[n]!);
        index[n] = stored.id;
      }
      this.writeNames(index);
      return moved;
    });
  }

  /** Point a canonical name at an image; returns the ID it pointed at before, if another. */
  async tag(id: string, name: string): Promise<string | undefined> {
    return this.locked(() => {
      if (!this.has(id)) throw new NotFoundError('image', id);
      const index = this.readNames();
      const before = index[name];
      index[name] = id;
      this.writeNames(index);
      return before !== id ? before : undefined;
    });
  }

  /** Remove a name; returns the ID it pointed at, or undefined if absent. */
  async untag(name: string): Promise<string | undefined> {
    return this.locked(() => {
      const index = this.readNames();
      const id = index[name];
      if (id === undefined) return undefined;
      delete index[name];
      this.writeNames(index);
      return id;
    });
  }

  /**
   * Delete an image record and every name pointing at it (no content; see
   * Store.removeImage for the reference-counted cleanup). Caller may already hold the lock.
   */
  deleteUnlocked(id: string): string[] {
    const index = this.readNames();
    const removed = Object.keys(index).filter((n) => index[n] === id);
    for (const n of removed) delete index[n];
    this.writeNames(index);
    rmSync(this.recordPath(id), { force: true });
    return removed;
  }

  /**
   * Find an image by full reference or familiar name ("busybox" =
   * docker.io/library/busybox:latest, "x@sha256:…"), by ID ("sha256:<hex>",
   * "<hex>") or by a unique ID prefix of at least 3 hex digits.
   * `name` tells which index entry matched when it was found by name.
   * Undefined when nothing matches; throws InvalidReferenceError for a
   * malformed name and ConflictError for an ambiguous ID prefix.
   */
  resolve(input: string): { record: ImageRecord; name?: string } | undefined {
    const names = this.readNames();
    const byId = (id: string) => {
      const rec = this.readStored(id);
      return rec && { record: this.withNames(rec, names) };
    };
    const idLike = /^(?:sha256:)?([a-f0-9]+)$/.exec(input);
    if (idLike && (input.startsWith('sha256:') || idLike[1]!.length === 64)) {
      if (idLike[1]!.length === 64) return byId(`sha256:${idLike[1]}`);
      return this.byPrefix(idLike[1]!, input, byId);
    }
    let refError: unknown;
    try {
      const key = nameKey(parseReference(input));
      const id = names[key];
      if (id !== undefined) {
        const found = byId(id);
        if (found) return { ...found, name: key };
      }
    } catch (err) {
      refError = err;
    }
    if (idLike && idLike[1]!.length >= MIN_ID_PREFIX) {
      const found = this.byPrefix(idLike[1]!, input, byId);
      if (found) return found;
    }
    if (refError) throw refError;
    return undefined;
  }

  private byPrefix(prefix: string, input: string, byId: (id: string) => { record: ImageRecord } | undefined) {
    if (prefix.length < MIN_ID_PREFIX) throw new NotFoundError('image', input, { hint: `an ID prefix needs at least ${MIN_ID_PREFIX} hex digits` });
    const hits = this.ids().filter((id) => digestHex(id).startsWith(prefix));
    if (hits.length > 1) {
      throw new ConflictError(`image ID prefix "${input}" is ambiguous: it matches ${hits.length} images (${hits.map((h) => digestHex(h).slice(0, 12)).join(', ')})`);
    }
    return hits[0] ? byId(hits[0]) : undefined;
  }

  /** The image `input` names (see resolve), or undefined. */
  lookup(input: string): ImageRecord | undefined {
    return this.resolve(input)?.record;
  }

  /** Like lookup, but a missing image is a NotFoundError ("no such image: x"). */
  require(input: string): ImageRecord {
    const rec = this.lookup(input);
    if (!rec) throw new NotFoundError('image', input);
    return rec;
  }
}
