// A container's rootfs: an overlay of the image's layer trees with the
// container's own upper/work dirs, mounted in the host's mount namespace
// (as Podman does) so that runc or crun can stand in for our launcher.
//
// It is mounted while the container runs (start mounts it, under the
// container's lock) and unmounted once it stops, as Docker does, so stopped
// containers carry no mounts. `cp` and `export` of a stopped container mount
// it for their duration; they hold its use lock (shared) meanwhile, which the
// unmount at stop tries exclusively and, failing, leaves to them. The use
// lock's file goes with the container (by rm, or by the last cp or export).
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FileLock } from '../util/lock.js';
import { isMountPoint, mountOverlay, unmount, type OverlayOptions } from '../snapshot/overlay.js';

/**
 * Whether the rootfs is mounted. Mounted, its overlay has a device of its own: two stats answer,
 * where reading the mount table costs ~0.5 ms; the table decides only when the devices agree.
 */
export const isMounted = (path: string): boolean => onOtherDevice(path) || isMountPoint(path);

function onOtherDevice(path: string): boolean {
  try {
    return statSync(path).dev !== statSync(dirname(path)).dev;
  } catch {
    return false;
  }
}

export function mountRootfs(lowerDirs: string[], upper: string, work: string, target: string, opts: OverlayOptions = {}): void {
  mountOverlay(lowerDirs, upper, work, target, opts);
}

/** Unmounts if mounted; idempotent (rm after a crash or a reboot). */
export function unmountRootfs(target: string): void {
  if (isMounted(target)) unmount(target);
}

function useLockPath(locksDir: string, id: string): string {
  return join(locksDir, `${id}.rootfs.lock`);
}

/** Held (shared) by a reader or writer of a container's rootfs from the host (cp, export) while it works in it. */
export function useRootfs(locksDir: string, id: string): Promise<FileLock> {
  return FileLock.acquire(useLockPath(locksDir, id), { shared: true });
}

/** The use lock, exclusively, if nobody uses the rootfs from the host right now (never waits); the unmount holds it. */
export function claimUnusedRootfs(locksDir: string, id: string): FileLock | undefined {
  return FileLock.tryAcquire(useLockPath(locksDir, id));
}

/**
 * Deletes the use lock's file of a removed container, unless a cp or export holds it right now
 * (never waits): that one calls this again when done.
 */
export function removeRootfsUseLock(locksDir: string, id: string): void {
  claimUnusedRootfs(locksDir, id)?.releaseAndRemove();
}
