/*
 * cgroup/ — container cgroups on cgroup v2 (unified), hybrid and v1 (legacy) hosts.
 *
 * LAYOUT (detectLayout, layout.ts): decided once from /proc/self/mountinfo
 * (cgroup/cgroup2 mounts at or under fsRoot), else statfs(2) magic, else the
 * directory shape. unified = cgroup2 at fsRoot; hybrid = v1 hierarchies plus
 * cgroup2 somewhere below (usually fsRoot/unified); legacy = v1 only.
 *
 * ONE MANAGER FOR ALL LAYOUTS (manager.ts): a cgroup path such as
 * '/tsrun/<id>' becomes one directory in the unified hierarchy (if any) and
 * one per v1 hierarchy. Each controller is served by its v1 hierarchy when
 * mounted, else by cgroup2 when enabled there (a hybrid host may offer e.g.
 * hugetlb only on cgroup2), else it is unavailable. Relative cgroupsPath
 * values are taken from the hierarchy root too; systemd "slice:prefix:name"
 * paths are refused.
 *
 * LinuxResources -> files (plan.ts):
 *   setting              cgroup v2                               cgroup v1
 *   memory.limit         memory.max (-1 = max)                   memory.limit_in_bytes
 *   memory.swap          memory.swap.max = swap - limit          memory.memsw.limit_in_bytes (mem+swap as-is)
 *                        (Docker's --memory-swap is mem+swap)    (written before/after the limit to keep memsw >= limit)
 *   memory.reservation   memory.low                              memory.soft_limit_in_bytes
 *   memory.swappiness    - (warning)                             memory.swappiness
 *   disableOOMKiller     - (warning)                             memory.oom_control = 1
 *   memory.kernel(TCP)   - (warning)                             memory.kmem[.tcp].limit_in_bytes (best effort)
 *   cpu.shares           cpu.weight = 1 + (shares-2)*9999/262142  cpu.shares
 *   cpu.quota/period     cpu.max "quota|max period"              cpu.cfs_period_us, cpu.cfs_quota_us
 *   cpu.realtime*        - (error)                               cpu.rt_period_us / cpu.rt_runtime_us
 *   cpu.cpus/mems        cpuset.cpus / cpuset.mems               same; empty cpus/mems copied from the parent on create
 *   pids.limit           pids.max (<0 = max)                     pids.max
 *   blockIO.weight       io.bfq.weight, else io.weight "default W" blkio.weight, else blkio.bfq.weight; absent -> warning
 *                        (W = 1 + (w-10)*9999/990)
 *   blockIO.throttle*    io.max "maj:min rbps=|wbps=|riops=|wiops=N" blkio.throttle.{read,write}_{bps,iops}_device
 *   hugepageLimits       hugetlb.<size>.max                      hugetlb.<size>.limit_in_bytes
 *   devices              - (warning: needs eBPF, not loaded)     devices.deny / devices.allow, in the given order
 *   network              - (warning)                             net_cls.classid / net_prio.ifpriomap (warning if unmounted)
 *   unified              written as-is (key = file name)         error
 *
 * WARNINGS vs ERRORS: create() and apply() return warnings (strings for the
 * CLI to print) when a controller or file is missing for settings that are
 * not hard limits or that Docker itself only warns about (swap without swap
 * accounting, blkio weight, device rules on v2, swappiness). An explicit limit
 * that cannot be enforced at all (memory/cpu/pids/io throttle/hugetlb
 * without its controller) throws CgroupError naming the controller.
 *
 * v2 "NO INTERNAL PROCESSES": controllers are enabled in every ancestor's
 * cgroup.subtree_control (all that its cgroup.controllers offers). The
 * kernel refuses that for a non-root ancestor holding processes; we never
 * move other people's processes, we warn, and apply() then errors for the
 * limits that needed it. Keep container cgroups under a parent that holds
 * no processes (tsrun only places processes in leaves).
 *
 * FREEZE: the v1 freezer (freezer.state FROZEN/THAWED) when mounted, else
 * cgroup.freeze (waiting for "frozen 1" in cgroup.events).
 * KILL: cgroup.kill when the unified dir has it (hybrid too: procsFiles()
 * includes the unified cgroup.procs), then, for whatever is left, freeze +
 * SIGKILL every pid + thaw until empty.
 * OOM: memory.events oom_kill (v2); memory.oom_control oom_kill (v1,
 * kernel >= 4.13), else under_oom; memory.failcnt is not used because it
 * counts limit hits that reclaim resolved without any kill.
 * STATS: memory.current|usage_in_bytes, memory.max|limit_in_bytes,
 * memory.stat, cpu.stat|cpuacct.usage*, pids.current/max,
 * io.stat|blkio.throttle.io_service_bytes. fullStats() reads every counter
 * runc's `events --stats` reports, as exact bigints (full-stats.ts has the
 * file table); oomKillCount() is the counter behind oomKilled().
 */
import { CgroupError } from '../errors.js';
import type { CgroupFs } from './fsops.js';
import { DEFAULT_CGROUP_ROOT, detectLayout as detect, type CgroupLayout, type CgroupLayoutInfo } from './layout.js';
import { FsCgroupManager, listChildCgroups, type CgroupManager, type CgroupStats } from './manager.js';

export type { CgroupLayout, CgroupLayoutInfo, CgroupManager, CgroupStats, CgroupFs };
export type { BlkioEntryStats, FullCgroupStats, MemoryEntryStats } from './full-stats.js';
export { MAX_U64 } from './full-stats.js';
export { DEFAULT_CGROUP_ROOT };
export { hierarchiesFromMountinfo, hostCgroupHierarchies, type CgroupHierarchy } from './layout.js';
export { sharesToWeight, blkioWeightToIoWeight, swapMaxV2 } from './convert.js';
export { coolMigrationLock, warmMigrationLock } from './lock-warmer.js';

export interface CgroupOptions {
  /** Where the cgroup filesystems are mounted (default /sys/fs/cgroup). */
  fsRoot?: string;
  /** Mount table to read (default /proc/self/mountinfo); tests point it at a fake. */
  mountinfoPath?: string;
  /** Filesystem operations (tests emulate cgroupfs in a temp dir). */
  fs?: CgroupFs;
  /** Skip detection and use this layout. */
  layout?: CgroupLayoutInfo;
}

/** The host's cgroup layout under fsRoot (default /sys/fs/cgroup). */
export function detectLayout(fsRoot?: string, opts: Omit<CgroupOptions, 'fsRoot' | 'layout'> = {}): CgroupLayoutInfo {
  return detect(fsRoot ?? DEFAULT_CGROUP_ROOT, opts);
}

/** '/tsrun/<id>' from a spec's cgroupsPath; refuses '..', the root itself and systemd "slice:prefix:name" paths. */
export function normalizeCgroupPath(cgroupsPath: string): string {
  if (cgroupsPath.includes(':')) {
    throw new CgroupError(`systemd cgroup paths are not supported: "${cgroupsPath}"`, undefined, {
      hint: 'use a cgroupfs path such as /tsrun/<id>',
    });
  }
  const parts = cgroupsPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new CgroupError(`cgroup path "${cgroupsPath}" must not contain ".."`);
  if (parts.length === 0) throw new CgroupError(`cgroup path "${cgroupsPath}" names the root cgroup, which tsrun does not manage`);
  return '/' + parts.join('/');
}

function layoutOf(opts: CgroupOptions): CgroupLayoutInfo {
  return opts.layout ?? detect(opts.fsRoot ?? DEFAULT_CGROUP_ROOT, opts);
}

/** A manager for the cgroup at cgroupsPath (nothing is created until create()). */
export function openCgroup(cgroupsPath: string, opts: CgroupOptions = {}): CgroupManager {
  return new FsCgroupManager(normalizeCgroupPath(cgroupsPath), layoutOf(opts), opts.fs);
}

/** Child cgroups of parentPath in any hierarchy ('/tsrun' -> ['/tsrun/<id>', ...]), for gc after kill -9. */
export function listCgroups(parentPath: string, opts: CgroupOptions = {}): string[] {
  return listChildCgroups(layoutOf(opts), normalizeCgroupPath(parentPath), opts.fs);
}
