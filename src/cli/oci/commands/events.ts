// tsrun-oci events [--stats] [--interval 5s] <id>: runc's event stream, one JSON
// object a line. --stats prints {"type":"stats","id","data"} once; without it a
// stats event follows every interval and {"type":"oom","id"} whenever the
// cgroup's OOM-kill counter rises, until the container stops. The numbers come
// from the container's cgroup (cgroup/full-stats.ts) and are shaped like runc's
// types.Stats (its JSON names, Go's omitempty rules, exact uint64 values).
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlkioEntryStats, FullCgroupStats, MemoryEntryStats } from '../../../cgroup/index.js';
import { NotFoundError, StateError, UsageError } from '../../../errors.js';
import { containerId, flag, str, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

/** How often the OOM counter and the container's state are looked at between stats. */
const OOM_POLL_MS = 200;

// Micro is µ (U+00B5) or μ (U+03BC); escapes keep the bundle ASCII.
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "250ms", "1m30s", "1.5h") in milliseconds. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/gy;
  let ms = 0;
  let at = 0;
  const sign = t.startsWith('-') ? -1 : 1;
  const body = t.replace(/^[-+]/, '');
  re.lastIndex = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  if (body === '' || at !== body.length) throw new UsageError(`invalid duration "${text}" (e.g. 5s, 500ms, 1m30s)`);
  return sign * ms;
}

/** JSON with bigints written as plain integers, as Go encodes uint64; undefined members are left out. */
export function toJson(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (typeof v === 'object') {
    const members = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${members.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// Go's omitempty: zero numbers, empty strings, empty slices and maps are left out.
const n = (v: bigint): bigint | undefined => (v === 0n ? undefined : v);
const list = <T>(v: T[]): T[] | undefined => (v.length ? v : undefined);

function memoryEntry(e: MemoryEntryStats) {
  return { limit: e.limit, usage: n(e.usage), max: n(e.max), failcnt: e.failcnt };
}

function blkio(entries: BlkioEntryStats[]) {
  return list(entries.map((e) => ({ major: n(e.major), minor: n(e.minor), op: e.op || undefined, value: n(e.value) })));
}

/** runc's types.Stats for the data of a "stats" event. */
export function runcStats(s: FullCgroupStats): Record<string, unknown> {
  const hugetlb: Record<string, unknown> = {};
  for (const [size, h] of Object.entries(s.hugetlb)) hugetlb[size] = { usage: n(h.usage), max: n(h.max), failcnt: h.failcnt };
  return {
    cpu: {
      usage: {
        total: n(s.cpu.total),
        percpu: list(s.cpu.percpu),
        percpu_kernel: list(s.cpu.percpuKernel),
        percpu_user: list(s.cpu.percpuUser),
        kernel: s.cpu.kernel,
        user: s.cpu.user,
      },
      throttling: { periods: n(s.cpu.periods), throttledPeriods: n(s.cpu.throttledPeriods), throttledTime: n(s.cpu.throttledTime) },
    },
    cpuset: {
      cpus: list(s.cpuset.cpus),
      cpu_exclusive: s.cpuset.cpuExclusive,
      mems: list(s.cpuset.mems),
      mem_hardwall: s.cpuset.memHardwall,
      mem_exclusive: s.cpuset.memExclusive,
      memory_migrate: s.cpuset.memoryMigrate,
      memory_spread_page: s.cpuset.memorySpreadPage,
      memory_spread_slab: s.cpuset.memorySpreadSlab,
      memory_pressure: s.cpuset.memoryPressure,
      sched_load_balance: s.cpuset.schedLoadBalance,
      sched_relax_domain_level: s.cpuset.schedRelaxDomainLevel,
    },
    memory: {
      cache: n(s.memory.cache),
      usage: memoryEntry(s.memory.usage),
      swap: memoryEntry(s.memory.swap),
      kernel: memoryEntry(s.memory.kernel),
      kernelTCP: memoryEntry(s.memory.kernelTcp),
      // Go writes map keys sorted.
      raw: Object.keys(s.memory.raw).length ? Object.fromEntries(Object.entries(s.memory.raw).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : undefined,
    },
    pids: { current: n(s.pids.current), limit: n(s.pids.limit) },
    blkio: {
      ioServiceBytesRecursive: blkio(s.blkio.ioServiceBytesRecursive),
      ioServicedRecursive: blkio(s.blkio.ioServicedRecursive),
      ioQueueRecursive: blkio(s.blkio.ioQueuedRecursive),
      ioServiceTimeRecursive: blkio(s.blkio.ioServiceTimeRecursive),
      ioWaitTimeRecursive: blkio(s.blkio.ioWaitTimeRecursive),
      ioMergedRecursive: blkio(s.blkio.ioMergedRecursive),
      ioTimeRecursive: blkio(s.blkio.ioTimeRecursive),
      sectorsRecursive: blkio(s.blkio.sectorsRecursive),
    },
    hugetlb,
    intel_rdt: {},
    network_interfaces: null,
  };
}

export const command: OciCommand = {
  usage: 'events [--stats] [--interval DURATION] <container-id>',
  options: { stats: {}, interval: { value: true } },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const id = containerId(args, 'events');
    const intervalMs = parseDuration(str(args, 'interval') ?? '5s');
    if (intervalMs <= 0) throw new UsageError('duration interval must be greater than 0');
    if (ctx.launcher.state(id).status === 'stopped') throw new StateError(`container with id ${id} is not running`);
    const cgroup = ctx.launcher.cgroupOf(id);
    let closed = false;
    process.stdout.on('error', () => {
      closed = true; // the reader went away (EPIPE): stop quietly
    });
    const emit = (event: { type: string; id: string; data?: unknown }) => {
      if (!closed) process.stdout.write(toJson(event) + '\n');
    };
    const stats = () => emit({ type: 'stats', id, data: runcStats(cgroup.fullStats()) });
    if (flag(args, 'stats')) {
      stats();
      return 0;
    }
    let ooms = cgroup.oomKillCount();
    let nextStats = Date.now() + intervalMs;
    while (!closed) {
      await sleep(Math.max(0, Math.min(OOM_POLL_MS, nextStats - Date.now())));
      // The OOM counter first: a container the OOM killer ends still reports its kill.
      const count = cgroup.oomKillCount();
      if (count > ooms) emit({ type: 'oom', id });
      ooms = count;
      try {
        if (ctx.launcher.state(id).status === 'stopped') break;
      } catch (err) {
        if (err instanceof NotFoundError) break; // deleted meanwhile
        throw err;
      }
      if (Date.now() >= nextStats) {
        stats();
        nextStats += intervalMs;
        if (nextStats <= Date.now()) nextStats = Date.now() + intervalMs; // a slow read: do not burst
      }
    }
    return 0;
  },
};
