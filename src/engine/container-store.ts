// Containers on disk, without a daemon:
//   <root>/containers/<id>/record.json   what was asked (image, command, options), written atomically
//   <root>/containers/<id>/bundle/       the OCI bundle handed to the launcher
//   <root>/containers/<id>/{upper,work,rootfs}  the overlay's writable layer and mount point
//   <root>/containers/<id>/container.log JSON lines written by the monitor
//   <root>/containers/names/<name>       a symlink to the id: claiming a name is one atomic symlink(2)
// A container directory appears by rename from a temp name, so a crash leaves
// either nothing or a whole container; a name whose target is gone is free again.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { layout, type EngineContext } from './context.js';

export interface ContainerState {
  status: 'created' | 'running' | 'exited';
  pid?: number;
  exitCode?: number;
  oomKilled?: boolean;
  /** Running but frozen (pause); only set on the live state, never recorded. */
  paused?: boolean;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
}

export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  maximumRetryCount: number;
}

export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  /** The image as the user named it, and its id (config digest). */
  image: string;
  imageId: string;
  /** argv[0] and the rest, as Docker shows Path and Args. */
  path: string;
  args: string[];
  config: {
    env: string[];
    workingDir: string;
    user: string;
    tty: boolean;
    openStdin: boolean;
    stopSignal: string;
    stopTimeout: number;
    labels: Record<string, string>;
    hostname: string;
    entrypoint: string[] | null;
    cmd: string[] | null;
  };
  hostConfig: {
    autoRemove: boolean;
    restartPolicy: RestartPolicy;
    readonlyRootfs: boolean;
    networkMode: string;
    binds: string[];
    init: boolean;
    /** 'tsrun' for our own launcher, else the path of an OCI runtime binary (runc, crun). */
    runtime: string;
  };
  /** Layer trees for the overlay, top layer first. */
  lowerDirs: string[];
  /** Last state recorded by tsrun (the live truth comes from the launcher). */
  state: ContainerState;
  restartCount: number;
  /** Restarts in a row that came after less than 10 s of running (for the backoff). */
  quickRestarts?: number;
  /** Set by stop and kill, cleared by start: no restart policy restarts a container the user stopped. */
  manuallyStopped?: boolean;
  /** The pod (id) whose namespaces and cgroup the container joined (--pod). */
  pod?: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class ContainerStore {
  readonly dir: string;
  private readonly namesDir: string;

  constructor(ctx: EngineContext) {
    this.dir = layout(ctx).containers;
    this.namesDir = join(this.dir, 'names');
  }

  static newId(): string {
    return randomBytes(32).toString('hex');
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }

  paths(id: string) {
    const dir = this.containerDir(id);
    return {
      dir,
      record: join(dir, 'record.json'),
      bundle: join(dir, 'bundle'),
      rootfs: join(dir, 'rootfs'),
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      log: join(dir, 'container.log'),
      etc: join(dir, 'etc'),
    };
  }

  static validateName(name: string): void {
    if (!NAME_RE.test(name) || name.length > 128) {
      throw new UsageError(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
  }

  /** Claims `name` for `id` atomically; ConflictError when a live container has it. */
  claimName(name: string, id: string): void {
    ContainerStore.validateName(name);
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
          throw new ConflictError(
            `the container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
        // A leftover from a crash: the container it named does not exist.
        rmSync(link, { force: true });
      }
    }
    throw new ConflictError(`could not claim the container name "${name}"`);
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

  private creatingDir(id: string): string {
    return join(this.dir, `.creating-${id}`);
  }

  /** A container exists once its directory is in place, or while it is being created. */
  exists(id: string): boolean {
    return existsSync(this.paths(id).record) || existsSync(this.creatingDir(id));
  }

  /**
   * Creators hold this lease (shared) from claiming a name until the container is complete;
   * repair() needs it exclusively, so it never mistakes a creation in progress for a crash's leftover.
   */
  async creationLease(): Promise<FileLock> {
    ensureDir(this.dir);
    return FileLock.acquire(join(this.dir, '.create.lock'), { shared: true });
  }

  /** Writes a new container directory: filled by `fill` under a temp name, then renamed into place. */
  create(record: ContainerRecord, fill: (tempDir: string) => void): void {
    ensureDir(this.dir);
    const temp = this.creatingDir(record.id);
    ensureDir(temp, 0o700);
    try {
      fill(temp);
      writeJsonAtomic(join(temp, 'record.json'), record);
      renameSync(temp, this.containerDir(record.id));
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      throw err;
    }
  }

  save(record: ContainerRecord): void {
    writeJsonAtomic(this.paths(record.id).record, record);
  }

  get(id: string): ContainerRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.paths(id).record, 'utf8')) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  ids(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  list(): ContainerRecord[] {
    return this.ids()
      .map((id) => this.get(id))
      .filter((r): r is ContainerRecord => r !== undefined);
  }

  /** A container by full id, name, or unique id prefix (as Docker accepts). */
  lookup(nameOrId: string): ContainerRecord {
    const key = nameOrId.replace(/^\//, '');
    if (/^[0-9a-f]{64}$/.test(key)) {
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
      if (matches.length > 1) throw new ConflictError(`multiple containers match the prefix "${key}": be more specific`);
      if (matches.length === 1) {
        const r = this.get(matches[0]!);
        if (r) return r;
      }
    }
    throw new NotFoundError('container', nameOrId);
  }

  rename(record: ContainerRecord, newName: string): void {
    this.claimName(newName, record.id);
    const old = record.name;
    record.name = newName;
    this.save(record);
    this.releaseName(old, record.id);
  }

  /** Removes the directory and the name; the caller has already unmounted and stopped everything. */
  remove(record: ContainerRecord): void {
    const dir = this.containerDir(record.id);
    // Rename first so a crash midway never leaves a half-deleted container visible.
    const doomed = join(this.dir, `.removing-${record.id}`);
    try {
      renameSync(dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.releaseName(record.name, record.id);
    rmSync(doomed, { recursive: true, force: true });
  }

  /** Cleans what crashes leave behind: temp dirs and names of vanished containers. Skipped while anyone creates. */
  repair(): void {
    if (!existsSync(this.dir)) return;
    const exclusive = FileLock.tryAcquire(join(this.dir, '.create.lock'));
    if (!exclusive) return;
    try {
      this.repairLocked();
    } finally {
      exclusive.release();
    }
  }

  private repairLocked(): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('.creating-') || n.startsWith('.removing-')) rmSync(join(this.dir, n), { recursive: true, force: true });
    }
    let links: string[] = [];
    try {
      links = readdirSync(this.namesDir);
    } catch {
      return;
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
  }
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'mellow', 'nimble', 'proud', 'quiet', 'rapid', 'sharp', 'tidy', 'vivid', 'witty', 'zesty', 'bold', 'crisp'];
const NOUNS = ['otter', 'falcon', 'maple', 'harbor', 'comet', 'lynx', 'cedar', 'quartz', 'heron', 'willow', 'badger', 'ember', 'fjord', 'glacier', 'meadow', 'nebula', 'orchid', 'pebble', 'raven', 'summit'];

export function randomName(): string {
  const b = randomBytes(3);
  return `${ADJECTIVES[b[0]! % ADJECTIVES.length]}_${NOUNS[b[1]! % NOUNS.length]}${b[2]! % 100}`;
}
