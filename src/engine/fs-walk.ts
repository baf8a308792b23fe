// A directory tree as tar entries: what `cp` reads from a container or the
// host and what `export` writes. Entries go to a TarSink, either a tar stream
// (TarStreamSink, for stdout and files) or directly to an extractor.
//
// Every node is reached relative to its parent's descriptor and opened with
// O_NOFOLLOW, so a process that swaps a directory for a symlink while we walk
// cannot make us read outside the tree. Directories are walked in byte order
// (as Go's filepath.Walk, so archives come out as Docker's do), hard links
// within the tree become link entries, sockets are skipped, and overlayfs'
// own xattrs are left out.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { StoreError } from '../errors.js';
import { native } from '../native/index.js';
import type { TarEntry, TarSink } from '../unpack/tar.js';
import { encodeTarHeader, tarPadding, tarTrailer } from '../unpack/tar-writer.js';
import { fdPath, type BindMount } from './rooted-fs.js';

const CHUNK = 1024 * 1024;
// (libuv opens every descriptor with O_CLOEXEC.)
const OPEN_DIR_NOFOLLOW = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY;
const OPEN_FILE_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const OPEN_FILE = constants.O_RDONLY | constants.O_NONBLOCK;

/** overlayfs keeps its state in these; they mean nothing outside the overlay. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

/** A sink that may ask the walker to wait (a stream's backpressure). */
export interface WalkSink extends TarSink {
  drain?(): Promise<void>;
}

export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** A node's xattrs by name (sorted), without overlayfs's own. */
export function xattrsOf(path: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let names: string[];
  try {
    names = native().llistxattr(path);
  } catch {
    return out; // no xattr support here
  }
  for (const name of names.sort()) {
    if (isOverlayXattr(name)) continue;
    try {
      const value = native().lgetxattr(path, name);
      if (value !== null) out.set(name, value);
    } catch {
      // gone meanwhile, or a namespace we may not read
    }
  }
  return out;
}

/** Names in byte order, as tar archives list them. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export interface WalkStats {
  /** Bytes of regular file content. */
  bytes: number;
  entries: number;
}

export interface WalkRoot {
  /** A host path of the node that does not follow its last component (or a trusted host path). */
  path: string;
  /** Its path inside the tree, to find mounts below it ("/" for the root). */
  cpath: string;
  /** The path is a mount's source or the tree's root: open it even if it is reached through a symlink. */
  trusted: boolean;
}

export class TreeWalker {
  private readonly links = new Map<string, string>();
  readonly stats: WalkStats = { bytes: 0, entries: 0 };

  constructor(
    private readonly sink: WalkSink,
    /** Bind mounts by their destination: walking into one reads its source. */
    private readonly mountAt: (cpath: string) => BindMount | undefined = () => undefined,
  ) {}

  /**
   * Emits the node at `root` as `name` and everything below it as `name/...`;
   * with name undefined, only what is below it, named relative to it (export).
   */
  async walk(root: WalkRoot, name: string | undefined): Promise<void> {
    await this.node(root.path, root.cpath, name, root.trusted);
  }

  private emit(e: Omit<TarEntry, 'atime' | 'xattrs'> & { xattrs?: Map<string, Buffer> }): void {
    this.stats.entries++;
    this.sink.entry({ atime: undefined, xattrs: new Map(), ...e });
  }

  private async node(path: string, cpath: string, name: string | undefined, trusted: boolean): Promise<void> {
    let st: BigIntStats;
    try {
      st = lstatSync(path, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && name !== undefined && cpath !== '/') return; // removed while we walked
      throw err;
    }
    if (trusted && st.isSymbolicLink()) st = fstatOf(path);
    const base = { name: name ?? '', mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeMs) / 1000, linkname: '', devmajor: 0, devminor: 0, size: 0 };
    if (st.isDirectory()) return this.directory(path, cpath, name, trusted, base);
    if (name === undefined) throw new StoreError(`${path} is not a directory`);
    if (st.isFile()) return this.file(path, trusted, st, base);
    if (st.isSymbolicLink()) {
      this.emit({ ...base, type: 'symlink', linkname: readlinkSync(path), xattrs: xattrsOf(path) });
      this.sink.endEntry();
      return;
    }
    if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      if (this.hardlink(st, base)) return;
      const { major, minor } = st.isFIFO() ? { major: 0, minor: 0 } : deviceNumbers(st.rdev);
      this.emit({ ...base, type: st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : 'block', devmajor: major, devminor: minor, xattrs: xattrsOf(path) });
      this.sink.endEntry();
    }
    // A socket: meaningless without its server, and tar has no type for it.
  }

  /** A second name of a file already in the archive: a link entry. */
  private hardlink(st: BigIntStats, base: { name: string }): boolean {
    if (st.nlink <= 1n) return false;
    const key = `${st.dev}:${st.ino}`;
    const first = this.links.get(key);
    if (first === undefined) {
      this.links.set(key, base.name);
      return false;
    }
    this.emit({ ...(base as Omit<TarEntry, 'atime' | 'xattrs' | 'type'>), type: 'link', linkname: first, size: 0 });
    this.sink.endEntry();
    return true;
  }

  private async directory(path: string, cpath: string, name: string | undefined, trusted: boolean, base: Omit<TarEntry, 'atime' | 'xattrs' | 'type'>): Promise<void> {
    const fd = openSync(path, trusted ? OPEN_DIR : OPEN_DIR_NOFOLLOW);
    try {
      if (name !== undefined) {
        const st = fstatSync(fd, { bigint: true });
        this.emit({ ...base, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeMs) / 1000, type: 'dir', xattrs: xattrsOf(path) });
        this.sink.endEntry();
        await this.sink.drain?.();
      }
      const children = readdirSync(fdPath(fd)).sort(byteOrder);
      for (const child of children) {
        const childCpath = cpath === '/' ? `/${child}` : `${cpath}/${child}`;
        const mount = this.mountAt(childCpath);
        const childName = name === undefined ? child : name === '.' ? `./${child}` : `${name}/${child}`;
        await this.node(mount ? mount.source : fdPath(fd, child), childCpath, childName, mount !== undefined);
      }
    } finally {
      closeSync(fd);
    }
  }

  private async file(path: string, trusted: boolean, lst: BigIntStats, base: Omit<TarEntry, 'atime' | 'xattrs' | 'type'>): Promise<void> {
    let fd: number;
    try {
      fd = openSync(path, trusted ? OPEN_FILE : OPEN_FILE_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while we walked
      throw err;
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) return; // swapped for something else since lstat: leave it out
      if (!trusted && this.hardlink(lst, base)) return;
      const size = Number(st.size);
      this.emit({ ...base, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeMs) / 1000, type: 'file', size, xattrs: xattrsOf(path) });
      let left = size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(left, CHUNK));
        const n = readSync(fd, buf, 0, buf.length, null);
        // A file that shrank while we read it (a running container) is padded to the size announced.
        if (n === 0) {
          buf.fill(0);
          this.sink.data(buf);
          left -= buf.length;
        } else {
          this.sink.data(n === buf.length ? buf : buf.subarray(0, n));
          left -= n;
        }
        await this.sink.drain?.();
      }
      this.stats.bytes += size;
      this.sink.endEntry();
    } finally {
      closeSync(fd);
    }
  }
}

function fstatOf(path: string): BigIntStats {
  const fd = openSync(path, OPEN_FILE);
  try {
    return fstatSync(fd, { bigint: true });
  } finally {
    closeSync(fd);
  }
}

/** Entries as a tar stream on `out`; finish() writes the end-of-archive marker and ends the stream. */
export class TarStreamSink implements WalkSink {
  private size = 0;
  /** A write error (EPIPE when the reader went away), raised at the next write instead of as an unhandled event. */
  private error: Error | undefined;

  constructor(private readonly out: Writable) {
    out.on('error', (err) => {
      this.error ??= err;
    });
  }

  private write(chunk: Buffer): void {
    if (this.error) throw new StoreError(`cannot write the archive: ${this.error.message}`, { cause: this.error });
    this.out.write(chunk);
  }

  entry(e: TarEntry): void {
    this.size = e.type === 'file' ? e.size : 0;
    this.write(encodeTarHeader(e));
  }

  data(chunk: Buffer): void {
    this.write(chunk);
  }

  endEntry(): void {
    const pad = tarPadding(this.size);
    if (pad.length) this.write(pad);
    this.size = 0;
  }

  async drain(): Promise<void> {
    if (this.out.writableNeedDrain && !this.error) await once(this.out, 'drain');
  }

  async finish(): Promise<void> {
    this.write(tarTrailer());
    this.out.end();
    if (!this.out.writableFinished) await once(this.out, 'finish');
  }
}
