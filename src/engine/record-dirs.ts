// The on-disk scheme containers and pods share, without a daemon:
//   <dir>/<id>/record.json   the object's record, written atomically
//   <dir>/names/<name>       a symlink to the id: claiming a name is one atomic symlink(2)
//   <dir>/.creating-<id>/    an object being created, renamed into place once complete
//   <dir>/.removing-<id>/    an object being deleted, renamed out of sight first
// Creators hold a shared lease on <dir>/.create.lock from claiming a name until the
// rename; repair needs it exclusively, so it never mistakes a creation in progress for
// a crash's leftover.
import { randomHex } from '../util/random.js';
import { existsSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { removeTree } from '../native/index.js';
import { join } from 'node:path';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import { ensureDir, removeFile, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';

export interface NamedRecord {
  id: string;
  name: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID_RE = /^[0-9a-f]{64}$/;

/** Docker's rule for container names, used for pods too. */
export function validateRecordName(kind: string, name: string): void {
  if (!NAME_RE.test(name) || name.length > 128) {
    throw new UsageError(`invalid ${kind} name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
}

export class RecordDirs<R extends NamedRecord> {
  private readonly namesDir: string;

  /**
   * @param kind what users call these objects ("container", "pod"), for messages
   * @param nameTaken the message when a live object already has the name
   */
  constructor(
    readonly dir: string,
    private readonly kind: string,
    private readonly nameTaken: (name: string, owner: string) => string,
  ) {
    this.namesDir = join(dir, 'names');
  }

  static newId(): string {
    return randomHex(32);
  }

  static isId(s: string): boolean {
    return ID_RE.test(s);
  }

  validateName(name: string): void {
    validateRecordName(this.kind, name);
  }

  recordPath(id: string): string {
    return join(this.dir, id, 'record.json');
  }

  protected creatingDir(id: string): string {
    return join(this.dir, `.creating-${id}`);
  }

  /** An object exists once its directory is in place, or while it is being created. */
  exists(id: string): boolean {
    return existsSync(this.recordPath(id)) || existsSync(this.creatingDir(id));
  }

  /** Claims `name` for `id` atomically; ConflictError when an existing object has it. */
  claimName(name: string, id: string): void {
    this.validateName(name);
    ensureDir(this.namesDir);
    const link = join(this.namesDir, name);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        symlinkSync(id, link);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = this.nameOwner(name);
        if (owner !== undefined && this.exists(owner)) throw new ConflictError(this.nameTaken(name, owner));
        removeFile(link); // a crash's leftover: the object it named is gone
      }
    }
    throw new ConflictError(`could not claim the ${this.kind} name "${name}"`);
  }

  releaseName(name: string, id: string): void {
    if (this.nameOwner(name) === id) removeFile(join(this.namesDir, name));
  }

  private nameOwner(name: string): string | undefined {
    try {
      return readlinkSync(join(this.namesDir, name));
    } catch {
      return undefined;
    }
  }

  /** Held (shared) by creators from claiming a name until the object is complete. */
  async creationLease(): Promise<FileLock> {
    ensureDir(this.dir);
    return FileLock.acquire(join(this.dir, '.create.lock'), { shared: true });
  }

  /** Exclusive hold for repair, or undefined while anyone creates. */
  tryRepairLock(): FileLock | undefined {
    ensureDir(this.dir);
    return FileLock.tryAcquire(join(this.dir, '.create.lock'));
  }

  /** Step 1 of creation: the temp dir (filled by `fill`) and the record, so the id "exists" for repair. */
  beginCreate(record: R, fill?: (tempDir: string) => void): void {
    const temp = ensureDir(this.creatingDir(record.id), 0o700);
    try {
      fill?.(temp);
      writeJsonAtomic(join(temp, 'record.json'), record);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Step 2: the final record (it may have changed since step 1), then one rename makes the object visible. */
  commitCreate(record: R): void {
    writeJsonAtomic(join(this.creatingDir(record.id), 'record.json'), record);
    this.publishCreated(record.id);
  }

  /** Step 2 when the record is as step 1 wrote it: the rename alone. */
  publishCreated(id: string): void {
    renameSync(this.creatingDir(id), join(this.dir, id));
  }

  abortCreate(record: R): void {
    rmSync(this.creatingDir(record.id), { recursive: true, force: true });
    this.releaseName(record.name, record.id);
  }

  save(record: R): void {
    writeJsonAtomic(this.recordPath(record.id), record);
  }

  get(id: string): R | undefined {
    try {
      return JSON.parse(readFileSync(this.recordPath(id), 'utf8')) as R;
    } catch {
      return undefined;
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => ID_RE.test(n));
    } catch {
      return [];
    }
  }

  /** Ids being created, or left half-created by a crash. */
  creatingIds(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((n) => n.startsWith('.creating-'))
        .map((n) => n.slice('.creating-'.length));
    } catch {
      return [];
    }
  }

  list(): R[] {
    return this.ids()
      .map((id) => this.get(id))
      .filter((r): r is R => r !== undefined);
  }

  /** By full id, name, or unique id prefix (as Docker accepts). */
  lookup(nameOrId: string): R {
    const key = nameOrId.replace(/^\//, '');
    if (ID_RE.test(key)) {
      const r = this.get(key);
      if (r) return r;
    }
    const owner = NAME_RE.test(key) ? this.nameOwner(key) : undefined;
    if (owner) {
      const r = this.get(owner);
      if (r) return r;
    }
    if (/^[0-9a-f]+$/.test(key)) {
      const matches = this.ids().filter((id) => id.startsWith(key));
      if (matches.length > 1) throw new ConflictError(`multiple ${this.kind}s match the prefix "${key}": be more specific`);
      if (matches.length === 1) {
        const r = this.get(matches[0]!);
        if (r) return r;
      }
    }
    throw new NotFoundError(this.kind, nameOrId);
  }

  rename(record: R, newName: string): void {
    this.claimName(newName, record.id);
    const old = record.name;
    record.name = newName;
    this.save(record);
    this.releaseName(old, record.id);
  }

  /** Removes the directory and the name; the caller has already released everything else. */
  remove(record: R): void {
    // Rename first so a crash midway never leaves a half-deleted object visible.
    const doomed = join(this.dir, `.removing-${record.id}`);
    try {
      renameSync(join(this.dir, record.id), doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.releaseName(record.name, record.id);
    removeTree(doomed);
  }

  /** Cleans what crashes leave behind, unless someone is creating. Returns the half-created ids removed. */
  repair(): string[] {
    if (!existsSync(this.dir)) return [];
    const exclusive = this.tryRepairLock();
    if (!exclusive) return [];
    try {
      return this.repairLocked();
    } finally {
      exclusive.release();
    }
  }

  /** Temp dirs and names of vanished objects; the caller holds tryRepairLock(). */
  repairLocked(): string[] {
    const removed: string[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return removed;
    }
    for (const n of names) {
      if (n.startsWith('.creating-') || n.startsWith('.removing-')) {
        rmSync(join(this.dir, n), { recursive: true, force: true });
        if (n.startsWith('.creating-')) removed.push(n.slice('.creating-'.length));
      }
    }
    let links: string[] = [];
    try {
      links = readdirSync(this.namesDir);
    } catch {
      return removed;
    }
    for (const n of links) {
      const owner = this.nameOwner(n);
      if (!owner || !this.exists(owner)) {
        try {
          unlinkSync(join(this.namesDir, n));
        } catch {
          /* raced with another repair */
        }
      }
    }
    return removed;
  }
}
