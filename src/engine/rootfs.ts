// A container's rootfs: an overlay of the image's layer trees with the
// container's own upper/work dirs, mounted in the host's mount namespace
// (as Podman does) so that runc or crun can stand in for our launcher.
import { isMountPoint, mountOverlay, unmount, type OverlayOptions } from '../snapshot/overlay.js';

export const isMounted = (path: string): boolean => isMountPoint(path);

export function mountRootfs(lowerDirs: string[], upper: string, work: string, target: string, opts: OverlayOptions = {}): void {
  mountOverlay(lowerDirs, upper, work, target, opts);
}

/** Unmounts if mounted; idempotent (rm after a crash or a reboot). */
export function unmountRootfs(target: string): void {
  if (isMountPoint(target)) unmount(target);
}
