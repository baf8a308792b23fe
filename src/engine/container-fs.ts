// A container's filesystem from the host: `cp` both ways, `diff` and `export`,
// for running and stopped containers alike (a stopped container's rootfs is
// mounted for the duration of cp and export, and unmounted after, as at its
// stop; diff reads the upper dir and the image's layers, mounted or not).
//
// `cp` does in one process what Docker's client and daemon do together, with
// their path rules (cp-rules.ts): the source is walked into tar entries named
// as Docker's archive names them, and the entries are extracted where Docker's
// client would have the daemon (or itself) extract them. Inside the container
// every path is resolved in its root (rooted-fs.ts), through its volumes and
// bind mounts; on the host, the destination directory confines what an archive
// from the container may write.
import { existsSync, lstatSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, createWriteStream, type BigIntStats } from 'node:fs';
import { randomHex } from '../util/random.js';
import { dirname, isAbsolute, join, resolve as resolveHost } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { TarParser } from '../unpack/tar.js';
import type { Containers } from './containers.js';
import type { ContainerRecord } from './container-store.js';
import { containerChanges, type Change } from './container-diff.js';
import {
  assertsDirectory,
  baseName,
  cleanPath,
  containerAbsPath,
  CopyPathError,
  dirName,
  ERR_NOT_DIRECTORY,
  getRebaseName,
  hasTrailingSeparator,
  prepareArchiveCopy,
  preserveTrailingDotOrSeparator,
  splitPath,
  splitPathDirEntry,
  type CopyDestination,
  type CopySource,
} from './cp-rules.js';
import { TreeExtractor, type OwnerPolicy } from './fs-extract.js';
import { TarStreamSink, TreeWalker } from './fs-walk.js';
import { MissingPathError, RootedFs, type BindMount, type PathNode } from './rooted-fs.js';

/** Docker's answer for a path that is not in the container. */
export class ContainerPathNotFoundError extends CopyPathError {
  constructor(readonly path: string, readonly container: string) {
    super(`Could not find the file ${path} in container ${container}`);
  }
}

/** Where a copy went and how many bytes of file content it moved (for Docker's "Successfully copied" line). */
export interface CopyResult {
  bytes: number;
  destination: string;
}

export type CopyEnd = { stream: Readable } | { path: string };

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'ENOTDIR') return ERR_NOT_DIRECTORY;
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  return (err as Error).message;
}

/** A host filesystem error in Go's words ("lstat /x: no such file or directory"), as Docker's CLI prints it. */
function hostError(syscall: string, path: string, err: unknown): CopyPathError {
  return new CopyPathError(`${syscall} ${path}: ${errnoText(err)}`);
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** Docker's CopyInfoSourcePath for a host path: the directory part resolved, the last component not (unless -L). */
export function hostSource(path: string, followLink: boolean): CopySource & { walkPath: string } {
  const abs = preserveTrailingDotOrSeparator(resolveHost(path), path);
  let resolved: string;
  let rebaseName: string | undefined;
  if (followLink) {
    let real: string;
    try {
      real = realpathSync(abs);
    } catch (err) {
      throw hostError('lstat', abs, err);
    }
    ({ path: resolved, rebaseName } = getRebaseName(abs, real));
  } else {
    const [dir, base] = splitPath(abs);
    let realDir: string;
    try {
      realDir = realpathSync(dir);
    } catch (err) {
      throw hostError('lstat', dir, err);
    }
    resolved = `${realDir === '/' ? '' : realDir}/${base}`;
    if (hasTrailingSeparator(abs) && baseName(abs) !== baseName(resolved)) rebaseName = baseName(abs);
  }
  let st;
  try {
    st = lstatSync(resolved);
  } catch (err) {
    throw hostError('lstat', resolved, err);
  }
  return { path: resolved, isDir: st.isDirectory(), rebaseName, walkPath: cleanPath(resolved) };
}

/** Docker's ValidateOutputPath and CopyInfoDestinationPath for a host destination (a final symlink is followed). */
export function hostDestination(dst: string): CopyDestination {
  let path = preserveTrailingDotOrSeparator(resolveHost(dst), dst);
  const parent = dirName(cleanPath(path));
  if (!existsSync(parent)) throw new CopyPathError(`invalid output path: directory "${parent}" does not exist`);
  try {
    const st = statSync(path);
    if (!st.isDirectory() && !st.isFile()) throw new CopyPathError(`invalid output path: "${path}" must be a directory or a regular file`);
  } catch (err) {
    if (err instanceof CopyPathError) throw err;
  }
  const original = path;
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw hostError('lstat', path, err);
  }
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new CopyPathError(`too many symlinks in ${original}`);
    let target = readlinkSync(path);
    if (!isAbsolute(target)) target = join(splitPathDirEntry(path)[0], target);
    path = target;
    try {
      st = lstatSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw hostError('lstat', path, err);
      st = undefined;
    }
  }
  if (st) return { path, exists: true, isDir: st.isDirectory() };
  const [dstParent] = splitPathDirEntry(path);
  let pst;
  try {
    pst = statSync(dstParent);
  } catch (err) {
    throw hostError('stat', dstParent, err);
  }
  if (!pst.isDirectory()) throw new CopyPathError(ERR_NOT_DIRECTORY);
  return { path, exists: false, isDir: false };
}

function fileTypeName(st: BigIntStats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  return 'an irregular file';
}

export class ContainerFs {
  constructor(private readonly containers: Containers) {}

  /**
   * The container's bind mounts as its processes see them (volumes, -v and
   * --mount binds, /etc/hosts and friends), from its bundle. Devices and the
   * kernel's filesystems under /proc, /sys and /dev are not copied from.
   */
  mountsOf(record: ContainerRecord): BindMount[] {
    let specMounts: { destination: string; source?: string; type?: string; options?: string[] }[] | undefined;
    try {
      specMounts = this.containers.spec(record).mounts ?? [];
    } catch {
      specMounts = undefined;
    }
    const out: BindMount[] = [];
    if (specMounts) {
      for (const m of specMounts) {
        const opts = m.options ?? [];
        if (!(m.type === 'bind' || opts.includes('bind') || opts.includes('rbind')) || !m.source) continue;
        const destination = cleanPath(`/${m.destination}`);
        if (destination === '/' || ['/proc', '/sys', '/dev'].some((d) => under(destination, d)) || under(m.source, '/proc')) continue;
        out.push({ destination, source: m.source, readonly: opts.includes('ro') });
      }
      return out;
    }
    for (const m of record.mounts ?? []) out.push({ destination: cleanPath(`/${m.destination}`), source: m.source, readonly: !m.rw });
    return out;
  }

  /** Every path the container's mounts cover, for diff to tell the runtime's mount points from the container's own files. */
  private mountPointsOf(record: ContainerRecord): string[] {
    try {
      return (this.containers.spec(record).mounts ?? []).map((m) => cleanPath(`/${m.destination}`));
    } catch {
      return (record.mounts ?? []).map((m) => cleanPath(`/${m.destination}`));
    }
  }

  /** `fn` on the container's root as its processes see it (a stopped container's rootfs mounted meanwhile). */
  private withView<T>(record: ContainerRecord, fn: (fs: RootedFs) => Promise<T>): Promise<T> {
    return this.containers.withRootfs(record, async (rootfs) => {
      const fs = new RootedFs(rootfs, { mounts: this.mountsOf(record), followSymlinks: true });
      try {
        return await fn(fs);
      } finally {
        fs.close();
      }
    });
  }

  /**
   * Docker's StatPath: the node at `path` with its directory part resolved in
   * the container and the last component not followed (unless the path ends in
   * "/" or "/."), and for a symlink its target fully resolved in the container.
   */
  private statPath(fs: RootedFs, container: string, path: string): { node: PathNode & { stat: BigIntStats }; linkTarget: string | undefined } {
    const abs = containerAbsPath(path);
    let node: PathNode;
    try {
      node = fs.resolve(abs, { followFinal: assertsDirectory(abs) });
    } catch (err) {
      if (err instanceof MissingPathError) throw new ContainerPathNotFoundError(path, container);
      throw err;
    }
    if (!node.stat) throw new ContainerPathNotFoundError(path, container);
    if (assertsDirectory(abs) && !node.stat.isDirectory()) throw new CopyPathError(`${ERR_NOT_DIRECTORY}: ${path}`);
    const linkTarget = node.stat.isSymbolicLink() ? fs.resolve(abs, { followFinal: true }).cpath : undefined;
    return { node: node as PathNode & { stat: BigIntStats }, linkTarget };
  }

  private statPathQuiet(fs: RootedFs, container: string, path: string): ReturnType<ContainerFs['statPath']> | undefined {
    try {
      return this.statPath(fs, container, path);
    } catch (err) {
      if (err instanceof CopyPathError) return undefined;
      throw err;
    }
  }

  /** Refuses writing where the container may not: a read-only volume or bind, or a read-only rootfs. */
  private writableCheck(record: ContainerRecord): (cpath: string, mount: BindMount | undefined) => void {
    return (_cpath, mount) => {
      if (mount?.readonly) throw new CopyPathError('mounted volume is marked read-only');
      if (!mount && record.hostConfig.readonlyRootfs) throw new CopyPathError('container rootfs is marked read-only');
    };
  }

  /**
   * `cp CONTAINER:SRC DEST`: `src` in the container to a host path, or as a tar
   * stream to `dst.stream` ("-"). `followLink` (-L) copies what a symlink at SRC
   * points to, under the link's name.
   */
  async copyFrom(record: ContainerRecord, container: string, src: string, dst: { stream: Writable } | { path: string }, opts: { followLink?: boolean } = {}): Promise<CopyResult> {
    return this.withView(record, async (fs) => {
      let path = src;
      let rebaseName: string | undefined;
      if (opts.followLink) {
        const st = this.statPathQuiet(fs, container, path);
        if (st?.linkTarget !== undefined) ({ path, rebaseName } = getRebaseName(path, st.linkTarget));
      }
      const { node } = this.statPath(fs, container, path);
      const abs = containerAbsPath(path);
      const archiveTop = baseName(abs) === '/' ? '.' : baseName(abs);
      const walkRoot = { path: node.path, cpath: node.cpath, trusted: node.fixed };
      if ('stream' in dst) {
        const sink = new TarStreamSink(dst.stream);
        const walker = new TreeWalker(sink, (c) => fs.mountAt(c));
        await walker.walk(walkRoot, archiveTop);
        await sink.finish();
        return { bytes: walker.stats.bytes, destination: '-' };
      }
      const plan = prepareArchiveCopy({ path, isDir: node.stat.isDirectory(), rebaseName }, hostDestination(dst.path));
      const host = new RootedFs(plan.extractDir, { followSymlinks: false });
      try {
        const extractor = new TreeExtractor(host, { base: [], owner: { kind: 'none' } });
        const walker = new TreeWalker(extractor, (c) => fs.mountAt(c));
        try {
          await walker.walk(walkRoot, plan.renameTo ?? plan.topName);
          extractor.finish();
        } finally {
          extractor.abort();
        }
        return { bytes: walker.stats.bytes, destination: preserveTrailingDotOrSeparator(resolveHost(dst.path), dst.path) };
      } finally {
        host.close();
      }
    });
  }

  /**
   * `cp SRC CONTAINER:DEST`: a host path, or a tar stream ("-", into an existing
   * directory), into the container. Files get root's ownership unless
   * `archive` (-a) keeps the source's uid and gid.
   */
  async copyTo(record: ContainerRecord, container: string, src: { stream: Readable } | { path: string }, dst: string, opts: { followLink?: boolean; archive?: boolean } = {}): Promise<CopyResult> {
    return this.withView(record, async (fs) => {
      const dstInfo: CopyDestination = { path: dst, exists: false, isDir: false };
      let st = this.statPathQuiet(fs, container, dst);
      if (st?.linkTarget !== undefined) {
        dstInfo.path = st.linkTarget;
        st = this.statPathQuiet(fs, container, st.linkTarget);
      }
      if (st) {
        const s = st.node.stat;
        if (!s.isDirectory() && !s.isFile()) throw new CopyPathError(`destination "${container}:${dst}" must be a directory or a regular file: got ${fileTypeName(s)}`);
        dstInfo.exists = true;
        dstInfo.isDir = s.isDirectory();
      }
      let extractAt: string;
      let source: (CopySource & { walkPath: string }) | undefined;
      let topName = '';
      if ('stream' in src) {
        if (!dstInfo.isDir) throw new CopyPathError(`destination "${container}:${dst}" must be a directory`);
        extractAt = dstInfo.path;
      } else {
        source = hostSource(src.path, Boolean(opts.followLink));
        const plan = prepareArchiveCopy(source, dstInfo);
        extractAt = plan.extractDir;
        topName = plan.renameTo ?? plan.topName;
      }

      // The daemon's side: the extraction point, every symlink followed in the container.
      let at: PathNode;
      try {
        at = fs.resolve(containerAbsPath(extractAt), { followFinal: true });
      } catch (err) {
        if (err instanceof MissingPathError) throw new ContainerPathNotFoundError(extractAt, container);
        throw err;
      }
      if (!at.stat) throw new ContainerPathNotFoundError(extractAt, container);
      if (!at.stat.isDirectory()) throw new CopyPathError('extraction point is not a directory');
      const check = this.writableCheck(record);
      check(at.cpath, at.mount);

      const owner: OwnerPolicy = opts.archive ? { kind: 'keep' } : { kind: 'fixed', uid: 0, gid: 0 };
      const extractor = new TreeExtractor(fs, { base: at.cpath === '/' ? [] : at.cpath.slice(1).split('/'), owner, checkWritable: check });
      try {
        if ('stream' in src) {
          const parser = new TarParser(extractor);
          for await (const chunk of src.stream) parser.write(chunk as Buffer);
          parser.end();
        } else {
          const walker = new TreeWalker(extractor);
          await walker.walk({ path: source!.walkPath, cpath: '/', trusted: false }, topName);
        }
        extractor.finish();
      } finally {
        extractor.abort();
      }
      return { bytes: extractor.stats.bytes, destination: `${container}:${dstInfo.path}` };
    });
  }

  /** `diff`: the container's changes against its image, in Docker's order. */
  diff(record: ContainerRecord): Change[] {
    const paths = this.containers.store.paths(record.id);
    return containerChanges({ upper: paths.upper, lowerDirs: record.lowerDirs, mountPoints: this.mountPointsOf(record) });
  }

  /** `export`: the container's merged filesystem as a tar stream (its volumes and binds not included). */
  async export(record: ContainerRecord, out: Writable): Promise<void> {
    await this.containers.withRootfs(record, async (rootfs) => {
      const sink = new TarStreamSink(out);
      await new TreeWalker(sink).walk({ path: rootfs, cpath: '/', trusted: true }, undefined);
      await sink.finish();
    });
  }

  /** export into a file, atomically (temp + rename). */
  async exportToFile(record: ContainerRecord, file: string): Promise<void> {
    const tmp = join(dirname(resolveHost(file)), `.tmp-export-${randomHex(4)}`);
    try {
      await this.export(record, createWriteStream(tmp));
      renameSync(tmp, file);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}
