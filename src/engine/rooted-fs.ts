// Paths resolved inside a root directory, as openat2(RESOLVE_IN_ROOT) would:
// every component is looked up relative to a directory descriptor we hold
// ("/proc/self/fd/N/name" is openat(N, name) for Node's path-based API), the
// last one never followed by the kernel, and symlinks are read and resolved
// here against the root, so an absolute target or a ".." can never leave it.
// A directory that a process in the container swaps for a symlink after we
// looked is caught by O_NOFOLLOW when we open it, not followed.
//
// A container's volumes and bind mounts live in its own mount namespace, not
// on the rootfs the host sees; the mount table passed in makes a path under a
// mount's destination go to the mount's source instead, as it does inside.
//
// With followSymlinks off (extracting into a host directory) a symlink in the
// middle of a path is refused rather than followed: an archive must not plant
// one and then write through it.
import { closeSync, constants, fchmodSync, lstatSync, mkdirSync, openSync, readlinkSync, type BigIntStats } from 'node:fs';
import { CopyPathError, ERR_NOT_DIRECTORY } from './cp-rules.js';
import { StoreError, UnsafeArchiveError } from '../errors.js';

const MAX_SYMLINKS = 40;
// (libuv opens every descriptor with O_CLOEXEC.)
const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const OPEN_TRUSTED_DIR = constants.O_RDONLY | constants.O_DIRECTORY;
/** Directory descriptors kept for reuse while extracting; past this many the cache starts over. */
const MAX_CACHED_FDS = 256;

/** A bind mount (volume, -v, --mount, the /etc files) as the container sees it. */
export interface BindMount {
  /** Clean absolute path in the container. */
  destination: string;
  /** Host path. */
  source: string;
  readonly: boolean;
}

export interface PathNode {
  /** Clean absolute path inside the root ("/" for the root itself). */
  cpath: string;
  /** A host path for calls that do not follow the last component: "/proc/self/fd/N/name", a mount's source or the root. */
  path: string;
  /** lstat of the node; undefined when nothing is there yet. */
  stat: BigIntStats | undefined;
  /** The mount the node lives on (the innermost one covering it); undefined for the root tree itself. */
  mount: BindMount | undefined;
  /** The node is a mount's destination itself (or the root): it cannot be removed or replaced. */
  fixed: boolean;
}

/** Something along the way does not exist (not the last component). */
export class MissingPathError extends CopyPathError {
  constructor(readonly cpath: string) {
    super(`no such file or directory: ${cpath}`);
  }
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function lstatOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export const fdPath = (fd: number, name?: string): string => (name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`);

export interface RootedFsOptions {
  mounts?: BindMount[];
  /** Follow symlinks inside the root (a container); off: refuse them in the middle of a path (a host directory). */
  followSymlinks: boolean;
}

export class RootedFs {
  private readonly mounts: Map<string, BindMount>;
  private readonly rootFd: number;
  private readonly fds = new Map<string, number>();
  readonly followSymlinks: boolean;

  constructor(readonly root: string, opts: RootedFsOptions) {
    this.followSymlinks = opts.followSymlinks;
    this.mounts = new Map((opts.mounts ?? []).map((m) => [m.destination, m]));
    try {
      this.rootFd = openSync(root, OPEN_TRUSTED_DIR);
    } catch (err) {
      throw new StoreError(`cannot open ${root}: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    closeSync(this.rootFd);
  }

  /** The innermost mount covering `cpath`, if any. */
  mountOf(cpath: string): BindMount | undefined {
    let best: BindMount | undefined;
    for (const m of this.mounts.values()) {
      if ((cpath === m.destination || cpath.startsWith(`${m.destination}/`)) && (!best || m.destination.length > best.destination.length)) best = m;
    }
    return best;
  }

  mountAt(cpath: string): BindMount | undefined {
    return this.mounts.get(cpath);
  }

  /**
   * Resolves `path` (absolute in the root; a relative one starts at `from`).
   * `followFinal` follows a symlink in the last component too. `createParents`
   * makes missing directories on the way (0755). The last component need not
   * exist (stat undefined); past a missing one the rest is taken lexically (as
   * Docker's FollowSymlinkInScope does) and the node has no stat and no path;
   * a non-directory before the last one is CopyPathError("not a directory"). With `dir`, the
   * last component is treated like the others: followed, made when missing with
   * createParents, and required to be a directory.
   */
  resolve(path: string, opts: { followFinal: boolean; createParents?: boolean; dir?: boolean; from?: string[] }): PathNode {
    const stack: string[] = path.startsWith('/') ? [] : [...(opts.from ?? [])];
    const pending = path.split('/').filter((c) => c !== '' && c !== '.');
    let links = 0;
    if (pending.length === 0) return this.nodeOfDir(stack);
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '.' || part === '') continue;
      if (part === '..') {
        stack.pop();
        if (pending.length === 0) return this.nodeOfDir(stack);
        continue;
      }
      const last = pending.length === 0 && !opts.dir;
      const cpath = `/${[...stack, part].join('/')}`;
      const mount = this.mounts.get(cpath);
      let st: BigIntStats | undefined;
      let nodePath: string;
      if (mount) {
        nodePath = mount.source;
        st = lstatOrUndefined(mount.source);
      } else {
        nodePath = fdPath(this.dirFd(stack), part);
        st = lstatOrUndefined(nodePath);
      }
      if (st?.isSymbolicLink() && !mount && (!last || opts.followFinal)) {
        if (!this.followSymlinks) throw new UnsafeArchiveError(cpath, `"${cpath}" is a symlink: refusing to write through it`);
        if (++links > MAX_SYMLINKS) throw new CopyPathError(`too many levels of symbolic links: ${path}`);
        const target = readlinkSync(nodePath);
        if (target.startsWith('/')) stack.length = 0;
        const parts = target.split('/').filter((c) => c !== '' && c !== '.');
        pending.unshift(...parts);
        if (pending.length === 0) return this.nodeOfDir(stack);
        continue;
      }
      if (last) return { cpath, path: nodePath, stat: st, mount: mount ?? this.mountOf(cpath), fixed: mount !== undefined };
      if (!st) {
        if (!opts.createParents) return this.missing([...stack, part], pending);
        this.makeDir(stack, part);
      } else if (!st.isDirectory()) {
        throw new CopyPathError(`${ERR_NOT_DIRECTORY}: ${cpath}`);
      }
      stack.push(part);
    }
    return this.nodeOfDir(stack);
  }

  /** A path below a missing directory: the rest applied lexically (".." drops a component). */
  private missing(stack: string[], rest: string[]): PathNode {
    const out = [...stack];
    for (const part of rest) {
      if (part === '..') out.pop();
      else if (part !== '.' && part !== '') out.push(part);
    }
    const cpath = `/${out.join('/')}`;
    return { cpath, path: '', stat: undefined, mount: this.mountOf(cpath), fixed: false };
  }

  /** The node of a directory reached through `stack` (the root for []). */
  private nodeOfDir(stack: string[]): PathNode {
    if (stack.length === 0) {
      return { cpath: '/', path: this.root, stat: lstatSync(this.root, { bigint: true }), mount: undefined, fixed: true };
    }
    const cpath = `/${stack.join('/')}`;
    const mount = this.mounts.get(cpath);
    if (mount) return { cpath, path: mount.source, stat: lstatOrUndefined(mount.source), mount, fixed: true };
    const path = fdPath(this.dirFd(stack.slice(0, -1)), stack[stack.length - 1]!);
    return { cpath, path, stat: lstatOrUndefined(path), mount: this.mountOf(cpath), fixed: false };
  }

  /** Makes directory `name` in the directory at `stack`, 0755 whatever the umask. */
  private makeDir(stack: string[], name: string): void {
    const cpath = `/${[...stack, name].join('/')}`;
    this.onCreate?.(cpath, this.mountOf(cpath));
    const path = fdPath(this.dirFd(stack), name);
    mkdirSync(path, 0o755);
    // Against the umask, through a descriptor: chmod(2) on the path would follow a symlink swapped in meanwhile.
    const fd = openSync(path, OPEN_DIR);
    try {
      fchmodSync(fd, 0o755);
    } finally {
      closeSync(fd);
    }
  }

  /** Called before anything is created (a missing parent); may throw to refuse (a read-only mount). */
  onCreate?: (cpath: string, mount: BindMount | undefined) => void;

  /**
   * A descriptor of the directory reached through `stack` (components already
   * resolved: no symlinks). Opened with O_NOFOLLOW, so a directory swapped for a
   * symlink since it was resolved is refused rather than followed.
   */
  dirFd(stack: string[]): number {
    if (stack.length === 0) return this.rootFd;
    const key = `/${stack.join('/')}`;
    const cached = this.fds.get(key);
    if (cached !== undefined) return cached;
    const mount = this.mounts.get(key);
    let fd: number;
    try {
      fd = mount
        ? openSync(mount.source, OPEN_TRUSTED_DIR)
        : openSync(fdPath(this.dirFd(stack.slice(0, -1)), stack[stack.length - 1]!), OPEN_DIR);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT') throw new MissingPathError(key);
      if (code === 'ENOTDIR') throw new CopyPathError(`${ERR_NOT_DIRECTORY}: ${key}`);
      if (code === 'ELOOP') throw new UnsafeArchiveError(key, 'it became a symlink while being resolved');
      throw err;
    }
    this.fds.set(key, fd);
    return fd;
  }

  /**
   * Closes the cached descriptors once there are many. Only where no PathNode is
   * in use (between two entries): a node's path names its parent's descriptor,
   * whose number a new open would reuse.
   */
  trim(): void {
    if (this.fds.size >= MAX_CACHED_FDS) this.forget('/');
  }

  /** A descriptor of a resolved directory node. */
  dirFdOf(node: PathNode): number {
    return this.dirFd(node.cpath === '/' ? [] : node.cpath.slice(1).split('/'));
  }

  /** Drops cached descriptors at and under `cpath` (after it was removed or replaced). */
  forget(cpath: string): void {
    const prefix = cpath === '/' ? '/' : `${cpath}/`;
    for (const [key, fd] of this.fds) {
      if (key === cpath || key.startsWith(prefix)) {
        closeSync(fd);
        this.fds.delete(key);
      }
    }
  }
}
