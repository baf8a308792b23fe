// Tar entries into an existing directory tree, as Docker's Untar does for `cp`
// (with NoOverwriteDirNonDir): an entry replaces a file or symlink of the same
// name, a directory merges into a directory, and a directory never replaces a
// non-directory nor the reverse. Names are checked by unpack's entryComponents
// (no ".." anywhere; a leading "/" is dropped); parents are resolved through the
// RootedFs, so inside a container a symlinked parent is followed within the
// container's root, and in a host directory it is refused. Nothing is ever
// created through a symlink: files are opened O_CREAT|O_EXCL|O_NOFOLLOW
// relative to their parent's descriptor.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { ArchiveError, TsrunError, UnsafeArchiveError } from '../errors.js';
import { native } from '../native/index.js';
import { entryComponents } from '../unpack/paths.js';
import type { TarEntry, TarSink } from '../unpack/tar.js';
import { CopyPathError, rebaseEntryName } from './cp-rules.js';
import { isOverlayXattr } from './fs-walk.js';
import { fdPath, type BindMount, type PathNode, type RootedFs } from './rooted-fs.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
// (libuv opens every descriptor with O_CLOEXEC.)
const OPEN_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Who owns what is extracted: the archive's ids, fixed ids, or whoever extracts (no chown). */
export type OwnerPolicy = { kind: 'keep' } | { kind: 'fixed'; uid: number; gid: number } | { kind: 'none' };

export interface ExtractOptions {
  /** The directory the entries are relative to, as components inside the tree. */
  base: string[];
  owner: OwnerPolicy;
  /** Give the archive's top entry another name (Docker's rebase). */
  rename?: { from: string; to: string };
  /** Throws to refuse writing at `cpath` (a read-only mount or rootfs). */
  checkWritable?: (cpath: string, mount: BindMount | undefined) => void;
}

export class TreeExtractor implements TarSink {
  private current: TarEntry | undefined;
  private fd: number | undefined;
  private target: { node: PathNode; path: string; fixed: boolean } | undefined;
  /** Directory times are applied last: creating children changes them. */
  private readonly dirTimes = new Map<string, [number, number]>();
  readonly stats = { bytes: 0, entries: 0 };

  constructor(
    private readonly fs: RootedFs,
    private readonly opts: ExtractOptions,
  ) {
    fs.onCreate = (cpath, mount) => opts.checkWritable?.(cpath, mount);
  }

  private wrap(err: unknown, name: string): Error {
    if (err instanceof TsrunError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new ArchiveError(`cannot extract "${name}": ${msg}`, { cause: err });
  }

  entry(e: TarEntry): void {
    this.current = e;
    this.target = undefined;
    try {
      this.place(e);
      this.stats.entries++;
    } catch (err) {
      throw this.wrap(err, e.name);
    }
  }

  data(chunk: Buffer): void {
    const fd = this.fd;
    if (fd === undefined) return;
    try {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      this.stats.bytes += chunk.length;
    } catch (err) {
      throw this.wrap(err, this.current?.name ?? '');
    }
  }

  endEntry(): void {
    const e = this.current;
    const fd = this.fd;
    if (!e || fd === undefined) return;
    this.fd = undefined;
    try {
      try {
        if (!this.target?.fixed) {
          this.chown(e, (uid, gid) => fchownSync(fd, uid, gid));
          fchmodSync(fd, e.mode); // after chown, which clears setuid/setgid
          futimesSync(fd, e.atime ?? e.mtime, e.mtime);
        }
      } finally {
        closeSync(fd);
      }
      if (this.target && !this.target.fixed) this.setXattrs(this.target.path, e);
    } catch (err) {
      throw this.wrap(err, e.name);
    }
  }

  /** Applies the directory times; call once after the last entry. */
  finish(): void {
    for (const [cpath, [atime, mtime]] of [...this.dirTimes].reverse()) {
      try {
        const node = this.fs.resolve(cpath, { followFinal: false });
        if (node.stat?.isDirectory()) withDirFd(node.path, (fd) => futimesSync(fd, atime, mtime));
      } catch {
        // removed meanwhile by a later entry: nothing to date
      }
    }
    this.dirTimes.clear();
  }

  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private chown(e: TarEntry, fn: (uid: number, gid: number) => void): void {
    const o = this.opts.owner;
    if (o.kind === 'keep') fn(e.uid, e.gid);
    else if (o.kind === 'fixed') fn(o.uid, o.gid);
  }

  private setXattrs(path: string, e: TarEntry): void {
    for (const [name, value] of e.xattrs) {
      if (isOverlayXattr(name)) continue;
      if (name.startsWith('user.') && e.type !== 'file' && e.type !== 'dir') continue;
      try {
        native().lsetxattr(path, name, value);
      } catch {
        // Best effort, as Docker: a namespace the filesystem refuses (security.selinux, user.* on tmpfs) is skipped.
      }
    }
  }

  private cpathOf(parts: string[]): string {
    return `/${[...this.opts.base, ...parts].join('/')}`;
  }

  private place(e: TarEntry): void {
    this.fs.trim();
    const name = this.opts.rename ? rebaseEntryName(e.name, this.opts.rename.from, this.opts.rename.to) : e.name;
    const parts = entryComponents(name);
    // The extraction directory itself ("." of a "dir/." copy): Docker leaves an existing directory as it is.
    if (parts.length === 0) {
      if (e.type !== 'dir') throw new UnsafeArchiveError(e.name, 'a non-directory entry for the extraction directory');
      return;
    }
    const parent = this.fs.resolve(parts.slice(0, -1).join('/'), { followFinal: true, createParents: true, dir: true, from: this.opts.base });
    const last = parts[parts.length - 1]!;
    const cpath = parent.cpath === '/' ? `/${last}` : `${parent.cpath}/${last}`;
    const mount = this.fs.mountAt(cpath);
    const parentFd = this.fs.dirFdOf(parent);
    const node: PathNode = mount
      ? { cpath, path: mount.source, stat: lstatQuiet(mount.source), mount, fixed: true }
      : { cpath, path: fdPath(parentFd, last), stat: lstatQuiet(fdPath(parentFd, last)), mount: this.fs.mountOf(cpath), fixed: false };
    this.opts.checkWritable?.(cpath, node.mount);
    const existing = node.stat;
    const isDir = e.type === 'dir';
    if (existing?.isDirectory() && !isDir) throw new CopyPathError(`cannot overwrite directory "${cpath}" with non-directory "${this.cpathOf([])}"`);
    if (existing && !existing.isDirectory() && isDir) throw new CopyPathError(`cannot overwrite non-directory "${cpath}" with directory "${this.cpathOf([])}"`);

    if (e.type === 'link') {
      // Docker resolves the target against the extraction directory; link(2) does not follow a symlink target.
      const linkname = this.opts.rename ? rebaseEntryName(e.linkname, this.opts.rename.from, this.opts.rename.to) : e.linkname;
      const targetParts = entryComponents(linkname);
      if (targetParts.length === 0) throw new UnsafeArchiveError(e.name, `hardlink to the extraction directory ("${e.linkname}")`);
      const target = this.fs.resolve(targetParts.join('/'), { followFinal: false, from: this.opts.base });
      if (!target.stat) throw new UnsafeArchiveError(e.name, `hardlink target "${e.linkname}" does not exist`);
      if (target.stat.isDirectory()) throw new UnsafeArchiveError(e.name, `hardlink target "${e.linkname}" is a directory`);
      if (target.cpath === cpath) return; // already that file
      if (node.fixed) throw new CopyPathError(`cannot replace the mount point "${cpath}"`);
      if (existing) unlinkSync(node.path);
      linkSync(target.path, node.path);
      return;
    }

    if (isDir) {
      if (!existing) {
        if (node.fixed) throw new CopyPathError(`mount source of "${cpath}" is missing`);
        mkdirSync(node.path, 0o700); // the entry's owner and mode follow
      }
      // Through a descriptor: chmod(2) on the path would follow a symlink swapped in meanwhile.
      withDirFd(node.path, (fd) => {
        this.chown(e, (uid, gid) => fchownSync(fd, uid, gid));
        fchmodSync(fd, e.mode);
      });
      this.setXattrs(node.path, e);
      this.dirTimes.set(cpath, [e.atime ?? e.mtime, e.mtime]);
      return;
    }

    if (node.fixed) {
      // A bind-mounted file (/etc/hosts): its content is replaced in place; the mount point stays.
      if (e.type !== 'file' || !existing?.isFile()) throw new CopyPathError(`cannot replace the mount point "${cpath}"`);
      this.fd = openSync(node.path, constants.O_WRONLY | constants.O_TRUNC);
      this.target = { node, path: node.path, fixed: true };
      return;
    }
    if (existing) unlinkSync(node.path);

    switch (e.type) {
      case 'file':
        this.fd = openSync(node.path, OPEN_NEW_FILE, 0o600);
        this.target = { node, path: node.path, fixed: false };
        return; // metadata once the content is written (endEntry)
      case 'symlink':
        symlinkSync(e.linkname, node.path); // kept verbatim: it is never followed here
        this.chown(e, (uid, gid) => lchownSync(node.path, uid, gid));
        this.setXattrs(node.path, e);
        lutimesSync(node.path, e.atime ?? e.mtime, e.mtime);
        return;
      case 'char':
      case 'block':
      case 'fifo': {
        const typeBits = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        // Made with its final mode (chmod(2) could follow a symlink swapped in meanwhile; a device cannot be opened safely).
        withUmask0(() => native().mknod(node.path, typeBits | (e.mode & 0o777), e.devmajor, e.devminor));
        this.chown(e, (uid, gid) => lchownSync(node.path, uid, gid));
        this.setXattrs(node.path, e);
        lutimesSync(node.path, e.atime ?? e.mtime, e.mtime);
        return;
      }
    }
  }
}

/** Runs `fn` with an open descriptor of the directory at `path`, refusing a symlink there. */
export function withDirFd(path: string, fn: (fd: number) => void): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Runs `fn` with the umask cleared, so a node is made with exactly the mode asked for. */
function withUmask0<T>(fn: () => T): T {
  const old = process.umask(0);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

function lstatQuiet(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
