// Typed access to the native addon (src/native/tsrun_native.c), loaded lazily
// so commands that never need it do not pay for it.
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { nativeAddonPath } from '../util/paths.js';

export interface NativeAddon {
  /** Returns false when LOCK_NB is set and another holder has the lock. */
  flock(fd: number, op: number): boolean;
  /** Whether `path` names the file open on `fd` (same device and inode); false when it is gone. */
  namesFile(path: string, fd: number): boolean;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** null when the attribute is absent. */
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  mount(source: string, target: string, fstype: string, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  /** Puts the terminal on fd in cfmakeraw's mode (output processing off too); returns its previous termios for restoreTermios. */
  makeRaw(fd: number): Buffer;
  restoreTermios(fd: number, saved: Buffer): void;
  /** posix_fadvise(POSIX_FADV_DONTNEED): starts writing back the range's dirty pages and drops its clean ones. */
  dropCachedPages(fd: number, offset: number, length: number): void;
  /** isatty(3) without Node's tty module. */
  isatty(fd: number): boolean;
  /** _exit(2): ends the process at once, without Node's teardown; returns false (and does not) when a pipe or socket on stdio was made non-blocking, which only Node's exit puts back. */
  exitNow(code: number): boolean;
  /** A pool of threads that creates files and symlinks (node_writer.c); see unpack/node-writer.ts. */
  nodeWriterOpen(threads: number, maxBytes: number): NodeWriterHandle;
  nodeWriterFile(
    w: NodeWriterHandle, path: string, chunks: Buffer[], mode: number, uid: number, gid: number,
    atime: number, mtime: number, xattrNames: string[], xattrValues: Buffer[],
  ): void;
  nodeWriterSymlink(
    w: NodeWriterHandle, target: string, path: string, uid: number, gid: number,
    atime: number, mtime: number, xattrNames: string[], xattrValues: Buffer[],
  ): void;
  /** mkdir when createMode >= 0; with meta [mode, uid, gid, xattrNames, xattrValues], then owner, mode and xattrs. */
  nodeWriterDir(w: NodeWriterHandle, path: string, createMode: number, meta: [number, number, number, string[], Buffer[]] | null): void;
  nodeWriterDrain(w: NodeWriterHandle): void;
  nodeWriterClose(w: NodeWriterHandle): void;
  /** rm -rf of path without following symlinks or entering another filesystem (EXDEV); a missing path is fine. */
  removeTree(path: string): void;
  /** The file's bytes as a Latin-1 string over its pages (mmap), not a copy; for hack/cli-entry.cjs's bundle. Absent on Node < 20.4. */
  mapLatin1File?(path: string): string;
  /** The file's bytes as a read-only Buffer over its pages (mmap); for the code cache. */
  mapFile(path: string): Buffer;
  /**
   * Starts a thread that writes "0" to procsFile now and every 5 ms for up to maxMs, while it holds
   * an exclusive flock on lockFile ('' for none), so one process on the host writes at a time
   * (cgroup_warm.c); false if no thread.
   */
  warmCgroupLock(procsFile: string, lockFile: string, maxMs: number): boolean;
  /** Stops that thread after its current write. */
  coolCgroupLock(): void;
  /** Whether such a thread is writing now (warmOwnCgroupLock asks it itself; for tests). */
  cgroupLockWarming(): boolean;
  /**
   * warmCgroupLock on this process's own cgroup.procs in the unified hierarchy (else on
   * v1ProcsFile, if given), with the host-wide writer lock and time limit (cgroup_warm.c);
   * true at once when a thread is writing already.
   */
  warmOwnCgroupLock(v1ProcsFile?: string): boolean;
  /** That file, from /proc/self/cgroup's and /proc/self/mountinfo's texts (null: none); for tests. */
  ownUnifiedProcsFile(procCgroup: string, mountinfo: string): string | null;
  /** posix_spawn of file; the child's fd i is the caller's fds[i] (-1: /dev/null). Returns the pid (spawn.c). */
  spawnProcess(file: string, argv: string[], fds: number[]): number;
  /** A pipe, both ends close-on-exec: [readFd, writeFd]. */
  makePipe(): [number, number];
  /** Reads fd on a thread: cb(chunk) per read, cb(null) at end of file. The watch owns fd and closes it. */
  watchFd(fd: number, cb: (chunk: Buffer | null) => void): BackgroundHandle;
  /** No more callbacks from a watch. */
  unwatchFd(watch: BackgroundHandle): void;
  /** Waits for a child on a thread: cb(exitCode, null) or cb(null, signal), once (both null: not a child). */
  waitPid(pid: number, cb: (code: number | null, signal: number | null) => void): BackgroundHandle;
  /** waitpid(pid, WNOHANG): true once that child has ended and is reaped (or is no child of ours). */
  reapChild(pid: number): boolean;
  /** Whether a watch or wait keeps the event loop alive (they do at first). */
  refHandle(handle: BackgroundHandle, ref: boolean): void;
}

/** A watchFd or waitPid thread (an external value). */
export type BackgroundHandle = { readonly __background: unique symbol };

/** The native writer's handle (an external value). */
export type NodeWriterHandle = { readonly __nodeWriter: unique symbol };

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MNT_DETACH = 0x2;

let addon: NativeAddon | undefined;

/**
 * The CommonJS bundle's own require (a module made from import.meta.url costs ~0.1 ms at start-up),
 * else one for this ES module. (An ES bundle's stand-in `require` has no cache and cannot load files.)
 */
const moduleRequire = (): NodeRequire =>
  typeof require === 'function' && typeof require.cache === 'object' ? require : createRequire(import.meta.url);

export function native(): NativeAddon {
  if (!addon) addon = moduleRequire()(nativeAddonPath()) as NativeAddon;
  return addon;
}

/**
 * Ends the process with `code` at once if the addon is loaded already (loading it for this alone
 * would cost more than it saves); returns otherwise. Node's own exit spends 1-2 ms tearing down
 * its environment, V8 and its threads only to free memory that the kernel frees anyway.
 */
export function exitNowIfLoaded(code: number): void {
  nativeIfLoaded()?.exitNow(code);
}

/**
 * The addon if this process loaded it already, else undefined, without loading it. The CLI entry
 * (hack/cli-entry.cjs) loads it before the bundle (it maps the bundle with it), and Node's require
 * cache is the process's; undefined only where the addon is not built.
 */
export function nativeIfLoaded(): NativeAddon | undefined {
  if (addon) return addon;
  let path: string;
  try {
    path = realpathSync(nativeAddonPath()); // the require cache's key
  } catch {
    return undefined; // not built
  }
  addon = moduleRequire().cache[path]?.exports as NativeAddon | undefined;
  return addon;
}

/** Removes a directory tree of the engine's own (see remove_tree.c): never through a symlink or into a mount. */
export function removeTree(path: string): void {
  native().removeTree(path);
}
