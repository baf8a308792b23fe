// Hides the wait of a container's first cgroup migration behind Node's own work.
//
// Writing a pid to any cgroup.procs file takes the kernel's global cgroup
// migration lock for writing; when no other writer came in the last RCU grace
// period that first waits a whole grace period (6-20 ms here, a third of a
// `runc run`). A background thread of the native addon (cgroup_warm.c) writes
// this process's own pid to the cgroup it is already in, so the lock is already
// in its writer state when the helper moves the container's process. The addon
// finds that cgroup in the unified hierarchy itself (the CLI's entry starts it
// before the bundle loads); on a host without cgroup2 this module finds the v1 one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { native, nativeIfLoaded } from '../native/index.js';
import { detectLayout, type CgroupLayoutInfo } from './layout.js';

/**
 * The cgroup.procs file of the cgroup a process is in (from its /proc/PID/cgroup text) in the
 * first mounted v1 hierarchy: what a host without cgroup2 warms through.
 */
export function ownV1ProcsFile(procCgroup: string, layout: CgroupLayoutInfo): string | undefined {
  for (const line of procCgroup.split('\n').filter(Boolean)) {
    // "<id>:<controller,...>:<path>"
    const [, controllers = '', ...rest] = line.split(':');
    const mount = controllers.split(',').map((c) => layout.v1[c]).find(Boolean);
    if (mount) return join(mount, rest.join(':'), 'cgroup.procs');
  }
  return undefined;
}

let warming = false;

/** Starts keeping the lock warm (best effort: a host where this cannot work just pays the wait). */
export function warmMigrationLock(): void {
  // Asked again by the launcher after the CLI's entry started it (hack/cli-entry.cjs): the running
  // thread serves both, and the addon answers at once. (If it ran out after its time limit, the
  // container pays one grace period in a start that took seconds.)
  if (warming) return;
  const addon = native();
  warming = addon.warmOwnCgroupLock() || addon.warmOwnCgroupLock(v1ProcsFileOfThisProcess());
}

function v1ProcsFileOfThisProcess(): string | undefined {
  try {
    // Read each time, not once: writing the file moves this process there, so it must be
    // the cgroup the process is in now.
    return ownV1ProcsFile(readFileSync('/proc/self/cgroup', 'utf8'), detectLayout());
  } catch {
    return undefined;
  }
}

/** The container's process has joined its cgroups (or a long pull starts): stop writing. */
export function coolMigrationLock(): void {
  // Not only when this module started it: the CLI's entry may have (cli/*/early-warm.ts).
  nativeIfLoaded()?.coolCgroupLock();
  warming = false;
}
