// Hides the wait of a container's first cgroup migration behind Node's own work.
//
// Writing a pid to any cgroup.procs file takes the kernel's global cgroup
// migration lock for writing; when no other writer came in the last RCU grace
// period that first waits a whole grace period (6-20 ms here, a third of a
// `runc run`). A background thread of the native addon (cgroup_warm.c) writes
// this process's own pid to the cgroup it is already in, so the lock is already
// in its writer state when the helper moves the container's process.
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { native, nativeIfLoaded } from '../native/index.js';
import { detectLayout, type CgroupLayoutInfo } from './layout.js';

/** Long enough for any container preparation; coolMigrationLock() normally ends it much sooner. */
const WARM_AT_MOST_MS = 2000;

/**
 * Shared by every tsrun process on the host (the kernel lock is global): only its holder writes,
 * so 50 containers starting at once do not take the lock 25,000 times a second. Where /run is
 * not writable each process writes on its own.
 */
const WRITER_LOCK = '/run/tsrun-cgroup-warm.lock';

/**
 * The cgroup.procs file of the cgroup a process is in (from its /proc/PID/cgroup text): the
 * unified hierarchy's when there is one, else the first mounted v1 hierarchy's.
 */
export function ownProcsFile(procCgroup: string, layout: CgroupLayoutInfo): string | undefined {
  const lines = procCgroup.split('\n').filter(Boolean);
  if (layout.unifiedPath) {
    const unified = lines.find((l) => l.startsWith('0::'));
    if (unified) return join(layout.unifiedPath, unified.slice(3), 'cgroup.procs');
  }
  for (const line of lines) {
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
  // Asked again by the launcher after the CLI started it: the running thread serves both. (If it
  // ran out after WARM_AT_MOST_MS, the container pays one grace period in a start that took seconds.)
  // Started before the bundle loaded (cli/*/early-warm.ts): finding the file again would cost ~0.8 ms.
  if (warming || nativeIfLoaded()?.cgroupLockWarming()) {
    warming = true;
    return;
  }
  let file: string | undefined;
  try {
    // Read each time, not once: writing the file moves this process there, so it must be
    // the cgroup the process is in now.
    file = ownProcsFile(readFileSync('/proc/self/cgroup', 'utf8'), detectLayout());
  } catch {
    file = undefined;
  }
  if (file) warming = native().warmCgroupLock(file, writerLock(), WARM_AT_MOST_MS);
}

function writerLock(): string {
  try {
    accessSync('/run', constants.W_OK);
    return WRITER_LOCK;
  } catch {
    return '';
  }
}

/** The container's process has joined its cgroups (or a long pull starts): stop writing. */
export function coolMigrationLock(): void {
  // Not only when this module started it: the CLI's entry may have (cli/*/early-warm.ts).
  nativeIfLoaded()?.coolCgroupLock();
  warming = false;
}
