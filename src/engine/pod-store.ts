// Pods on disk, without a daemon (the same scheme as container-store.ts):
//   <root>/pods/<id>/record.json   the pod's settings, written atomically
//   <root>/pods/names/<name>       a symlink to the id: claiming a name is one atomic symlink(2)
//   <root>/pods/.creating-<id>/    a pod being created; renamed into place once complete
// Members are not listed here: a container belongs to a pod when its own record
// says `pod: <id>`, so a crash can never leave the two lists disagreeing.
import type { LinuxResources } from '../oci/runtime.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import type { PortMapping } from '../network/index.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { layout, type EngineContext } from './context.js';

/** Namespaces a pod holds for its members (the PID namespace needs a live init, so it is never shared). */
export type PodShare = 'net' | 'ipc' | 'uts';

export type PodNetworkMode = 'bridge' | 'none' | 'host';

export interface PodRecord {
  id: string;
  name: string;
  created: string;
  hostname: string;
  share: PodShare[];
  networkMode: PodNetworkMode;
  /** Published ports with their host ports resolved at creation (kept when the netns is rebuilt). */
  ports: PortMapping[];
  labels: Record<string, string>;
  /** Podman's: 'stop' ends the pod once its last member exits; 'continue' keeps its namespaces. */
  exitPolicy: 'continue' | 'stop';
  /** cgroup that holds the members' cgroups, e.g. /tsrun/pods/<id>. */
  cgroupParent: string;
  /** Limits of the pod's cgroup, shared by all its members (pod create --memory, --cpus...). */
  resources?: LinuxResources;
  /** The command line that created it, as podman records CreateCommand. */
  createCommand?: string[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID_RE = /^[0-9a-f]{64}$/;

export class PodStore {
  readonly dir: string;
  private readonly namesDir: string;

  constructor(ctx: EngineContext) {
    this.dir = layout(ctx).pods;
    this.namesDir = join(this.dir, 'names');
  }

  static newId(): string {
    return randomBytes(32).toString('hex');
  }

  static isId(s: string): boolean {
    return ID_RE.test(s);
  }

  static validateName(name: string): void {
    if (!NAME_RE.test(name) || name.length > 128) {
      throw new UsageError(`invalid pod name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
  }

  recordPath(id: string): string {
    return join(this.dir, id, 'record.json');
  }

  private creatingDir(id: string): string {
    return join(this.dir, `.creating-${id}`);
  }

  /** A pod exists once its directory is in place, or while it is being created. */
  exists(id: string): boolean {
    return existsSync(this.recordPath(id)) || existsSync(this.creatingDir(id));
  }

  /** Claims `name` for `id` atomically; ConflictError when an existing pod has it. */
  claimName(name: string, id: string): void {
    PodStore.validateName(name);
    ensureDir(this.namesDir);
    const link = join(this.namesDir, name);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        symlinkSync(id, link);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = this.nameOwner(name);
        if (owner !== undefined && this.exists(owner)) {
          throw new ConflictError(`the pod name "${name}" is already in use by pod ${owner}: remove that pod or choose another name`);
        }
        rmSync(link, { force: true }); // a crash's leftover: the pod it named is gone
      }
    }
    throw new ConflictError(`could not claim the pod name "${name}"`);
  }

  releaseName(name: string, id: string): void {
    if (this.nameOwner(name) === id) rmSync(join(this.namesDir, name), { force: true });
  }

  private nameOwner(name: string): string | undefined {
    try {
      return readlinkSync(join(this.namesDir, name));
    } catch {
      return undefined;
    }
  }

  /** Creators hold this shared; repair() needs it exclusively, so it never takes a creation in progress for a leftover. */
  async creationLease(): Promise<FileLock> {
    ensureDir(this.dir);
    return FileLock.acquire(join(this.dir, '.create.lock'), { shared: true });
  }

  /** Exclusive hold for repair, or undefined while someone creates a pod. */
  tryRepairLock(): FileLock | undefined {
    ensureDir(this.dir);
    return FileLock.tryAcquire(join(this.dir, '.create.lock'));
  }

  /** Step 1 of creation: the record under a temp name (so the id "exists" for repair's liveness checks). */
  beginCreate(record: PodRecord): void {
    const temp = ensureDir(this.creatingDir(record.id), 0o700);
    writeJsonAtomic(join(temp, 'record.json'), record);
  }

  /** Step 2: the final record, then one rename makes the pod visible. */
  commitCreate(record: PodRecord): void {
    const temp = this.creatingDir(record.id);
    writeJsonAtomic(join(temp, 'record.json'), record);
    renameSync(temp, join(this.dir, record.id));
  }

  abortCreate(record: PodRecord): void {
    rmSync(this.creatingDir(record.id), { recursive: true, force: true });
    this.releaseName(record.name, record.id);
  }

  save(record: PodRecord): void {
    writeJsonAtomic(this.recordPath(record.id), record);
  }

  get(id: string): PodRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.recordPath(id), 'utf8')) as PodRecord;
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

  /** Ids of pods being created or left half-created by a crash. */
  creatingIds(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((n) => n.startsWith('.creating-'))
        .map((n) => n.slice('.creating-'.length));
    } catch {
      return [];
    }
  }

  list(): PodRecord[] {
    return this.ids()
      .map((id) => this.get(id))
      .filter((r): r is PodRecord => r !== undefined);
  }

  /** A pod by full id, name, or unique id prefix. */
  lookup(nameOrId: string): PodRecord {
    if (ID_RE.test(nameOrId)) {
      const r = this.get(nameOrId);
      if (r) return r;
    }
    const owner = NAME_RE.test(nameOrId) ? this.nameOwner(nameOrId) : undefined;
    if (owner) {
      const r = this.get(owner);
      if (r) return r;
    }
    if (/^[0-9a-f]+$/.test(nameOrId)) {
      const matches = this.ids().filter((id) => id.startsWith(nameOrId));
      if (matches.length > 1) throw new ConflictError(`multiple pods match the prefix "${nameOrId}": be more specific`);
      if (matches.length === 1) {
        const r = this.get(matches[0]!);
        if (r) return r;
      }
    }
    throw new NotFoundError('pod', nameOrId);
  }

  /** Removes the directory and the name; the caller has already removed members and namespaces. */
  remove(record: PodRecord): void {
    const doomed = join(this.dir, `.removing-${record.id}`);
    try {
      renameSync(join(this.dir, record.id), doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.releaseName(record.name, record.id);
    rmSync(doomed, { recursive: true, force: true });
  }

  /** Temp dirs and names of vanished pods; the caller holds tryRepairLock(). Returns the half-created ids removed. */
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
