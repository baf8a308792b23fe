// A container's rootfs: an overlay of the image's layer trees with the
// container's own upper/work dirs, mounted in the host's mount namespace
// (as Podman does) so that runc or crun can stand in for our launcher.
import { readFileSync } from 'node:fs';
import { mountOverlay, unmountTree } from '../snapshot/overlay.js';

/** True when `path` is a mount point (per /proc/self/mountinfo). */
export function isMounted(path: string): boolean {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of text.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint && unescapeMountinfo(mountPoint) === path) return true;
  }
  return false;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function mountRootfs(lowerDirs: string[], upper: string, work: string, target: string): void {
  mountOverlay(lowerDirs, upper, work, target);
}

/** Unmounts if mounted; idempotent (rm after a crash or a reboot). */
export function unmountRootfs(target: string): void {
  if (isMounted(target)) unmountTree(target);
}
