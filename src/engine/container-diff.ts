// `tsrun diff`: what changed in a container's filesystem against its image, read
// from the overlay's upper directory and the image's layer trees (no mount
// needed). Docker's rules:
// - a whiteout (char device 0/0) is "D";
// - anything else in the upper dir is "C" when the image had that path, else "A";
// - a directory the image had with the same mode, size and mtime is not listed
//   (it is only there because something below it changed);
// - the parent of an "A" or "D" is listed as "C" (once, before it) unless it is "/".
// The order is Docker's: a depth-first walk with the names of each directory
// in byte order, parents first.
//
// Beyond a plain walk of the upper dir: an opaque directory (removed and made
// again) also lists as "D" what the image had in it and the upper dir lacks,
// so the answer does not depend on how overlayfs recorded the change; and the
// mount points the runtime made for the container's mounts (/etc/hosts, a
// volume's directory: empty files and directories that the image lacks) are
// not listed, as Docker keeps them in a separate init layer.
import { closeSync, constants, lstatSync, openSync, readdirSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native/index.js';
import { fdPath } from './rooted-fs.js';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  kind: ChangeKind;
  path: string;
}

function lstatQuiet(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

/** An overlay directory that hides what the layers below have there (trusted.overlay.opaque=y). */
export function isOpaque(path: string): boolean {
  try {
    const v = native().lgetxattr(path, 'trusted.overlay.opaque');
    return v !== null && v.toString() === 'y';
  } catch {
    return false;
  }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The merged view of the image's layers (top layer first), as overlayfs shows it, without mounting it. */
export class LowerView {
  constructor(private readonly layers: string[]) {}

  /**
   * For each layer from the top, whether `parts` may come from it: 'stop' when
   * this layer hides the path from every layer below (a whiteout or a file on
   * the way, or the path itself), 'opaque' when a directory on the way is
   * opaque (this layer counts, the ones below do not), else 'open'.
   */
  private reach(layer: string, parts: string[]): 'stop' | 'opaque' | 'open' | 'absent' {
    let path = layer;
    let opaque = false;
    for (let i = 0; i < parts.length - 1; i++) {
      path = join(path, parts[i]!);
      const st = lstatQuiet(path);
      if (!st) return opaque ? 'stop' : 'absent';
      if (!st.isDirectory()) return 'stop';
      if (isOpaque(path)) opaque = true;
    }
    return opaque ? 'opaque' : 'open';
  }

  /** The lstat of `parts` in the image's merged view; undefined when the image does not have it. */
  stat(parts: string[]): BigIntStats | undefined {
    for (const layer of this.layers) {
      const reach = this.reach(layer, parts);
      if (reach === 'stop') return undefined;
      if (reach === 'absent') continue;
      const st = lstatQuiet(join(layer, ...parts));
      if (st) return isWhiteout(st) ? undefined : st;
      if (reach === 'opaque') return undefined;
    }
    return undefined;
  }

  /** The names in directory `parts` of the image's merged view. */
  children(parts: string[]): Set<string> {
    const seen = new Map<string, boolean>();
    for (const layer of this.layers) {
      const reach = this.reach(layer, [...parts, 'x']);
      if (reach === 'stop') break;
      if (reach === 'absent') continue;
      const dir = join(layer, ...parts);
      const st = lstatQuiet(dir);
      if (st && !st.isDirectory()) break;
      if (st) {
        for (const name of readdirSync(dir)) {
          if (seen.has(name)) continue;
          const child = lstatQuiet(join(dir, name));
          seen.set(name, child !== undefined && !isWhiteout(child));
        }
        if (isOpaque(dir)) break;
      }
      if (reach === 'opaque') break;
    }
    return new Set([...seen].filter(([, present]) => present).map(([name]) => name));
  }
}

export interface DiffInput {
  upper: string;
  /** The image's layer trees, top layer first. */
  lowerDirs: string[];
  /** Where the container's mounts go: an empty file or directory there that the image lacks is the runtime's mount point. */
  mountPoints?: Iterable<string>;
}

/** The changes of a container's upper dir against its image, in Docker's order. */
export function containerChanges(input: DiffInput): Change[] {
  const lower = new LowerView(input.lowerDirs);
  const mountPoints = new Set(input.mountPoints ?? []);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();

  const record = (kind: ChangeKind, path: string): void => {
    if (kind !== 'C') {
      const parent = path.slice(0, path.lastIndexOf('/')) || '/';
      if (parent !== '/' && !changedDirs.has(parent)) {
        changes.push({ kind: 'C', path: parent });
        changedDirs.add(parent);
      }
    }
    changes.push({ kind, path });
  };

  const isPlaceholder = (path: string, parts: string[], st: BigIntStats, upperPath: string): boolean => {
    if (!mountPoints.has(path)) return false;
    const empty = (st.isFile() && st.size === 0n) || (st.isDirectory() && inDir(upperPath, (_at, names) => names.length === 0) === true);
    return empty && lower.stat(parts) === undefined;
  };

  /**
   * Walks upper directory `parts`, reached at `dirPath`. `replaced`: its merged
   * content is the upper dir's alone (it or a parent is opaque), so what the
   * image had there and the upper dir lacks is gone.
   */
  const walk = (parts: string[], dirPath: string, replaced: boolean): void => {
    inDir(dirPath, (at, names) => walkIn(parts, at, names, replaced));
  };

  const walkIn = (parts: string[], at: (name: string) => string, names: string[], replaced: boolean): void => {
    const gone = replaced ? [...lower.children(parts)].filter((n) => !names.includes(n)) : [];
    const goneSet = new Set(gone);
    for (const name of [...names, ...gone].sort(byteOrder)) {
      const childParts = [...parts, name];
      const path = `/${childParts.join('/')}`;
      if (goneSet.has(name)) {
        record('D', path);
        continue;
      }
      const upperPath = at(name);
      const st = lstatQuiet(upperPath);
      if (!st) continue; // removed while we read
      if (isWhiteout(st)) {
        if (lower.stat(childParts)) record('D', path);
        continue;
      }
      if (isPlaceholder(path, childParts, st, upperPath)) continue;
      const before = lower.stat(childParts);
      const opaque = st.isDirectory() && isOpaque(upperPath);
      let kind: ChangeKind | undefined = before ? 'C' : 'A';
      if (before && st.isDirectory() && before.isDirectory() && !opaque && !replaced) {
        const onlyMountPoints =
          inDir(upperPath, (inner, children) =>
            children.length > 0 &&
            children.every((n) => {
              const s = lstatQuiet(inner(n));
              return s !== undefined && isPlaceholder(`${path}/${n}`, [...childParts, n], s, inner(n));
            }),
          ) === true;
        const same = st.mode === before.mode && (onlyMountPoints || (st.size === before.size && sameTime(st, before)));
        if (same) kind = undefined;
      }
      if (kind) {
        if (st.isDirectory()) changedDirs.add(path);
        record(kind, path);
      }
      if (st.isDirectory()) walk(childParts, upperPath, replaced || opaque || (before !== undefined && !before.isDirectory()));
    }
  };

  walk([], input.upper, false);
  return changes;
}

/**
 * Runs `fn` with the names in the directory at `path` and a way to name its
 * entries through a descriptor, so that a directory a running container swaps
 * for a symlink is not followed out of its upper dir. Undefined when `path` is
 * no longer a directory.
 */
function inDir<T>(path: string, fn: (at: (name: string) => string, names: string[]) => T): T | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw err;
  }
  try {
    return fn((name) => fdPath(fd, name), readdirSync(fdPath(fd)));
  } finally {
    closeSync(fd);
  }
}

/** Docker's sameFsTime: equal, or the same second with one side lacking nanoseconds (times from a tar). */
function sameTime(a: BigIntStats, b: BigIntStats): boolean {
  if (a.mtimeNs === b.mtimeNs) return true;
  const sa = a.mtimeNs / 1_000_000_000n;
  const sb = b.mtimeNs / 1_000_000_000n;
  return sa === sb && (a.mtimeNs % 1_000_000_000n === 0n || b.mtimeNs % 1_000_000_000n === 0n);
}
