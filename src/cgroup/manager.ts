// One CgroupManager for all three layouts: a cgroup is a set of directories,
// one in the unified (cgroup2) hierarchy when there is one and one per v1
// hierarchy. Each controller is served by its v1 hierarchy when mounted,
// else by the unified hierarchy when enabled there (hybrid hosts may offer
// hugetlb only on cgroup2), else it is unavailable.
import { join } from 'node:path';
import type { LinuxResources } from '../oci/runtime.js';
import { CgroupError } from '../errors.js';
import { errnoOf, pollSync, realCgroupFs, sleepSync, type CgroupFs } from './fsops.js';
import type { CgroupLayoutInfo } from './layout.js';
import { planV1, planV2, type PlanItem, type PlannedWrite } from './plan.js';
import { parseBlkioServiceBytes, parseFlatKeyed, parseIoStat, parseLimit, parsePids } from './convert.js';
import { readFullStats, type FullCgroupStats } from './full-stats.js';

export interface CgroupStats {
  memory?: {
    /** Bytes charged now (memory.current / memory.usage_in_bytes). */
    usage: number;
    /** undefined when unlimited. */
    limit: number | undefined;
    /** v2 memory.swap.current when available. */
    swapUsage?: number;
    /** memory.stat as numbers (cache/file, rss/anon, inactive_file...). */
    stat: Record<string, number>;
  };
  cpu?: { usageNs: number; userNs?: number; systemNs?: number; throttledPeriods?: number; throttledNs?: number };
  pids?: { current: number; limit: number | undefined };
  io?: { readBytes: number; writeBytes: number };
}

export interface CgroupManager {
  /** Normalised cgroup path, e.g. '/tsrun/<id>'. */
  readonly path: string;
  /** mkdir in every hierarchy (and enable controllers on v2); returns warnings for the CLI to print. */
  create(): string[];
  /** Writes the limits; returns warnings, throws CgroupError naming the controller when an explicit limit cannot be enforced. */
  apply(resources: LinuxResources): string[];
  /** Every cgroup.procs file a new process must be written into (the launcher writes the pid). */
  procsFiles(): string[];
  addProcess(pid: number): void;
  /** Processes in the cgroup, over every hierarchy, sorted. Empty when the cgroup does not exist. */
  pids(): number[];
  freeze(): void;
  thaw(): void;
  /** cgroup.kill when the unified hierarchy has it, else SIGKILL each pid (frozen first) until empty. */
  kill(): void;
  /** rmdir bottom-up in every hierarchy, retrying briefly on EBUSY; missing dirs are fine. */
  destroy(): void;
  stats(): CgroupStats;
  /** Every counter `tsrun-oci events` reports (full-stats.ts); missing files read as zero. */
  fullStats(): FullCgroupStats;
  /** Whether the kernel OOM-killed a process in this cgroup (query before destroy()). */
  oomKilled(): boolean;
  /** How many OOM kills the kernel counted in this cgroup (v1 kernels < 4.13: 1 while under_oom, else 0). */
  oomKillCount(): number;
}

type Target = { version: 1 | 2; dir: string };

const FREEZE_TIMEOUT_MS = 5000;
const KILL_TIMEOUT_MS = 5000;
const RMDIR_TIMEOUT_MS = 2000;

export class FsCgroupManager implements CgroupManager {
  private readonly unifiedDir: string | undefined;
  /** v1 controller -> this cgroup's directory in its hierarchy. */
  private readonly v1Dirs: Map<string, string>;

  constructor(
    readonly path: string,
    private readonly info: CgroupLayoutInfo,
    private readonly fs: CgroupFs = realCgroupFs,
  ) {
    this.unifiedDir = info.unifiedPath ? join(info.unifiedPath, path) : undefined;
    this.v1Dirs = new Map(Object.entries(info.v1).map(([c, mount]) => [c, join(mount, path)]));
  }

  /** The hierarchy directories of this cgroup, each once (cpu and cpuacct may share one). */
  private dirs(): string[] {
    const all = [...(this.unifiedDir ? [this.unifiedDir] : []), ...this.v1Dirs.values()];
    return [...new Set(all)];
  }

  private v1Mounts(): string[] {
    return [...new Set(Object.values(this.info.v1))];
  }

  // ---- create ----------------------------------------------------------------

  create(): string[] {
    const warnings: string[] = [];
    if (this.info.unifiedPath) this.createUnified(this.info.unifiedPath, warnings);
    for (const mount of this.v1Mounts()) this.mkdirChain(mount);
    const cpusetMount = this.info.v1['cpuset'];
    if (cpusetMount) this.inheritCpuset(cpusetMount);
    return warnings;
  }

  private segments(): string[] {
    return this.path.split('/').filter(Boolean);
  }

  private mkdirChain(mount: string): void {
    let dir = mount;
    for (const seg of this.segments()) {
      dir = join(dir, seg);
      this.mkdirOne(dir);
    }
  }

  private mkdirOne(dir: string): void {
    // The parents (tsrun/) are there already: a stat is cheaper than a failed mkdir's exception.
    if (this.fs.exists(dir)) return;
    try {
      this.fs.mkdir(dir);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw new CgroupError(`cannot create cgroup directory ${dir}`, undefined, { cause: err });
    }
  }

  /**
   * cgroup v2: a controller is usable in a cgroup only when every ancestor
   * lists it in cgroup.subtree_control. We enable everything each level
   * offers (so memory.events and the stats files exist even without limits).
   * The kernel refuses (EBUSY) to enable controllers in a non-root cgroup
   * that holds processes ("no internal processes" rule): we do not move
   * anybody else's processes; we warn, and apply() later fails with a clear
   * error if a limit needs a controller that could not be enabled. tsrun
   * itself only ever puts processes in leaf cgroups.
   */
  private createUnified(root: string, warnings: string[]): void {
    let dir = root;
    for (const seg of this.segments()) {
      this.enableSubtreeControllers(dir, warnings);
      dir = join(dir, seg);
      this.mkdirOne(dir);
    }
  }

  private enableSubtreeControllers(dir: string, warnings: string[]): void {
    const available = words(this.readOr(join(dir, 'cgroup.controllers'), ''));
    const enabled = new Set(words(this.readOr(join(dir, 'cgroup.subtree_control'), '')));
    const missing = available.filter((c) => !enabled.has(c));
    if (missing.length === 0) return;
    const file = join(dir, 'cgroup.subtree_control');
    try {
      this.fs.write(file, missing.map((c) => `+${c}`).join(' '));
      return;
    } catch {
      // One at a time, to enable what can be and name what cannot.
    }
    for (const c of missing) {
      try {
        this.fs.write(file, `+${c}`);
      } catch (err) {
        const why =
          errnoOf(err) === 'EBUSY'
            ? `${dir} holds processes (cgroup v2 "no internal processes" rule)`
            : (err as Error).message;
        warnings.push(`cgroup controller ${c} could not be enabled in ${dir}: ${why}; its limits cannot be applied`);
      }
    }
  }

  /** v1 cpuset: a new cgroup starts with empty cpus/mems and refuses tasks until they are set; copy the parent's. */
  private inheritCpuset(mount: string): void {
    let parent = mount;
    for (const seg of this.segments()) {
      const dir = join(parent, seg);
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        const own = this.readOr(join(dir, file), '').trim();
        if (own !== '') continue;
        const inherited = this.readOr(join(parent, file), '').trim();
        if (inherited === '') continue;
        this.writeOrThrow(join(dir, file), inherited, 'cpuset', `initialising ${file}`);
      }
      parent = dir;
    }
  }

  // ---- apply -----------------------------------------------------------------

  apply(resources: LinuxResources): string[] {
    const warnings: string[] = [];
    const v2 = planV2(resources);
    const v1 = planV1(resources);
    const fallback = this.info.layout === 'unified' ? v2 : v1;
    const controllers = [...new Set([...fallback, ...(fallback === v2 ? v1 : v2)].map((i) => i.controller))];
    for (const controller of controllers) {
      const target = this.target(controller);
      const plan = target ? (target.version === 1 ? v1 : v2) : fallback;
      const items = plan.filter((i) => i.controller === controller);
      if (!target) {
        for (const item of items) this.unavailable(item, warnings);
      } else {
        this.carryOut(items, target, warnings);
      }
    }
    return warnings;
  }

  /** Which hierarchy serves a controller for this cgroup, if any. */
  private target(controller: string): Target | undefined {
    const v1 = this.v1Dirs.get(controller);
    if (v1) return { version: 1, dir: v1 };
    if (!this.unifiedDir) return undefined;
    if (controller === 'cgroup') return { version: 2, dir: this.unifiedDir };
    const enabled = words(this.readOr(join(this.unifiedDir, 'cgroup.controllers'), ''));
    return enabled.includes(controller) ? { version: 2, dir: this.unifiedDir } : undefined;
  }

  private unavailable(item: PlanItem, warnings: string[]): void {
    const reason =
      item.kind === 'unsupported' ? item.reason : `the ${item.controller} cgroup controller is not available for ${this.path} on this host (${this.info.layout} layout)`;
    const fatal = item.kind === 'unsupported' ? item.fatal : !item.optional;
    if (fatal) {
      throw new CgroupError(`cannot apply ${item.what}: ${reason}`, item.controller, {
        hint: 'drop the option, or run on a host where this cgroup controller is mounted and enabled',
      });
    }
    pushOnce(warnings, `${item.what} ignored: ${reason}`);
  }

  private carryOut(items: PlanItem[], target: Target, warnings: string[]): void {
    const done = new Set<PlanItem>();
    for (const item of items) {
      if (done.has(item)) continue;
      done.add(item);
      if (item.kind === 'unsupported') {
        this.unavailable(item, warnings);
        continue;
      }
      try {
        this.writePlanned(item, target.dir, warnings);
      } catch (err) {
        // v1 memory/memsw: the kernel keeps memsw >= memory at every step, so
        // raising a limit may need memsw written first. Retry in that order.
        const partner = item.orderGroup && items.find((o) => o !== item && !done.has(o) && o.kind === 'write' && o.orderGroup === item.orderGroup);
        if (!partner || partner.kind !== 'write') throw err;
        done.add(partner);
        this.writePlanned(partner, target.dir, warnings);
        this.writePlanned(item, target.dir, warnings);
      }
    }
  }

  private writePlanned(item: PlannedWrite, dir: string, warnings: string[]): void {
    const chosen = item.candidates.find((c) => this.fs.exists(join(dir, c.file)));
    if (!chosen) {
      const files = item.candidates.map((c) => c.file).join(' or ');
      if (item.optional) {
        pushOnce(warnings, `${item.what} ignored: this kernel has no ${files} in the ${item.controller} controller`);
        return;
      }
      throw new CgroupError(`cannot apply ${item.what}: ${join(dir, item.candidates[0]!.file)} does not exist`, item.controller);
    }
    const path = join(dir, chosen.file);
    try {
      this.fs.write(path, chosen.value);
    } catch (err) {
      if (item.bestEffort) {
        pushOnce(warnings, `${item.what} ignored: the kernel refused ${path}: ${(err as Error).message}`);
        return;
      }
      throw new CgroupError(`cannot apply ${item.what}: writing "${chosen.value}" to ${path} failed`, item.controller, { cause: err });
    }
  }

  // ---- processes ---------------------------------------------------------------

  procsFiles(): string[] {
    return this.dirs().map((d) => join(d, 'cgroup.procs'));
  }

  addProcess(pid: number): void {
    for (const file of this.procsFiles()) this.writeOrThrow(file, String(pid), undefined, `adding process ${pid}`);
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const file of this.procsFiles()) for (const pid of parsePids(this.readOr(file, ''))) all.add(pid);
    return [...all].sort((a, b) => a - b);
  }

  // ---- freeze ------------------------------------------------------------------

  /** The v1 freezer when mounted (legacy and hybrid), else cgroup.freeze of cgroup v2. */
  private freezer(): Target {
    const v1 = this.v1Dirs.get('freezer');
    if (v1) return { version: 1, dir: v1 };
    if (this.unifiedDir && this.fs.exists(join(this.unifiedDir, 'cgroup.freeze'))) return { version: 2, dir: this.unifiedDir };
    throw new CgroupError(`cannot freeze ${this.path}: neither cgroup.freeze (cgroup v2) nor a v1 freezer hierarchy exists`, 'freezer');
  }

  freeze(): void {
    this.setFrozen(true, FREEZE_TIMEOUT_MS);
  }

  thaw(): void {
    this.setFrozen(false, FREEZE_TIMEOUT_MS);
  }

  private setFrozen(frozen: boolean, timeoutMs: number): void {
    const f = this.freezer();
    const [file, value] = f.version === 1 ? ['freezer.state', frozen ? 'FROZEN' : 'THAWED'] : ['cgroup.freeze', frozen ? '1' : '0'];
    this.writeOrThrow(join(f.dir, file), value, 'freezer', frozen ? 'freezing' : 'thawing');
    // The kernel answers at once but settles asynchronously: v1 passes through FREEZING, v2 reports in cgroup.events.
    const settled = () =>
      f.version === 1
        ? this.readOr(join(f.dir, 'freezer.state'), '').trim() === value
        : parseFlatKeyed(this.readOr(join(f.dir, 'cgroup.events'), ''))['frozen'] === (frozen ? 1 : 0);
    if (pollSync(settled, timeoutMs)) return;
    if (frozen) {
      // Do not leave a half-frozen cgroup behind.
      try {
        this.fs.write(join(f.dir, file), f.version === 1 ? 'THAWED' : '0');
      } catch {
        /* already reporting the freeze failure */
      }
    }
    throw new CgroupError(`cgroup ${this.path} did not become ${frozen ? 'frozen' : 'thawed'} within ${timeoutMs} ms`, 'freezer');
  }

  // ---- kill ----------------------------------------------------------------------

  kill(): void {
    const killFile = this.unifiedDir ? join(this.unifiedDir, 'cgroup.kill') : undefined;
    const empty = () => this.pids().length === 0;
    if (empty()) return;
    if (killFile && this.fs.exists(killFile)) {
      // One write kills every process of the subtree, race-free against forks.
      // On hybrid hosts it only reaches processes also placed in the unified dir.
      this.writeOrThrow(killFile, '1', undefined, 'killing');
      // A v1-frozen process only acts on the SIGKILL once thawed (hybrid hosts).
      if (this.v1Dirs.has('freezer')) this.tryThaw();
      if (pollSync(empty, 1000)) return;
    }
    const deadline = Date.now() + KILL_TIMEOUT_MS;
    while (Date.now() < deadline) {
      // Freezing first stops a fork loop from outrunning us; SIGKILL is
      // delivered once thawed (v1) or at once (v2).
      const frozen = this.tryFreeze();
      for (const pid of this.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          if (errnoOf(err) !== 'ESRCH') throw new CgroupError(`cannot kill process ${pid} of cgroup ${this.path}`, undefined, { cause: err });
        }
      }
      if (frozen) this.tryThaw();
      if (pollSync(empty, 100)) return;
    }
    throw new CgroupError(`processes ${this.pids().join(', ')} of cgroup ${this.path} survived SIGKILL for ${KILL_TIMEOUT_MS} ms`);
  }

  private tryFreeze(): boolean {
    try {
      this.setFrozen(true, 500);
      return true;
    } catch {
      return false;
    }
  }

  private tryThaw(): void {
    try {
      this.setFrozen(false, 500);
    } catch {
      /* the processes are being killed anyway */
    }
  }

  // ---- destroy -------------------------------------------------------------------

  destroy(): void {
    for (const dir of this.dirs()) this.removeTree(dir);
  }

  private removeTree(dir: string): void {
    // Mostly a leaf: try it before listing the dozens of interface files a cgroup directory has.
    try {
      this.fs.rmdir(dir);
      return;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      // EBUSY: child cgroups, or processes still being released; both are handled below.
    }
    let children: string[];
    try {
      children = this.fs.subdirs(dir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw new CgroupError(`cannot list cgroup directory ${dir}`, undefined, { cause: err });
    }
    for (const child of children) this.removeTree(join(dir, child));
    const deadline = Date.now() + RMDIR_TIMEOUT_MS;
    for (;;) {
      try {
        this.fs.rmdir(dir);
        return;
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') return;
        // EBUSY: processes that just died are still being released by the kernel.
        if (code === 'EBUSY' && Date.now() < deadline) {
          sleepSync(10);
          continue;
        }
        const left = parsePids(this.readOr(join(dir, 'cgroup.procs'), '')).join(', ') || 'none';
        throw new CgroupError(`cannot remove cgroup directory ${dir} (processes left: ${left})`, undefined, { cause: err });
      }
    }
  }

  // ---- stats ---------------------------------------------------------------------

  stats(): CgroupStats {
    const out: CgroupStats = {};
    const mem = this.target('memory');
    if (mem) {
      const num = (file: string) => this.readNumber(join(mem.dir, file));
      const usage = num(mem.version === 2 ? 'memory.current' : 'memory.usage_in_bytes');
      if (usage !== undefined) {
        const swap = mem.version === 2 ? num('memory.swap.current') : undefined;
        out.memory = {
          usage,
          limit: parseLimit(this.readOr(join(mem.dir, mem.version === 2 ? 'memory.max' : 'memory.limit_in_bytes'), '')),
          ...(swap !== undefined ? { swapUsage: swap } : {}),
          stat: parseFlatKeyed(this.readOr(join(mem.dir, 'memory.stat'), '')),
        };
      }
    }
    out.cpu = this.cpuStats();
    if (!out.cpu) delete out.cpu;
    const pids = this.target('pids');
    if (pids) {
      const current = this.readNumber(join(pids.dir, 'pids.current'));
      if (current !== undefined) out.pids = { current, limit: parseLimit(this.readOr(join(pids.dir, 'pids.max'), '')) };
    }
    const io = this.target('io') ?? this.target('blkio');
    if (io) {
      const file = io.version === 2 ? 'io.stat' : 'blkio.throttle.io_service_bytes';
      const text = this.readOr(join(io.dir, file), undefined);
      if (text !== undefined) out.io = io.version === 2 ? parseIoStat(text) : parseBlkioServiceBytes(text);
    }
    return out;
  }

  private cpuStats(): CgroupStats['cpu'] {
    const acct = this.v1Dirs.get('cpuacct');
    const cpuDir = this.v1Dirs.get('cpu');
    if (acct) {
      const usageNs = this.readNumber(join(acct, 'cpuacct.usage'));
      if (usageNs === undefined) return undefined;
      const userNs = this.readNumber(join(acct, 'cpuacct.usage_user'));
      const systemNs = this.readNumber(join(acct, 'cpuacct.usage_sys'));
      const throttle = cpuDir ? parseFlatKeyed(this.readOr(join(cpuDir, 'cpu.stat'), '')) : {};
      return {
        usageNs,
        ...(userNs !== undefined ? { userNs } : {}),
        ...(systemNs !== undefined ? { systemNs } : {}),
        ...(throttle['nr_throttled'] !== undefined ? { throttledPeriods: throttle['nr_throttled'] } : {}),
        ...(throttle['throttled_time'] !== undefined ? { throttledNs: throttle['throttled_time'] } : {}),
      };
    }
    // cgroup v2: cpu.stat exists in every cgroup (usage even without the cpu controller).
    if (!this.unifiedDir) return undefined;
    const s = parseFlatKeyed(this.readOr(join(this.unifiedDir, 'cpu.stat'), ''));
    if (s['usage_usec'] === undefined) return undefined;
    return {
      usageNs: s['usage_usec'] * 1000,
      ...(s['user_usec'] !== undefined ? { userNs: s['user_usec'] * 1000 } : {}),
      ...(s['system_usec'] !== undefined ? { systemNs: s['system_usec'] * 1000 } : {}),
      ...(s['nr_throttled'] !== undefined ? { throttledPeriods: s['nr_throttled'] } : {}),
      ...(s['throttled_usec'] !== undefined ? { throttledNs: s['throttled_usec'] * 1000 } : {}),
    };
  }

  /**
   * v2: memory.events oom_kill (hierarchical: counts kills in sub-cgroups too).
   * v1: the oom_kill counter of memory.oom_control (kernels >= 4.13). Older
   * kernels lack it; there we answer from under_oom only. memory.failcnt is
   * deliberately not used: it counts every time usage hit the limit, which
   * reclaim usually resolves without killing anything.
   */
  oomKilled(): boolean {
    return this.oomKillCount() > 0;
  }

  oomKillCount(): number {
    const mem = this.target('memory');
    if (!mem) return 0;
    if (mem.version === 2) return parseFlatKeyed(this.readOr(join(mem.dir, 'memory.events'), ''))['oom_kill'] ?? 0;
    const ctl = parseFlatKeyed(this.readOr(join(mem.dir, 'memory.oom_control'), ''));
    if (ctl['oom_kill'] !== undefined) return ctl['oom_kill'];
    return ctl['under_oom'] === 1 ? 1 : 0;
  }

  fullStats(): FullCgroupStats {
    return readFullStats({
      target: (controller) => this.target(controller),
      v1Dir: (controller) => this.v1Dirs.get(controller),
      unifiedDir: this.unifiedDir,
      read: (path) => this.readOr(path, undefined),
      files: (dir) => {
        try {
          return this.fs.files?.(dir) ?? [];
        } catch {
          return [];
        }
      },
    });
  }

  // ---- small helpers -------------------------------------------------------------

  private readOr<T extends string | undefined>(path: string, fallback: T): string | T {
    try {
      return this.fs.read(path);
    } catch {
      return fallback;
    }
  }

  private readNumber(path: string): number | undefined {
    const text = this.readOr(path, undefined);
    if (text === undefined) return undefined;
    const n = Number(text.trim());
    return Number.isFinite(n) && text.trim() !== '' ? n : undefined;
  }

  private writeOrThrow(path: string, value: string, controller: string | undefined, doing: string): void {
    try {
      this.fs.write(path, value);
    } catch (err) {
      throw new CgroupError(`${doing} cgroup ${this.path}: writing "${value}" to ${path} failed`, controller, { cause: err });
    }
  }
}

function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

function pushOnce(list: string[], msg: string): void {
  if (!list.includes(msg)) list.push(msg);
}

/** Child cgroups of `parentPath` ('/tsrun') in any hierarchy, as cgroup paths ('/tsrun/<id>'), sorted. */
export function listChildCgroups(info: CgroupLayoutInfo, parentPath: string, fs: CgroupFs = realCgroupFs): string[] {
  const mounts = [...new Set([...(info.unifiedPath ? [info.unifiedPath] : []), ...Object.values(info.v1)])];
  const found = new Set<string>();
  for (const mount of mounts) {
    try {
      for (const name of fs.subdirs(join(mount, parentPath))) found.add(join(parentPath, name));
    } catch {
      /* missing in this hierarchy */
    }
  }
  return [...found].sort();
}
