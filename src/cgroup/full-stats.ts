// Every counter an OCI runtime's `events --stats` reports, read from a
// cgroup's files on v1, v2 and hybrid hosts (the model runc's libcontainer
// keeps in cgroups.Stats). Values are bigints: cgroup files hold unsigned
// 64-bit numbers, and "unlimited" is 2^63-4096 on v1 and 2^64-1 (for "max")
// on v2, beyond what a JS number holds exactly.
//
//   field                 cgroup v1                                   cgroup v2
//   cpu.total             cpuacct.usage                               cpu.stat usage_usec * 1000
//   cpu.percpu*           cpuacct.usage_all (else usage_percpu[_sys|_user]) -
//   cpu.kernel/user       cpuacct.usage_sys/_user (else cpuacct.stat ticks) cpu.stat system_usec/user_usec * 1000
//   cpu.throttling        cpu.stat nr_periods, nr_throttled, throttled_time   cpu.stat ..., throttled_usec * 1000
//   memory.usage          memory.{usage,max_usage,limit}_in_bytes, failcnt    memory.current, memory.peak, memory.max, memory.events max
//   memory.swap           memory.memsw.* (memory + swap)              swap.current + current, swap.max + max (v1's meaning)
//   memory.kernel(TCP)    memory.kmem[.tcp].*                         -
//   memory.cache / raw    memory.stat cache / all of memory.stat      memory.stat file / all of memory.stat
//   pids                  pids.current, pids.max ("max" -> 0)         same
//   blkio                 blkio.*_recursive: CFQ, else BFQ, else throttle    io.stat rbytes/wbytes/dbytes, rios/wios/dios
//   hugetlb               hugetlb.<size>.{usage_in_bytes,max_usage_in_bytes,failcnt}   hugetlb.<size>.current, .events max
//   cpuset                cpuset.cpus, cpuset.mems and the flag files cpuset.cpus.effective, cpuset.mems.effective
// Missing files read as zero: a controller this host lacks reports nothing.
import { join } from 'node:path';

export const MAX_U64 = (1n << 64n) - 1n;

export interface MemoryEntryStats {
  usage: bigint;
  /** Highest usage seen (v1 max_usage_in_bytes, v2 memory.peak). */
  max: bigint;
  failcnt: bigint;
  limit: bigint;
}

export interface BlkioEntryStats {
  major: bigint;
  minor: bigint;
  /** "Read", "Write", "Sync", "Async", "Discard", "Total"; "" for files without one. */
  op: string;
  value: bigint;
}

export interface FullCgroupStats {
  cpu: {
    total: bigint;
    percpu: bigint[];
    percpuKernel: bigint[];
    percpuUser: bigint[];
    kernel: bigint;
    user: bigint;
    periods: bigint;
    throttledPeriods: bigint;
    throttledTime: bigint;
  };
  cpuset: {
    cpus: number[];
    mems: number[];
    cpuExclusive: bigint;
    memHardwall: bigint;
    memExclusive: bigint;
    memoryMigrate: bigint;
    memorySpreadPage: bigint;
    memorySpreadSlab: bigint;
    memoryPressure: bigint;
    schedLoadBalance: bigint;
    schedRelaxDomainLevel: bigint;
  };
  memory: {
    cache: bigint;
    usage: MemoryEntryStats;
    swap: MemoryEntryStats;
    kernel: MemoryEntryStats;
    kernelTcp: MemoryEntryStats;
    raw: Record<string, bigint>;
  };
  pids: { current: bigint; /** 0 when unlimited. */ limit: bigint };
  blkio: {
    ioServiceBytesRecursive: BlkioEntryStats[];
    ioServicedRecursive: BlkioEntryStats[];
    ioQueuedRecursive: BlkioEntryStats[];
    ioServiceTimeRecursive: BlkioEntryStats[];
    ioWaitTimeRecursive: BlkioEntryStats[];
    ioMergedRecursive: BlkioEntryStats[];
    ioTimeRecursive: BlkioEntryStats[];
    sectorsRecursive: BlkioEntryStats[];
  };
  /** Per huge page size ("2MB", "1GB"). */
  hugetlb: Record<string, { usage: bigint; max: bigint; failcnt: bigint }>;
}

/** What full stats need from a manager: where a controller lives, and file reads that may fail. */
export interface StatsSource {
  target(controller: string): { version: 1 | 2; dir: string } | undefined;
  /** The v1 directory of a controller, if it has its own hierarchy (cpuacct, cpu). */
  v1Dir(controller: string): string | undefined;
  /** The cgroup's unified directory (cpu.stat exists there without the cpu controller). */
  unifiedDir: string | undefined;
  read(path: string): string | undefined;
  /** File names in a directory; [] when unknown. */
  files(dir: string): string[];
}

/** Linux's USER_HZ, the unit of cpuacct.stat. */
const USER_HZ = 100n;

export function u64(text: string | undefined, maxMeans: bigint = MAX_U64): bigint {
  const t = text?.trim() ?? '';
  if (t === 'max') return maxMeans;
  return /^-?\d+$/.test(t) ? BigInt(t) : 0n;
}

/** "key value" lines as bigints. */
export function flatKeyed(text: string | undefined): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = BigInt(v);
  }
  return out;
}

/** "0-3,5" -> [0,1,2,3,5]. */
export function parseCpuList(text: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    for (let i = from; i <= to && i - from < 65536; i++) out.push(i);
  }
  return out;
}

/** A v1 blkio.*_recursive file: "8:0 Read 4096" (or "8:0 4096"); the closing "Total N" line is dropped. */
export function parseBlkioRecursive(text: string | undefined): BlkioEntryStats[] {
  const out: BlkioEntryStats[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const [op, value] = f.length >= 3 ? [f[1]!, f[2]!] : ['', f[1] ?? ''];
    out.push({ major: BigInt(dev[1]!), minor: BigInt(dev[2]!), op, value: u64(value) });
  }
  return out;
}

/** io.stat -> bytes (rbytes/wbytes/dbytes) and operations (rios/wios/dios) per device, as v1-style entries. */
export function parseIoStatEntries(text: string | undefined): { bytes: BlkioEntryStats[]; ios: BlkioEntryStats[] } {
  const bytes: BlkioEntryStats[] = [];
  const ios: BlkioEntryStats[] = [];
  const ops: Record<string, [BlkioEntryStats[], string]> = {
    rbytes: [bytes, 'Read'], wbytes: [bytes, 'Write'], dbytes: [bytes, 'Discard'],
    rios: [ios, 'Read'], wios: [ios, 'Write'], dios: [ios, 'Discard'],
  };
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    for (const field of f.slice(1)) {
      const [k, v] = field.split('=');
      const to = ops[k ?? ''];
      if (to) to[0].push({ major: BigInt(dev[1]!), minor: BigInt(dev[2]!), op: to[1], value: u64(v) });
    }
  }
  return { bytes, ios };
}

function words(text: string | undefined): bigint[] {
  return (text ?? '').trim().split(/\s+/).filter((w) => /^\d+$/.test(w)).map((w) => BigInt(w));
}

function cpuStats(src: StatsSource): FullCgroupStats['cpu'] {
  const cpu: FullCgroupStats['cpu'] = { total: 0n, percpu: [], percpuKernel: [], percpuUser: [], kernel: 0n, user: 0n, periods: 0n, throttledPeriods: 0n, throttledTime: 0n };
  const acct = src.v1Dir('cpuacct');
  if (acct) {
    const r = (f: string) => src.read(join(acct, f));
    cpu.total = u64(r('cpuacct.usage'));
    cpu.percpu = words(r('cpuacct.usage_percpu'));
    const all = r('cpuacct.usage_all');
    if (all !== undefined) {
      // "cpu user system" then one line per cpu.
      for (const line of all.split('\n').slice(1)) {
        const [, user, system] = line.trim().split(/\s+/);
        if (user === undefined || system === undefined) continue;
        cpu.percpuUser.push(u64(user));
        cpu.percpuKernel.push(u64(system));
      }
    } else {
      cpu.percpuKernel = words(r('cpuacct.usage_percpu_sys'));
      cpu.percpuUser = words(r('cpuacct.usage_percpu_user'));
    }
    const user = r('cpuacct.usage_user');
    const sys = r('cpuacct.usage_sys');
    if (user !== undefined && sys !== undefined) {
      cpu.user = u64(user);
      cpu.kernel = u64(sys);
    } else {
      const ticks = flatKeyed(r('cpuacct.stat'));
      cpu.user = ((ticks['user'] ?? 0n) * 1_000_000_000n) / USER_HZ;
      cpu.kernel = ((ticks['system'] ?? 0n) * 1_000_000_000n) / USER_HZ;
    }
    const cpuDir = src.v1Dir('cpu');
    const s = flatKeyed(cpuDir ? src.read(join(cpuDir, 'cpu.stat')) : undefined);
    cpu.periods = s['nr_periods'] ?? 0n;
    cpu.throttledPeriods = s['nr_throttled'] ?? 0n;
    cpu.throttledTime = s['throttled_time'] ?? 0n;
    return cpu;
  }
  if (!src.unifiedDir) return cpu;
  const s = flatKeyed(src.read(join(src.unifiedDir, 'cpu.stat')));
  cpu.total = (s['usage_usec'] ?? 0n) * 1000n;
  cpu.user = (s['user_usec'] ?? 0n) * 1000n;
  cpu.kernel = (s['system_usec'] ?? 0n) * 1000n;
  cpu.periods = s['nr_periods'] ?? 0n;
  cpu.throttledPeriods = s['nr_throttled'] ?? 0n;
  cpu.throttledTime = (s['throttled_usec'] ?? 0n) * 1000n;
  return cpu;
}

function emptyEntry(): MemoryEntryStats {
  return { usage: 0n, max: 0n, failcnt: 0n, limit: 0n };
}

function memoryStats(src: StatsSource): FullCgroupStats['memory'] {
  const mem: FullCgroupStats['memory'] = { cache: 0n, usage: emptyEntry(), swap: emptyEntry(), kernel: emptyEntry(), kernelTcp: emptyEntry(), raw: {} };
  const t = src.target('memory');
  if (!t) return mem;
  const r = (f: string) => src.read(join(t.dir, f));
  mem.raw = flatKeyed(r('memory.stat'));
  if (t.version === 1) {
    const entry = (prefix: string): MemoryEntryStats => ({
      usage: u64(r(`${prefix}usage_in_bytes`)),
      max: u64(r(`${prefix}max_usage_in_bytes`)),
      failcnt: u64(r(`${prefix}failcnt`)),
      limit: u64(r(`${prefix}limit_in_bytes`)),
    });
    mem.cache = mem.raw['cache'] ?? 0n;
    mem.usage = entry('memory.');
    mem.swap = entry('memory.memsw.');
    mem.kernel = entry('memory.kmem.');
    mem.kernelTcp = entry('memory.kmem.tcp.');
    return mem;
  }
  mem.cache = mem.raw['file'] ?? 0n;
  mem.usage = { usage: u64(r('memory.current')), max: u64(r('memory.peak')), failcnt: flatKeyed(r('memory.events'))['max'] ?? 0n, limit: u64(r('memory.max')) };
  const swapMax = r('memory.swap.max');
  if (r('memory.swap.current') !== undefined) {
    // v1 reported memory+swap; keep that meaning.
    const swapLimit = u64(swapMax);
    const limit = swapLimit === MAX_U64 || mem.usage.limit === MAX_U64 ? MAX_U64 : swapLimit + mem.usage.limit;
    mem.swap = {
      usage: u64(r('memory.swap.current')) + mem.usage.usage,
      max: 0n,
      failcnt: flatKeyed(r('memory.swap.events'))['max'] ?? 0n,
      limit: limit > MAX_U64 ? MAX_U64 : limit,
    };
  }
  return mem;
}

function blkioStats(src: StatsSource): FullCgroupStats['blkio'] {
  const blkio: FullCgroupStats['blkio'] = {
    ioServiceBytesRecursive: [], ioServicedRecursive: [], ioQueuedRecursive: [], ioServiceTimeRecursive: [],
    ioWaitTimeRecursive: [], ioMergedRecursive: [], ioTimeRecursive: [], sectorsRecursive: [],
  };
  const io = src.target('io');
  if (io?.version === 2) {
    const { bytes, ios } = parseIoStatEntries(src.read(join(io.dir, 'io.stat')));
    blkio.ioServiceBytesRecursive = bytes;
    blkio.ioServicedRecursive = ios;
    return blkio;
  }
  const t = src.target('blkio');
  if (!t) return blkio;
  const r = (f: string) => parseBlkioRecursive(src.read(join(t.dir, f)));
  // The CFQ scheduler's files, else BFQ's, else the throttle layer's (which counts every I/O).
  if (r('blkio.io_service_bytes_recursive').length > 0) {
    blkio.ioServiceBytesRecursive = r('blkio.io_service_bytes_recursive');
    blkio.ioServicedRecursive = r('blkio.io_serviced_recursive');
    blkio.ioQueuedRecursive = r('blkio.io_queued_recursive');
    blkio.ioServiceTimeRecursive = r('blkio.io_service_time_recursive');
    blkio.ioWaitTimeRecursive = r('blkio.io_wait_time_recursive');
    blkio.ioMergedRecursive = r('blkio.io_merged_recursive');
    blkio.ioTimeRecursive = r('blkio.time_recursive');
    blkio.sectorsRecursive = r('blkio.sectors_recursive');
  } else if (r('blkio.bfq.io_service_bytes_recursive').length > 0) {
    blkio.ioServiceBytesRecursive = r('blkio.bfq.io_service_bytes_recursive');
    blkio.ioServicedRecursive = r('blkio.bfq.io_serviced_recursive');
  } else {
    blkio.ioServiceBytesRecursive = r('blkio.throttle.io_service_bytes_recursive');
    blkio.ioServicedRecursive = r('blkio.throttle.io_serviced_recursive');
  }
  return blkio;
}

function hugetlbStats(src: StatsSource): FullCgroupStats['hugetlb'] {
  const out: FullCgroupStats['hugetlb'] = {};
  const t = src.target('hugetlb');
  if (!t) return out;
  const usageFile = t.version === 1 ? 'usage_in_bytes' : 'current';
  for (const name of src.files(t.dir).sort()) {
    const m = /^hugetlb\.([^.]+)\.(.+)$/.exec(name);
    if (!m || m[2] !== usageFile) continue;
    const size = m[1]!;
    const r = (f: string) => src.read(join(t.dir, `hugetlb.${size}.${f}`));
    out[size] =
      t.version === 1
        ? { usage: u64(r('usage_in_bytes')), max: u64(r('max_usage_in_bytes')), failcnt: u64(r('failcnt')) }
        : { usage: u64(r('current')), max: 0n, failcnt: flatKeyed(r('events'))['max'] ?? 0n };
  }
  return out;
}

function cpusetStats(src: StatsSource): FullCgroupStats['cpuset'] {
  const s: FullCgroupStats['cpuset'] = {
    cpus: [], mems: [], cpuExclusive: 0n, memHardwall: 0n, memExclusive: 0n, memoryMigrate: 0n,
    memorySpreadPage: 0n, memorySpreadSlab: 0n, memoryPressure: 0n, schedLoadBalance: 0n, schedRelaxDomainLevel: 0n,
  };
  const t = src.target('cpuset');
  if (!t) return s;
  const r = (f: string) => src.read(join(t.dir, f));
  if (t.version === 2) {
    s.cpus = parseCpuList(r('cpuset.cpus.effective'));
    s.mems = parseCpuList(r('cpuset.mems.effective'));
    return s;
  }
  s.cpus = parseCpuList(r('cpuset.cpus'));
  s.mems = parseCpuList(r('cpuset.mems'));
  s.cpuExclusive = u64(r('cpuset.cpu_exclusive'));
  s.memHardwall = u64(r('cpuset.mem_hardwall'));
  s.memExclusive = u64(r('cpuset.mem_exclusive'));
  s.memoryMigrate = u64(r('cpuset.memory_migrate'));
  s.memorySpreadPage = u64(r('cpuset.memory_spread_page'));
  s.memorySpreadSlab = u64(r('cpuset.memory_spread_slab'));
  s.memoryPressure = u64(r('cpuset.memory_pressure'));
  s.schedLoadBalance = u64(r('cpuset.sched_load_balance'));
  s.schedRelaxDomainLevel = u64(r('cpuset.sched_relax_domain_level'));
  return s;
}

export function readFullStats(src: StatsSource): FullCgroupStats {
  const pids = src.target('pids');
  return {
    cpu: cpuStats(src),
    cpuset: cpusetStats(src),
    memory: memoryStats(src),
    pids: pids ? { current: u64(src.read(join(pids.dir, 'pids.current'))), limit: u64(src.read(join(pids.dir, 'pids.max')), 0n) } : { current: 0n, limit: 0n },
    blkio: blkioStats(src),
    hugetlb: hugetlbStats(src),
  };
}
