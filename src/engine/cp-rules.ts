// Docker's path rules for `cp`, kept pure (strings in, decisions out) so they can
// be tested without a filesystem. Docker's client and daemon decide what a copy
// does from three facts: what the source is (file or directory, and whether its
// path ends in "/" or "/."), whether the destination exists and is a directory,
// and whether the destination path asserts a directory. The archive that carries
// the source is then either extracted into the destination directory as it is,
// or into the destination's parent with its top entry renamed to the
// destination's base name ("rebased").
//
// Paths follow Go's path/filepath semantics on Linux (Clean, Dir, Base, Split),
// which differ from Node's in the corners that matter here (trailing slashes,
// "." bases), so they are written out below.
import { TsrunError, type TsrunErrorOptions } from '../errors.js';

/**
 * A failure with Docker's own wording for a path rule (no such directory,
 * cannot copy directory, not a directory) or a missing file in a container.
 * Docker's CLI exits 1 for these, not with tsrun's own 125.
 */
export class CopyPathError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('COPY_PATH', message, options);
  }
}

export const ERR_NOT_DIRECTORY = 'not a directory';
export const ERR_DIR_NOT_EXISTS = 'no such directory';
export const ERR_CANNOT_COPY_DIR = 'cannot copy directory';

/** Go's path.Clean: lexical; "" -> "."; no trailing slash except for the root. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's filepath.Base: the last element, trailing slashes ignored; "" -> ".", all slashes -> "/". */
export function baseName(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** Go's filepath.Dir: everything before the last slash, cleaned. */
export function dirName(p: string): string {
  const i = p.lastIndexOf('/');
  return cleanPath(p.slice(0, i + 1));
}

/** Go's filepath.Split: [up to and including the last slash, the rest]. */
export function splitPath(p: string): [string, string] {
  const i = p.lastIndexOf('/');
  return [p.slice(0, i + 1), p.slice(i + 1)];
}

export const hasTrailingSeparator = (p: string): boolean => p.endsWith('/');
export const specifiesCurrentDir = (p: string): boolean => baseName(p) === '.';
/** A path ending in "/" or "/." says the destination must be a directory. */
export const assertsDirectory = (p: string): boolean => hasTrailingSeparator(p) || specifiesCurrentDir(p);

/** Re-appends the "/." or "/" of `original` that cleaning removed from `cleaned`. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(out)) out += '/';
    out += '.';
  }
  if (!hasTrailingSeparator(out) && hasTrailingSeparator(original)) out += '/';
  return out;
}

/** [directory, entry] of a path, keeping a final "." as the entry ("/a/." -> ["/a", "."]). */
export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = cleanPath(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return [dirName(cleaned), baseName(cleaned)];
}

/** A path in a container as its root sees it: relative paths start at "/"; "/." and "/" endings are kept. */
export function containerAbsPath(p: string): string {
  return preserveTrailingDotOrSeparator(cleanPath(`/${p}`), p);
}

/**
 * After a symlink at `path` was resolved to `resolved`: the path to copy (with the
 * original's "/." or "/" ending) and the name its archive entry must keep, when
 * the link's name differs from its target's.
 */
export function getRebaseName(path: string, resolved: string): { path: string; rebaseName: string | undefined } {
  let out = resolved;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(out)) out += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(out)) out += '/';
  const rebaseName = baseName(path) !== baseName(out) ? baseName(path) : undefined;
  return { path: out, rebaseName };
}

/**
 * Splits a cp argument into [container, path]. As in Docker, a local path with a
 * colon must start with "/" or "." ("./file:name"); "-" is a stream.
 */
export function splitCpArg(arg: string): { container: string | undefined; path: string } {
  if (arg.startsWith('/')) return { container: undefined, path: arg };
  const colon = arg.indexOf(':');
  if (colon < 0) return { container: undefined, path: arg };
  const container = arg.slice(0, colon);
  if (container.startsWith('.')) return { container: undefined, path: arg };
  // Docker reads ":PATH" as the local PATH (an empty container name means none).
  if (container === '') return { container: undefined, path: arg.slice(colon + 1) };
  return { container, path: arg.slice(colon + 1) };
}

export interface CopySource {
  /** The source path (resolved; may end in "/" or "/."). */
  path: string;
  isDir: boolean;
  /** The name the top entry must keep (a symlink that was followed). */
  rebaseName?: string;
}

export interface CopyDestination {
  path: string;
  exists: boolean;
  isDir: boolean;
}

export interface CopyPlan {
  /** The directory the archive is extracted into. */
  extractDir: string;
  /** The archive's top entry name, and the name it must take there (undefined: unchanged). */
  topName: string;
  renameTo: string | undefined;
}

/** The archive's top entry name for a source: its base (or rebase) name; the root copies as ".". */
export function archiveTopName(src: CopySource): string {
  if (src.rebaseName) return src.rebaseName;
  const [, base] = splitPathDirEntry(src.path);
  return base === '/' ? '.' : base;
}

/**
 * Docker's PrepareArchiveCopy: where the archive of `src` goes so that extracting it
 * gives `dst` the right content.
 * - destination is an existing directory: extract into it as is (a "/." source
 *   puts its content there, any other source a copy named after it);
 * - destination is an existing file: a directory cannot go there; a file replaces it;
 * - destination does not exist: extract into its parent and rename the top entry
 *   to its base name, except that a file cannot create a path that asserts a
 *   directory ("dir/" or "dir/.").
 */
export function prepareArchiveCopy(src: CopySource, dst: CopyDestination): CopyPlan {
  const topName = archiveTopName(src);
  if (dst.exists && dst.isDir) return { extractDir: dst.path, topName, renameTo: undefined };
  if (dst.exists && src.isDir) throw new CopyPathError(ERR_CANNOT_COPY_DIR);
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new CopyPathError(ERR_DIR_NOT_EXISTS);
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  return { extractDir: dstDir, topName, renameTo: dstBase };
}

/** Renames an archive entry whose name starts with `from` (the top entry or below it) to start with `to`. */
export function rebaseEntryName(name: string, from: string, to: string): string {
  if (from === to) return name;
  if (name === from || name === `${from}/`) return name.endsWith('/') ? `${to}/` : to;
  if (name.startsWith(`${from}/`)) return to + name.slice(from.length);
  return name;
}

/** Docker's human size with three significant digits and decimal units ("2.05kB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))}${units[i]}`;
}
