// Overlay mounts for image layers. The pure functions return OCI Mount objects
// (the caller decides where and how to perform them, like containerd's
// snapshotters); the helpers below perform them on the host for the engine.
//
// Mount data limit: mount(2) copies at most one page (4096 bytes) of options,
// so lowerdir=<a>:<b>:... overflows with many layers of long paths. We do not
// chdir to use relative paths (the mount may be performed by another process,
// e.g. the helper); instead the store hands out short symlinks to the layer
// trees (LayerStore.shortPath: <root>/layers/l/<16 hex>, ~40 bytes each,
// Docker's overlay2 does the same), which leaves room for ~100 layers. Past
// the limit we fail with a clear error rather than let the kernel truncate.
import { readFileSync, realpathSync } from 'node:fs';
import { StoreError } from '../errors.js';
import { MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, native } from '../native/index.js';
import type { Mount } from '../oci/runtime.js';

/** mount(2) reads at most one page of option data, including the final NUL. */
export const MOUNT_DATA_LIMIT = 4095;

function checkPath(p: string, what: string): void {
  // ',' separates mount options and ':' separates lowerdirs; overlay has escapes
  // for neither in the legacy mount(2) interface.
  if (!p.startsWith('/') || /[,:\n]/.test(p)) {
    throw new StoreError(`overlay ${what} "${p}" must be an absolute path without ',' ':' or newlines`);
  }
}

function checkDataLength(options: string[], layers: number): void {
  const data = options.filter((o) => o.includes('=')).join(',');
  if (Buffer.byteLength(data) > MOUNT_DATA_LIMIT) {
    throw new StoreError(
      `overlay mount options for ${layers} layers are ${Buffer.byteLength(data)} bytes, over the kernel's ${MOUNT_DATA_LIMIT}-byte limit`,
      { hint: 'pass short layer paths (LayerStore.shortPath) or use an image with fewer layers' },
    );
  }
}

export interface OverlayOptions {
  /**
   * Skip overlayfs' syncs of the upper filesystem (Linux >= 5.10). Unmounting otherwise
   * syncs the whole host filesystem (~30 ms here): worth skipping for a layer that is
   * deleted right after (--rm); after a host crash such an upper dir must be discarded.
   */
  volatile?: boolean;
}

/**
 * The root mount for a container: layers read-only (top layer first, as
 * overlay's lowerdir wants), changes in upperDir. workDir must be on the same
 * filesystem as upperDir and empty.
 */
export function overlayMounts(lowerTrees: string[], upperDir: string, workDir: string, opts: OverlayOptions = {}): Mount[] {
  lowerTrees.forEach((p) => checkPath(p, 'lowerdir'));
  checkPath(upperDir, 'upperdir');
  checkPath(workDir, 'workdir');
  if (lowerTrees.length === 0) {
    // An image without layers (scratch): a bare upper dir is the whole rootfs.
    return [{ destination: '/', type: 'bind', source: upperDir, options: ['rbind', 'rw'] }];
  }
  const options = [`lowerdir=${lowerTrees.join(':')}`, `upperdir=${upperDir}`, `workdir=${workDir}`];
  if (opts.volatile) options.push('volatile');
  checkDataLength(options, lowerTrees.length);
  return [{ destination: '/', type: 'overlay', source: 'overlay', options }];
}

/**
 * A read-only merged view of an image (image mount). Overlay without an upper
 * dir needs at least two lowerdirs, so a single layer is bind-mounted read-only.
 */
export function readOnlyMounts(lowerTrees: string[]): Mount[] {
  lowerTrees.forEach((p) => checkPath(p, 'lowerdir'));
  if (lowerTrees.length === 0) throw new StoreError('cannot mount an image without layers read-only: there is nothing to show');
  if (lowerTrees.length === 1) return [{ destination: '/', type: 'bind', source: lowerTrees[0]!, options: ['bind', 'ro'] }];
  const options = ['ro', `lowerdir=${lowerTrees.join(':')}`];
  checkDataLength(options, lowerTrees.length);
  return [{ destination: '/', type: 'overlay', source: 'overlay', options }];
}

const FLAG_OPTIONS: Record<string, number> = {
  ro: MS_RDONLY,
  nosuid: MS_NOSUID,
  nodev: MS_NODEV,
  noexec: MS_NOEXEC,
  bind: MS_BIND,
  rbind: MS_BIND | MS_REC,
};

/** Split OCI mount options into mount(2) flags and the data string. */
export function mountFlags(options: string[] = []): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    if (o === 'rw') continue;
    const f = FLAG_OPTIONS[o];
    if (f !== undefined) flags |= f;
    else data.push(o);
  }
  return { flags, data: data.join(',') };
}

/** Perform one Mount at `target` (its destination is ignored: it is relative to a rootfs). */
export function performMount(m: Mount, target: string): void {
  const { flags, data } = mountFlags(m.options);
  const nat = native();
  try {
    if (flags & MS_BIND) {
      nat.mount(m.source ?? '', target, '', flags & (MS_BIND | MS_REC), null);
      // A bind mount ignores MS_RDONLY etc. on the first call: apply them by remounting.
      const rest = flags & ~(MS_BIND | MS_REC);
      if (rest) nat.mount('', target, '', MS_REMOUNT | MS_BIND | rest, null);
    } else {
      nat.mount(m.source ?? m.type ?? 'none', target, m.type ?? '', flags, data || null);
    }
  } catch (err) {
    throw new StoreError(`cannot mount ${m.type ?? 'bind'} (${m.source ?? ''}) at ${target}: ${(err as Error).message}`, { cause: err });
  }
}

/** Mount a container's overlay rootfs at `target`. */
export function mountOverlay(lowerTrees: string[], upperDir: string, workDir: string, target: string, opts: OverlayOptions = {}): void {
  for (const m of overlayMounts(lowerTrees, upperDir, workDir, opts)) performMount(m, target);
}

/** Mount an image read-only at `target`. */
export function mountReadOnly(lowerTrees: string[], target: string): void {
  for (const m of readOnlyMounts(lowerTrees)) performMount(m, target);
}

/** Decode the octal escapes of /proc/self/mountinfo ("\040" for a space). */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points from /proc/self/mountinfo (or the given text), in mount order. */
export function mountPoints(mountinfo?: string): string[] {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(f[4]!.includes('\\') ? unescapeMountinfo(f[4]!) : f[4]!);
  }
  return out;
}

export function isMountPoint(path: string, mountinfo?: string): boolean {
  const points = mountPoints(mountinfo);
  const plain = path.replace(/\/+$/, '') || '/';
  if (points.includes(plain)) return true;
  // mountinfo shows resolved paths: a --root under a symlinked directory differs in spelling.
  try {
    const real = realpathSync.native(plain); // one call, not Node's lstat of every component
    return real !== plain && points.includes(real);
  } catch {
    return false;
  }
}

/**
 * Unmount `target` and anything stacked on it. EBUSY (a process still has
 * files open there) falls back to a lazy MNT_DETACH so the mount leaves the
 * namespace now and the kernel frees it when the last user goes.
 * Returns false when nothing was mounted there.
 */
export function unmount(target: string): boolean {
  const nat = native();
  let did = false;
  for (let i = 0; i < 64 && isMountPoint(target); i++) {
    try {
      nat.umount2(target, 0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL') break; // not a mount point after all
      if (code !== 'EBUSY') throw new StoreError(`cannot unmount ${target}: ${(err as Error).message}`, { cause: err });
      try {
        nat.umount2(target, MNT_DETACH);
      } catch (err2) {
        throw new StoreError(`cannot unmount ${target} (busy, and lazy unmount failed)`, { cause: err2 });
      }
    }
    did = true;
  }
  return did;
}

/** Alias used by the engine's rootfs code. */
export const unmountTree = unmount;
