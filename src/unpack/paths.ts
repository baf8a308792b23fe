// Path-safety decisions for layer entries, kept pure so they can be tested
// without a filesystem. The extractor asks these before every write.
import { ArchiveError, UnsafeArchiveError } from '../errors.js';

/**
 * Splits the name of an entry of an image layer into safe components.
 * Decision: absolute names are refused, as the issue asks ("no entry may write
 * outside its layer directory"), where GNU tar and Docker would strip the
 * leading "/" and keep the entry: layer writers never produce them, so one is
 * a sign of a hostile or broken layer. A bare "/" is absolute too, and refused;
 * the layer root is "./" or ".". Otherwise as entryComponents.
 * Returns [] for the layer root.
 */
export function layerEntryComponents(name: string): string[] {
  if (name.startsWith('/')) throw new UnsafeArchiveError(name, 'the path is absolute');
  return entryComponents(name);
}

/**
 * Splits an entry name into safe components, relative to the extraction
 * directory: leading slashes are stripped, as GNU tar and Docker's cp do
 * ("/etc/x" lands at <dest>/etc/x); "." and empty components are dropped; any
 * ".." component is refused, even one that would stay inside (tar writers
 * never produce them). Layers use the stricter layerEntryComponents.
 * Returns [] for the extraction directory itself ("./").
 */
export function entryComponents(name: string): string[] {
  if (name.includes('\0')) throw new ArchiveError(`tar entry name contains a NUL byte: ${JSON.stringify(name)}`);
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new UnsafeArchiveError(name, 'the path contains ".."');
    parts.push(part);
  }
  return parts;
}

export type Whiteout =
  | { kind: 'opaque'; dir: string[] } // .wh..wh..opq: hide the lower layers' content of dir
  | { kind: 'whiteout'; target: string[] } // .wh.NAME: NAME is deleted
  | { kind: 'ignore' }; // other .wh..wh.* names: AUFS bookkeeping (hardlink dirs), meaningless here

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Classifies whiteout entries (OCI image spec, "Whiteouts"); undefined for ordinary entries. */
export function whiteoutOf(name: string, parts: string[]): Whiteout | undefined {
  const base = parts[parts.length - 1];
  if (base === undefined || !base.startsWith(WH)) return undefined;
  const dir = parts.slice(0, -1);
  if (base === OPAQUE) return { kind: 'opaque', dir };
  if (base.startsWith(WH + WH)) return { kind: 'ignore' };
  const target = base.slice(WH.length);
  if (target === '' || target === '.' || target === '..') throw new UnsafeArchiveError(name, `whiteout of "${target}" names no file`);
  return { kind: 'whiteout', target: [...dir, target] };
}

export type NodeKind = 'dir' | 'file' | 'symlink' | 'other';

/**
 * What the layer tree holds so far, path by path. The tree is private to the
 * extractor while it fills it (a fresh directory nobody else writes), so this
 * map mirrors the disk exactly and replaces an lstat per path component.
 */
export class TreeIndex {
  private readonly nodes = new Map<string, NodeKind>([['', 'dir']]);

  get(rel: string): NodeKind | undefined {
    return this.nodes.get(rel);
  }

  set(rel: string, kind: NodeKind): void {
    this.nodes.set(rel, kind);
  }

  /** Forget rel and, for a directory, everything below it. */
  removeTree(rel: string): void {
    const kind = this.nodes.get(rel);
    this.nodes.delete(rel);
    if (kind !== 'dir') return;
    const prefix = rel + '/';
    for (const key of this.nodes.keys()) if (key.startsWith(prefix)) this.nodes.delete(key);
  }

  /**
   * The parent directories of `parts` that must be created (outermost first).
   * Throws UnsafeArchiveError when a parent is a symlink (writing through it
   * could leave the tree) or something else that is not a directory.
   */
  missingParents(entryName: string, parts: string[]): string[] {
    const missing: string[] = [];
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = i === 0 ? parts[0]! : `${rel}/${parts[i]}`;
      const kind = missing.length > 0 ? undefined : this.nodes.get(rel);
      if (kind === undefined) missing.push(rel);
      else if (kind === 'symlink') throw new UnsafeArchiveError(entryName, `its parent "${rel}" is a symlink in this layer`);
      else if (kind !== 'dir') throw new UnsafeArchiveError(entryName, `its parent "${rel}" is not a directory`);
    }
    return missing;
  }

  /**
   * Decision for a hardlink: the target must already be in this layer, reached
   * through real directories only, and not be a directory. An absolute target
   * names no entry a layer may have (see layerEntryComponents). Returns its
   * relative path.
   */
  hardlinkTarget(entryName: string, linkname: string): string {
    if (linkname.split('/').includes('..')) throw new UnsafeArchiveError(entryName, `hardlink target "${linkname}" contains ".."`);
    const target = entryComponents(linkname);
    if (target.length === 0) throw new UnsafeArchiveError(entryName, `hardlink to the layer root ("${linkname}")`);
    if (linkname.startsWith('/')) throw new UnsafeArchiveError(entryName, `hardlink target "${linkname}" is absolute`);
    let rel = '';
    for (let i = 0; i < target.length - 1; i++) {
      rel = i === 0 ? target[0]! : `${rel}/${target[i]}`;
      const kind = this.nodes.get(rel);
      if (kind === 'symlink') throw new UnsafeArchiveError(entryName, `hardlink target "${linkname}" goes through the symlink "${rel}"`);
      if (kind !== 'dir') throw new UnsafeArchiveError(entryName, `hardlink target "${linkname}" is not in this layer`);
    }
    rel = target.join('/');
    const kind = this.nodes.get(rel);
    if (kind === undefined) throw new UnsafeArchiveError(entryName, `hardlink target "${linkname}" is not in this layer (or comes later)`);
    if (kind === 'dir') throw new UnsafeArchiveError(entryName, `hardlink target "${linkname}" is a directory`);
    return rel;
  }
}
