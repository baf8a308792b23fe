// Writes tar entries into a fresh directory, reproducing owners, modes,
// devices, xattrs and times, and turning whiteouts into their overlayfs form.
// Directories, devices and links are made here with synchronous fs calls;
// regular files and symlinks, most of the work, go to a NodeWriter's threads
// when one is given. Anything that depends on an earlier entry (a hardlink, an
// entry replacing another, directory times) drains the writer first.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  chmodSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { ArchiveError, StoreError, TsrunError, UnsafeArchiveError } from '../errors.js';
import { native } from '../native/index.js';
import type { NodeMeta, NodeWriter } from './node-writer.js';
import { layerEntryComponents, TreeIndex, whiteoutOf, type NodeKind } from './paths.js';
import type { TarEntry, TarSink } from './tar.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const OPEN_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** A file larger than this is written here as it streams, not held in memory for the writer. */
const MAX_QUEUED_FILE = 8 * 1024 * 1024;

/** overlayfs reserves these; a layer must not smuggle in redirects or opaque markers of its own. */
function allowedXattr(name: string, kind: NodeKind): boolean {
  if (name.startsWith('trusted.overlay.')) return false;
  // The kernel refuses user.* on anything but regular files and directories.
  if (name.startsWith('user.') && kind !== 'file' && kind !== 'dir') return false;
  return true;
}

export class LayerExtractor implements TarSink {
  private readonly tree = new TreeIndex();
  /** Directory times are applied last: creating children would change them. */
  private readonly dirTimes = new Map<string, [number, number]>();
  private current: TarEntry | undefined;
  private fd: number | undefined;
  private fdPath = '';
  /** The content of the current file, while it is bound for the writer. */
  private queued: { path: string; chunks: Buffer[]; size: number } | undefined;

  constructor(
    private readonly root: string,
    private readonly writer?: NodeWriter,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  entry(e: TarEntry): void {
    this.current = e;
    try {
      this.place(e);
    } catch (err) {
      throw this.wrap(err, e.name);
    }
  }

  data(chunk: Buffer): void {
    const q = this.queued;
    if (q) {
      q.chunks.push(chunk);
      q.size += chunk.length;
      if (q.size > MAX_QUEUED_FILE) this.writeQueuedHere();
      return;
    }
    const fd = this.fd;
    if (fd === undefined) return; // content of an entry we skipped
    try {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    } catch (err) {
      throw this.wrap(err, this.current?.name ?? '');
    }
  }

  /** A large file: open it now and write what came so far; the rest streams in data(). */
  private writeQueuedHere(): void {
    const q = this.queued!;
    this.queued = undefined;
    this.drain(); // its directory may still be queued
    try {
      this.fd = openSync(q.path, OPEN_NEW_FILE, 0o600);
      this.fdPath = q.path;
    } catch (err) {
      throw this.wrap(err, this.current?.name ?? '');
    }
    for (const chunk of q.chunks) this.data(chunk);
  }

  endEntry(): void {
    const e = this.current;
    const q = this.queued;
    if (e && q) {
      this.queued = undefined;
      try {
        this.writer!.file(q.path, q.chunks, e.mode, this.metaOf(e, 'file'));
      } catch (err) {
        throw this.writerError(err);
      }
      return;
    }
    const fd = this.fd;
    if (!e || fd === undefined) return;
    this.fd = undefined;
    try {
      try {
        fchownSync(fd, e.uid, e.gid);
        fchmodSync(fd, e.mode); // after chown, which clears setuid/setgid
        futimesSync(fd, e.atime ?? e.mtime, e.mtime);
      } finally {
        closeSync(fd);
      }
      this.setXattrs(this.fdPath, e, 'file');
    } catch (err) {
      throw this.wrap(err, e.name);
    }
  }

  /** Waits for the writer and applies the directory times; call once after the last entry. */
  finish(): void {
    this.drain();
    for (const [rel, [atime, mtime]] of this.dirTimes) {
      try {
        lutimesSync(this.abs(rel), atime, mtime);
      } catch (err) {
        throw this.wrap(err, rel);
      }
    }
    this.dirTimes.clear();
  }

  /** Closes an open file and lets the writer finish after a failure elsewhere (before the tree is removed). */
  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.queued = undefined;
    this.writer?.close();
  }

  /** Waits until every queued file and symlink exists. */
  private drain(): void {
    try {
      this.writer?.drain();
    } catch (err) {
      throw this.writerError(err);
    }
  }

  private metaOf(e: TarEntry, kind: NodeKind): NodeMeta {
    const xattrs = [...e.xattrs].filter(([name]) => allowedXattr(name, kind));
    return { uid: e.uid, gid: e.gid, atime: e.atime ?? e.mtime, mtime: e.mtime, xattrs };
  }

  /** A writer failure names the entry it was creating, which may be an earlier one than the current. */
  private writerError(err: unknown): Error {
    const path = (err as NodeJS.ErrnoException).path;
    const name = path?.startsWith(`${this.root}/`) ? path.slice(this.root.length + 1) : (path ?? this.current?.name ?? '');
    return this.wrap(err, name);
  }

  private wrap(err: unknown, name: string): Error {
    if (err instanceof TsrunError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new StoreError(`cannot extract layer entry "${name}" into ${this.root}: ${msg}`, { cause: err });
  }

  private place(e: TarEntry): void {
    const parts = layerEntryComponents(e.name);
    const wh = whiteoutOf(e.name, parts);
    if (wh) {
      if (wh.kind === 'opaque') {
        this.makeParents(e.name, [...wh.dir, 'x']);
        const rel = wh.dir.join('/');
        if (this.tree.get(rel) === undefined) this.mkdir(rel, 0o755);
        else if (this.tree.get(rel) !== 'dir') throw new UnsafeArchiveError(e.name, `opaque marker in "${rel}", which is not a directory`);
        this.drain(); // the directory may still be queued
        native().lsetxattr(this.abs(rel), 'trusted.overlay.opaque', Buffer.from('y'));
      } else if (wh.kind === 'whiteout') {
        const rel = this.prepare(e.name, wh.target, false);
        this.drain(); // its parent may still be queued
        native().mknod(this.abs(rel), S_IFCHR | 0o000, 0, 0);
        this.tree.set(rel, 'other');
      }
      return;
    }

    if (parts.length === 0) {
      // "./": the layer root itself (destDir) takes the entry's metadata.
      if (e.type !== 'dir') throw new UnsafeArchiveError(e.name, 'a non-directory entry for the layer root');
      this.applyDirMeta('', e);
      return;
    }

    if (e.type === 'link') {
      // Resolve the target before touching anything: a link to the entry itself must not delete it first.
      const target = this.tree.hardlinkTarget(e.name, e.linkname);
      const rel = parts.join('/');
      if (target === rel) throw new ArchiveError(`tar entry "${e.name}": hardlink to itself`);
      this.drain(); // the target may still be on its way
      this.prepare(e.name, parts, false);
      // link(2) does not follow a symlink target, so a hardlink to a symlink stays inside the tree.
      linkSync(this.abs(target), this.abs(rel));
      this.tree.set(rel, this.tree.get(target)!);
      return;
    }

    const rel = this.prepare(e.name, parts, e.type === 'dir');
    const path = this.abs(rel);
    switch (e.type) {
      case 'dir':
        if (this.writer) {
          // One job: mkdir (when new) and the entry's owner, mode and xattrs.
          const isNew = this.tree.get(rel) !== 'dir';
          this.tree.set(rel, 'dir');
          this.queueDir(path, isNew ? 0o700 : undefined, e);
          this.dirTimes.set(rel, [e.atime ?? e.mtime, e.mtime]);
          return;
        }
        if (this.tree.get(rel) !== 'dir') this.mkdir(rel, 0o700);
        this.applyDirMeta(rel, e);
        return;
      case 'file':
        if (this.writer && e.size <= MAX_QUEUED_FILE) {
          this.queued = { path, chunks: [], size: 0 };
        } else {
          this.drain(); // its directory may still be queued
          this.fd = openSync(path, OPEN_NEW_FILE, 0o600);
          this.fdPath = path;
        }
        this.tree.set(rel, 'file');
        return; // metadata once the content is written (endEntry)
      case 'symlink':
        if (this.writer) {
          this.tree.set(rel, 'symlink');
          try {
            this.writer.symlink(e.linkname, path, this.metaOf(e, 'symlink'));
          } catch (err) {
            throw this.writerError(err);
          }
          return;
        }
        symlinkSync(e.linkname, path); // target kept verbatim, absolute or not: it is never followed here
        this.tree.set(rel, 'symlink');
        lchownSync(path, e.uid, e.gid);
        this.setXattrs(path, e, 'symlink');
        lutimesSync(path, e.atime ?? e.mtime, e.mtime);
        return;
      case 'char':
      case 'block':
      case 'fifo': {
        const typeBits = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        this.drain(); // its directory may still be queued
        native().mknod(path, typeBits | 0o600, e.devmajor, e.devminor);
        this.tree.set(rel, 'other');
        lchownSync(path, e.uid, e.gid);
        chmodSync(path, e.mode); // not a symlink, so chmod cannot follow one
        this.setXattrs(path, e, 'other');
        lutimesSync(path, e.atime ?? e.mtime, e.mtime);
        return;
      }
    }
  }

  /**
   * Creates the missing parents and clears whatever sits at `parts` (an entry
   * replaces an earlier one; a directory over a directory merges instead).
   */
  private prepare(name: string, parts: string[], isDir: boolean): string {
    this.makeParents(name, parts);
    const rel = parts.join('/');
    const existing = this.tree.get(rel);
    if (existing === undefined || (isDir && existing === 'dir')) return rel;
    this.drain(); // what is replaced, or something under it, may still be on its way
    // rmSync never follows symlinks; it removes the link itself.
    if (existing === 'dir') {
      rmSync(this.abs(rel), { recursive: true, force: true });
      for (const key of this.dirTimes.keys()) if (key === rel || key.startsWith(rel + '/')) this.dirTimes.delete(key);
    } else unlinkSync(this.abs(rel));
    this.tree.removeTree(rel);
    return rel;
  }

  private makeParents(name: string, parts: string[]): void {
    // Implicit parents get root:root 0755, as Docker and GNU tar create them.
    for (const rel of this.tree.missingParents(name, parts)) this.mkdir(rel, 0o755);
  }

  private mkdir(rel: string, mode: number): void {
    this.tree.set(rel, 'dir');
    if (this.writer) return this.queueDir(this.abs(rel), mode);
    mkdirSync(this.abs(rel), mode);
    if (mode === 0o755) chmodSync(this.abs(rel), mode); // the umask applied to mkdir
  }

  /** A directory made and/or given an entry's metadata on the writer's thread, in order with the rest. */
  private queueDir(path: string, createMode: number | undefined, e?: TarEntry): void {
    try {
      this.writer!.dir(path, createMode, e && { mode: e.mode, ...this.metaOf(e, 'dir') });
    } catch (err) {
      throw this.writerError(err);
    }
  }

  private applyDirMeta(rel: string, e: TarEntry): void {
    const path = this.abs(rel);
    if (this.writer) {
      this.queueDir(path, undefined, e);
      this.dirTimes.set(rel, [e.atime ?? e.mtime, e.mtime]);
      return;
    }
    lchownSync(path, e.uid, e.gid);
    chmodSync(path, e.mode);
    this.setXattrs(path, e, 'dir');
    this.dirTimes.set(rel, [e.atime ?? e.mtime, e.mtime]);
  }

  private setXattrs(path: string, e: TarEntry, kind: NodeKind): void {
    // After chown, which drops security.capability.
    for (const [name, value] of e.xattrs) if (allowedXattr(name, kind)) native().lsetxattr(path, name, value);
  }
}
