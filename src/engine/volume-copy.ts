// Docker's copy-up: when an empty volume is mounted at a path that has content
// in the image, that content is copied into the volume first (owners, modes,
// times, hard links, symlinks, device nodes, FIFOs and xattrs), and the volume's
// root takes the owner and mode of the image's directory. The source is the
// container's mounted rootfs (the overlay's merged view, so whiteouts are already
// applied); no symlink is ever followed.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  constants,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { native } from '../native/index.js';

const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** overlayfs keeps its own state in these; they mean nothing in a volume. */
const SKIPPED_XATTR_PREFIXES = ['trusted.overlay.', 'user.overlay.'];

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** True when `path` is a directory with no entries (a missing path is not empty). */
export function isEmptyDir(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch {
    return false;
  }
}

function copyXattrs(src: string, dst: string): void {
  let names: string[];
  try {
    names = native().llistxattr(src);
  } catch {
    return; // no xattr support on the source: nothing to copy
  }
  for (const name of names) {
    if (SKIPPED_XATTR_PREFIXES.some((p) => name.startsWith(p))) continue;
    try {
      const value = native().lgetxattr(src, name);
      if (value !== null) native().lsetxattr(dst, name, value);
    } catch {
      // Best effort, as Docker: a namespace the target filesystem refuses (security.selinux, user.* on a symlink) is skipped.
    }
  }
}

/** Owner, then mode (chown clears set-id bits), xattrs and times of `st` onto `dst`. */
function copyMetadata(src: string, dst: string, st: Stats): void {
  lchownSync(dst, st.uid, st.gid);
  if (!st.isSymbolicLink()) chmodSync(dst, st.mode & 0o7777);
  copyXattrs(src, dst);
  if (st.isSymbolicLink()) lutimesSync(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
  else utimesSync(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
}

function deviceNumbers(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/**
 * Copies the content of directory `src` into the existing directory `dst`.
 * Hard links inside the tree stay hard links; sockets are skipped.
 */
export function copyTree(src: string, dst: string): void {
  const links = new Map<string, string>();
  const walk = (from: string, to: string) => {
    for (const name of readdirSync(from)) {
      const s = join(from, name);
      const d = join(to, name);
      const st = lstatSync(s);
      if (st.isDirectory()) {
        mkdirSync(d, { mode: 0o700 });
        walk(s, d);
        copyMetadata(s, d, st);
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) {
        linkSync(first, d);
        continue;
      }
      if (st.isFile()) copyFileSync(s, d, constants.COPYFILE_FICLONE);
      else if (st.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
      else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
        const { major, minor } = deviceNumbers(st.rdev);
        const type = st.mode & S_IFMT;
        if (type !== S_IFCHR && type !== S_IFBLK && type !== S_IFIFO) continue;
        native().mknod(d, type | 0o600, st.isFIFO() ? 0 : major, st.isFIFO() ? 0 : minor);
      } else continue; // a socket: meaningless without its server
      copyMetadata(s, d, st);
      if (st.nlink > 1) links.set(key, d);
    }
  };
  walk(src, dst);
}

/** The owner and permission bits of directory `src` onto `dst` (Docker's copyOwnership). */
export function copyOwnership(src: string, dst: string): void {
  const st = lstatSync(src);
  lchownSync(dst, st.uid, st.gid);
  chmodSync(dst, st.mode & 0o7777);
}

/**
 * Staging directories of a copy-up into a volume that is a mount of its own (volume
 * options): inside the mounted filesystem, so that the final renames stay on it.
 * A crash leaves one behind; Volumes' repair sweeps them.
 */
export const MOUNTED_STAGING_PREFIX = '.tsrun-copy-';
export const MOUNTED_STAGING_PATTERN = /^\.tsrun-copy-\d+-[0-9a-f]{8}$/;

/** Empty but for staging directories that crashed copy-ups left in a mounted volume. */
function isEmptyButStaging(dir: string): boolean {
  try {
    return readdirSync(dir).every((n) => MOUNTED_STAGING_PATTERN.test(n));
  } catch {
    return false;
  }
}

/**
 * Fills the empty volume directory `dataDir` from `source` (a directory of the
 * container's rootfs). Nothing happens when `source` is not a directory or the
 * volume already has content. The tree is first copied into a staging directory
 * (a `.copy-*` beside the volume's _data; with `mounted`, a `.tsrun-copy-*` inside
 * it, as a rename cannot leave the volume's own filesystem), then each top-level
 * entry is renamed in, so a crash midway leaves a directory to sweep rather than
 * half-copied files. Returns whether the volume was populated.
 */
export function copyUp(source: string, dataDir: string, opts: { mounted?: boolean } = {}): boolean {
  let st: Stats;
  try {
    st = lstatSync(source);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return false;
    throw err;
  }
  if (!st.isDirectory() || !(opts.mounted ? isEmptyButStaging(dataDir) : isEmptyDir(dataDir))) return false;
  const unique = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = opts.mounted ? join(dataDir, `${MOUNTED_STAGING_PREFIX}${unique}`) : join(dirname(dataDir), `.copy-${unique}`);
  mkdirSync(temp, { mode: 0o700 });
  try {
    copyTree(source, temp);
    for (const name of readdirSync(temp)) {
      const target = join(dataDir, name);
      try {
        lstatSync(target);
        continue; // written meanwhile (another container shares the volume): theirs wins
      } catch {
        /* free */
      }
      renameSync(join(temp, name), target);
    }
    copyOwnership(source, dataDir);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return true;
}
