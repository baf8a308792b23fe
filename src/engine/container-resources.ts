// Resource verbs on containers: `stats`, `pause`/`unpause` and `update`.
// Everything goes through the container's cgroup (the cgroupsPath of its
// bundle's config.json), so the same code serves our launcher and runc on
// cgroup v2, hybrid and v1 hosts. Containers is used through its public
// methods only; the lifecycle stays in containers.ts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus as hostCpus } from 'node:os';
import { join } from 'node:path';
import { detectLayout, openCgroup, type CgroupManager, type CgroupStats } from '../cgroup/index.js';
import { CgroupError, LaunchError, StateError, UsageError } from '../errors.js';
import type { LinuxResources, Spec } from '../oci/runtime.js';
import { Launcher } from '../runtime/index.js';
import { buildResources, parseResources } from '../spec/index.js';
import { resolveHost } from '../spec/host.js';
import { writeJsonAtomic } from '../util/fs.js';
import type { ContainerRecord } from './container-store.js';
import type { Containers } from './containers.js';
import { recordContainerEvent } from './events.js';

/** One reading of a container's counters; two of them give a CPU %. */
export interface StatsSample {
  /** When it was taken (ms since the epoch). */
  at: number;
  running: boolean;
  /** Container CPU time (ns) and the whole host's CPU time (ns, /proc/stat) at the same moment. */
  cpuNs: number;
  systemNs: number;
  onlineCpus: number;
  /** Bytes charged, minus the inactive page cache (what `docker stats` shows). */
  memUsage: number;
  /** The cgroup limit, else the host's memory. */
  memLimit: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

/** What one row of `tsrun stats` shows, as numbers. */
export interface ContainerStats {
  id: string;
  name: string;
  running: boolean;
  cpuPercent: number;
  memUsage: number;
  memLimit: number;
  memPercent: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

// Linux reports /proc/stat in USER_HZ, which is 100 on every architecture Node runs on.
const NS_PER_TICK = 1e9 / 100;

/** The whole host's CPU time in ns: the sum of the first line of /proc/stat (as Docker does). */
export function parseSystemCpuNs(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return ticks.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) * NS_PER_TICK;
}

/** rx and tx bytes of every interface but lo, from /proc/<pid>/net/dev. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    if (line.slice(0, colon).trim() === 'lo') continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

/** MemTotal of /proc/meminfo in bytes: the "limit" of a container without one. */
export function parseMemTotal(meminfo: string): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Memory in use as `docker stats` counts it: usage minus the inactive file
 * cache (v1 total_inactive_file, v2 inactive_file), which the kernel drops first.
 */
export function memoryInUse(mem: NonNullable<CgroupStats['memory']>): number {
  const inactive = mem.stat['total_inactive_file'] ?? mem.stat['inactive_file'] ?? 0;
  return inactive < mem.usage ? mem.usage - inactive : mem.usage;
}

/** Docker's CPU %: the container's share of the host's CPU time between two samples, scaled by the CPU count. */
export function computeStats(id: string, name: string, prev: StatsSample | undefined, cur: StatsSample): ContainerStats {
  let cpuPercent = 0;
  if (prev && cur.running) {
    const cpuDelta = cur.cpuNs - prev.cpuNs;
    const systemDelta = cur.systemNs - prev.systemNs;
    if (cpuDelta > 0 && systemDelta > 0) cpuPercent = (cpuDelta / systemDelta) * cur.onlineCpus * 100;
  }
  return {
    id,
    name,
    running: cur.running,
    cpuPercent,
    memUsage: cur.memUsage,
    memLimit: cur.memLimit,
    memPercent: cur.memLimit > 0 ? (cur.memUsage / cur.memLimit) * 100 : 0,
    netRx: cur.netRx,
    netTx: cur.netTx,
    blockRead: cur.blockRead,
    blockWrite: cur.blockWrite,
    pids: cur.pids,
  };
}

/** Merges an update into a container's linux.resources, section by section (devices untouched). */
export function mergeResources(base: LinuxResources, change: LinuxResources): LinuxResources {
  const out: LinuxResources = { ...base };
  if (change.memory) out.memory = { ...base.memory, ...change.memory };
  if (change.cpu) out.cpu = { ...base.cpu, ...change.cpu };
  if (change.pids) out.pids = { ...change.pids };
  if (change.blockIO) out.blockIO = { ...base.blockIO, ...change.blockIO };
  return out;
}

/** linux.resources from run's limit flags (--memory, --cpus, --pids-limit...), without device rules; {} when none is given. */
export function resourcesFromFlags(flags: Record<string, unknown>, warnings: string[]): LinuxResources {
  const out = buildResources({ resources: parseResources(flags, warnings) }, [], resolveHost());
  delete out.devices;
  return out;
}

/**
 * The resources an `update` sets, from the same flags and parser as `run`
 * (Docker's checks; --memory without --memory-swap allows as much swap again).
 * Device rules are never part of an update. Parser warnings go to `warnings`.
 */
export function resourcesFromUpdateFlags(flags: Record<string, unknown>, warnings: string[]): LinuxResources {
  const change = resourcesFromFlags(flags, warnings);
  if (Object.keys(change).length === 0 && flags.kernelMemory === undefined) {
    throw new UsageError('update: nothing to change: give at least one limit (--memory, --cpus, --pids-limit, ...)');
  }
  return change;
}

/**
 * Whether a cgroup warning is worth printing for a container. On a pure
 * cgroup v2 host every container would otherwise warn that the default device
 * rules are not enforced (that needs eBPF); only rules the user asked for
 * (--device) are worth a warning there.
 */
export function cgroupWarningMatters(message: string, spec: Spec | undefined, layout: string): boolean {
  if (!/^device access rules ignored/.test(message)) return true;
  if (layout !== 'unified') return true;
  const defaults = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/console', '/dev/ptmx']);
  // --device adds a node beside the defaults; --privileged's "allow all" enforces nothing anyway.
  return (spec?.linux?.devices ?? []).some((d) => !defaults.has(d.path)) && !(spec?.linux?.resources?.devices ?? []).some((r) => r.allow && !r.type && r.major === undefined);
}

/** Kills what is left in a container's cgroup and removes it in every hierarchy; nothing to do when it is gone. */
export function removeCgroupOf(spec: Spec | undefined): void {
  const path = spec?.linux?.cgroupsPath;
  if (!path) return;
  const cgroup = openCgroup(path);
  cgroup.kill();
  cgroup.destroy();
}

export class ContainerResources {
  private memTotal: number | undefined;

  constructor(readonly containers: Containers) {}

  /** The container's cgroup, from its bundle's cgroupsPath. */
  cgroup(record: ContainerRecord): CgroupManager {
    const path = this.containers.spec(record).linux?.cgroupsPath;
    if (!path) throw new StateError(`container ${record.name} has no cgroup (its config.json has no linux.cgroupsPath)`);
    return openCgroup(path);
  }

  /** Reads every counter once. A stopped container reads as zeros (its cgroup may be gone). */
  sample(record: ContainerRecord): StatsSample {
    const state = this.containers.state(record);
    const running = state.status === 'running';
    const systemNs = parseSystemCpuNs(readOr('/proc/stat'));
    const hostMem = (this.memTotal ??= parseMemTotal(readOr('/proc/meminfo')));
    const s: StatsSample = {
      at: Date.now(), running, cpuNs: 0, systemNs, onlineCpus: hostCpus().length || 1,
      memUsage: 0, memLimit: running ? hostMem : 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0,
    };
    if (!running) return s;
    let stats: CgroupStats = {};
    try {
      stats = this.cgroup(record).stats();
    } catch {
      /* the container stopped meanwhile */
    }
    if (stats.cpu) s.cpuNs = stats.cpu.usageNs;
    if (stats.memory) {
      s.memUsage = memoryInUse(stats.memory);
      if (stats.memory.limit !== undefined && stats.memory.limit < hostMem) s.memLimit = stats.memory.limit;
    }
    if (stats.io) {
      s.blockRead = stats.io.readBytes;
      s.blockWrite = stats.io.writeBytes;
    }
    if (stats.pids) s.pids = stats.pids.current;
    if (state.pid) {
      const net = parseNetDev(readOr(`/proc/${state.pid}/net/dev`));
      s.netRx = net.rx;
      s.netTx = net.tx;
    }
    return s;
  }

  /** CPU time (ns) the container used and how often it was throttled: for tests and `stats`. */
  cpuUsage(record: ContainerRecord): CgroupStats['cpu'] {
    return this.cgroup(record).stats().cpu;
  }

  isPaused(record: ContainerRecord): boolean {
    const launcher = this.containers.launcher(record);
    try {
      return launcher.state(record.id).status === 'paused';
    } catch {
      return false;
    }
  }

  /** Freezes every process of the container (cgroup.freeze on v2, the v1 freezer). */
  async pause(record: ContainerRecord): Promise<void> {
    const state = this.containers.state(record);
    if (state.status !== 'running') throw new StateError(`container ${record.name} is not running`);
    if (this.isPaused(record)) throw new StateError(`container ${record.name} is already paused`);
    await this.freezer(record, 'pause');
    recordContainerEvent(this.containers.ctx, record, 'pause');
  }

  async unpause(record: ContainerRecord): Promise<void> {
    if (!this.isPaused(record)) throw new StateError(`container ${record.name} is not paused`);
    await this.freezer(record, 'resume');
    recordContainerEvent(this.containers.ctx, record, 'unpause');
  }

  private async freezer(record: ContainerRecord, verb: 'pause' | 'resume'): Promise<void> {
    const launcher = this.containers.launcher(record);
    if (launcher instanceof Launcher) {
      await (verb === 'pause' ? launcher.pause(record.id) : launcher.resume(record.id));
      return;
    }
    // runc, crun: their own pause/resume keep their state in step with the cgroup.
    const r = spawnSync(launcher.binary, ['--root', launcher.stateRoot, verb, record.id], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new LaunchError(`${launcher.binary} ${verb} ${record.id} failed: ${(r.stderr || r.error?.message || '').trim()}`, verb);
    }
  }

  /**
   * Applies new limits to a container: to its live cgroup when it runs, and
   * to its bundle's config.json so the next start keeps them. Returns the
   * warnings to print (flags the kernel ignores, settings the host cannot honour).
   */
  update(record: ContainerRecord, flags: Record<string, unknown>): string[] {
    const warnings: string[] = [];
    const change = resourcesFromUpdateFlags(flags, warnings);
    const spec = this.containers.spec(record);
    const linux = (spec.linux ??= {});
    const merged = mergeResources(linux.resources ?? {}, change);
    if (merged.memory?.reservation !== undefined && merged.memory.limit !== undefined && merged.memory.limit > 0 && merged.memory.reservation > merged.memory.limit) {
      throw new UsageError(`update: the memory reservation (${merged.memory.reservation} bytes) must not exceed the memory limit (${merged.memory.limit} bytes)`);
    }
    if (this.containers.state(record).status === 'running' && Object.keys(change).length > 0) {
      try {
        // Only what changed: rewriting the device rules of a running v1 cgroup would deny everything for a moment.
        warnings.push(...this.cgroup(record).apply(change));
      } catch (err) {
        if (err instanceof CgroupError) throw new CgroupError(`cannot update container ${record.name}: ${err.message}`, err.controller, { cause: err });
        throw err;
      }
    }
    linux.resources = merged;
    writeJsonAtomic(join(this.containers.store.paths(record.id).bundle, 'config.json'), spec);
    return warnings;
  }

  /** Whether a cgroup warning for this container should be shown (see cgroupWarningMatters). */
  warningMatters(record: ContainerRecord | undefined, message: string): boolean {
    let spec: Spec | undefined;
    try {
      spec = record ? this.containers.spec(record) : undefined;
    } catch {
      spec = undefined;
    }
    let layout = 'unknown';
    try {
      layout = detectLayout().layout;
    } catch {
      /* no cgroup fs: keep every warning */
    }
    return cgroupWarningMatters(message, spec, layout);
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
