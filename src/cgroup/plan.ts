// LinuxResources -> the list of cgroup file writes, once for cgroup v2 and
// once for v1. Pure: the manager decides per controller which plan applies
// (v1 hierarchy, else the unified one) and carries it out.
import type { LinuxResources } from '../oci/runtime.js';
import { CgroupError } from '../errors.js';
import { blkioWeightToIoWeight, cpuMax, deviceRuleLine, sharesToWeight, swapMaxV2, v2Limit } from './convert.js';

export interface PlannedWrite {
  kind: 'write';
  controller: string;
  /** The first candidate whose file exists is written ("io.bfq.weight" before "io.weight"). */
  candidates: { file: string; value: string }[];
  /** Human name of the setting for messages: "memory limit". */
  what: string;
  /** Controller or file missing -> a warning instead of an error (not a limit, or Docker's own default). */
  optional?: boolean;
  /** A refused write -> a warning (deprecated knobs the kernel may reject). */
  bestEffort?: boolean;
  /** v1 memory and memsw limits must be written in the order that keeps memsw >= memory. */
  orderGroup?: string;
}

/** A setting this cgroup version cannot express at all. */
export interface PlannedNotice {
  kind: 'unsupported';
  controller: string;
  what: string;
  reason: string;
  /** An explicit limit that would silently not be enforced -> error. */
  fatal: boolean;
}

export type PlanItem = PlannedWrite | PlannedNotice;

function write(controller: string, file: string, value: string, what: string, extra: Partial<PlannedWrite> = {}): PlannedWrite {
  return { kind: 'write', controller, candidates: [{ file, value }], what, ...extra };
}

function notice(controller: string, what: string, reason: string, fatal: boolean): PlannedNotice {
  return { kind: 'unsupported', controller, what, reason, fatal };
}

const set = (n: number | undefined): n is number => n !== undefined && n !== 0;

// ---- cgroup v2 -------------------------------------------------------------

export function planV2(res: LinuxResources): PlanItem[] {
  const items: PlanItem[] = [];
  const mem = res.memory;
  if (mem) {
    if (set(mem.limit)) items.push(write('memory', 'memory.max', v2Limit(mem.limit), 'memory limit'));
    if (set(mem.reservation)) items.push(write('memory', 'memory.low', v2Limit(mem.reservation), 'memory reservation'));
    const swap = swapMaxV2(mem.limit, mem.swap);
    // Without swap accounting (swapaccount=0) memory.swap.max is absent; Docker warns and goes on.
    if (swap !== undefined) items.push(write('memory', 'memory.swap.max', swap, 'memory+swap limit', { optional: true }));
    if (mem.swappiness !== undefined && mem.swappiness >= 0) {
      items.push(notice('memory', 'memory swappiness', 'cgroup v2 has no per-cgroup swappiness', false));
    }
    if (mem.disableOOMKiller) items.push(notice('memory', 'oom-kill-disable', 'cgroup v2 cannot disable the OOM killer', false));
    if (set(mem.kernel) || set(mem.kernelTCP)) items.push(notice('memory', 'kernel memory limit', 'kernel memory limits are deprecated', false));
  }
  const cpu = res.cpu;
  if (cpu) {
    if (set(cpu.shares)) items.push(write('cpu', 'cpu.weight', String(sharesToWeight(cpu.shares)), 'cpu shares'));
    const max = cpuMax(cpu.quota, cpu.period);
    if (max !== undefined) items.push(write('cpu', 'cpu.max', max, 'cpu quota'));
    if (cpu.idle !== undefined) items.push(write('cpu', 'cpu.idle', String(cpu.idle), 'cpu idle'));
    if (set(cpu.realtimeRuntime) || set(cpu.realtimePeriod)) {
      items.push(notice('cpu', 'realtime cpu runtime', 'cgroup v2 has no realtime cpu runtime/period', true));
    }
    if (cpu.cpus) items.push(write('cpuset', 'cpuset.cpus', cpu.cpus, 'cpuset cpus'));
    if (cpu.mems) items.push(write('cpuset', 'cpuset.mems', cpu.mems, 'cpuset mems'));
  }
  if (res.pids && set(res.pids.limit)) items.push(write('pids', 'pids.max', v2Limit(res.pids.limit), 'pids limit'));
  const bio = res.blockIO;
  if (bio) {
    // io.bfq.weight takes the v1 range as-is; io.weight (iocost) the converted one.
    if (set(bio.weight)) {
      items.push({
        kind: 'write',
        controller: 'io',
        candidates: [
          { file: 'io.bfq.weight', value: String(bio.weight) },
          { file: 'io.weight', value: `default ${blkioWeightToIoWeight(bio.weight)}` },
        ],
        what: 'block io weight',
        optional: true,
      });
    }
    if (set(bio.leafWeight)) items.push(notice('io', 'block io leaf weight', 'cgroup v2 has no leaf weight', false));
    for (const d of bio.weightDevice ?? []) {
      if (!set(d.weight)) continue;
      items.push({
        kind: 'write',
        controller: 'io',
        candidates: [
          { file: 'io.bfq.weight', value: `${d.major}:${d.minor} ${d.weight}` },
          { file: 'io.weight', value: `${d.major}:${d.minor} ${blkioWeightToIoWeight(d.weight)}` },
        ],
        what: `block io weight of ${d.major}:${d.minor}`,
        optional: true,
      });
    }
    const throttles: [keyof NonNullable<LinuxResources['blockIO']>, string, string][] = [
      ['throttleReadBpsDevice', 'rbps', 'read bps'],
      ['throttleWriteBpsDevice', 'wbps', 'write bps'],
      ['throttleReadIOPSDevice', 'riops', 'read iops'],
      ['throttleWriteIOPSDevice', 'wiops', 'write iops'],
    ];
    for (const [field, key, label] of throttles) {
      for (const d of (bio[field] as { major: number; minor: number; rate: number }[] | undefined) ?? []) {
        const rate = d.rate > 0 ? String(d.rate) : 'max';
        items.push(write('io', 'io.max', `${d.major}:${d.minor} ${key}=${rate}`, `block io ${label} limit of ${d.major}:${d.minor}`));
      }
    }
  }
  for (const h of res.hugepageLimits ?? []) {
    items.push(write('hugetlb', `hugetlb.${h.pageSize}.max`, v2Limit(h.limit), `hugetlb ${h.pageSize} limit`));
  }
  pushNetworkNotices(items, res, 'cgroup v2 has no net_cls/net_prio; use eBPF or tc in the network namespace');
  for (const [hca, lim] of Object.entries(res.rdma ?? {})) items.push(write('rdma', 'rdma.max', rdmaLine(hca, lim), `rdma limit of ${hca}`));
  if (res.devices && res.devices.length > 0) {
    // v2 device control is an eBPF program attached to the cgroup; tsrun does
    // not load one (yet). The container still sees only the nodes created in
    // its /dev, so this is a warning, not an error.
    items.push(notice('devices', 'device access rules', 'cgroup v2 device rules need an eBPF program, which tsrun does not load', false));
  }
  for (const [key, value] of Object.entries(res.unified ?? {})) {
    items.push(write(unifiedController(key), key, value, `unified setting ${key}`));
  }
  return items;
}

/** The controller a unified key belongs to ("memory.high" -> memory, "cgroup.max.depth" -> cgroup core). */
export function unifiedController(key: string): string {
  if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(key)) {
    throw new CgroupError(`invalid unified cgroup key "${key}" (want a cgroup v2 file name such as memory.high)`);
  }
  return key.slice(0, key.indexOf('.'));
}

function rdmaLine(hca: string, lim: { hcaHandles?: number; hcaObjects?: number }): string {
  const parts = [hca];
  if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${lim.hcaHandles}`);
  if (lim.hcaObjects !== undefined) parts.push(`hca_object=${lim.hcaObjects}`);
  return parts.join(' ');
}

function pushNetworkNotices(items: PlanItem[], res: LinuxResources, reason: string): void {
  if (res.network?.classID !== undefined) items.push(notice('net_cls', 'network class id', reason, false));
  if (res.network?.priorities?.length) items.push(notice('net_prio', 'network priorities', reason, false));
}

// ---- cgroup v1 -------------------------------------------------------------

/** v1 byte limit: -1 is the kernel's own "unlimited". */
const v1Limit = (n: number) => (n < 0 ? '-1' : String(Math.trunc(n)));

export function planV1(res: LinuxResources): PlanItem[] {
  const items: PlanItem[] = [];
  const mem = res.memory;
  if (mem) {
    if (set(mem.limit) && set(mem.swap) && mem.limit > 0 && mem.swap > 0 && mem.swap < mem.limit) {
      throw new CgroupError(`memory+swap limit (${mem.swap}) must be at least the memory limit (${mem.limit})`, 'memory');
    }
    if (set(mem.limit)) items.push(write('memory', 'memory.limit_in_bytes', v1Limit(mem.limit), 'memory limit', { orderGroup: 'memsw' }));
    // memsw exists only with swap accounting; Docker warns and goes on without it.
    if (set(mem.swap)) {
      items.push(write('memory', 'memory.memsw.limit_in_bytes', v1Limit(mem.swap), 'memory+swap limit', { optional: true, orderGroup: 'memsw' }));
    }
    if (set(mem.reservation)) items.push(write('memory', 'memory.soft_limit_in_bytes', v1Limit(mem.reservation), 'memory reservation'));
    if (mem.swappiness !== undefined && mem.swappiness >= 0 && mem.swappiness <= 100) {
      items.push(write('memory', 'memory.swappiness', String(mem.swappiness), 'memory swappiness', { optional: true }));
    }
    if (mem.disableOOMKiller) items.push(write('memory', 'memory.oom_control', '1', 'oom-kill-disable'));
    // Kernel memory limits are gone from recent kernels (writes fail with EOPNOTSUPP).
    if (set(mem.kernel)) {
      items.push(write('memory', 'memory.kmem.limit_in_bytes', v1Limit(mem.kernel), 'kernel memory limit', { optional: true, bestEffort: true }));
    }
    if (set(mem.kernelTCP)) {
      items.push(write('memory', 'memory.kmem.tcp.limit_in_bytes', v1Limit(mem.kernelTCP), 'kernel TCP memory limit', { optional: true, bestEffort: true }));
    }
  }
  const cpu = res.cpu;
  if (cpu) {
    if (set(cpu.shares)) items.push(write('cpu', 'cpu.shares', String(Math.trunc(cpu.shares)), 'cpu shares'));
    // Period first: the quota is checked against it.
    if (set(cpu.period)) items.push(write('cpu', 'cpu.cfs_period_us', String(Math.trunc(cpu.period)), 'cpu period'));
    if (set(cpu.quota)) items.push(write('cpu', 'cpu.cfs_quota_us', cpu.quota > 0 ? String(Math.trunc(cpu.quota)) : '-1', 'cpu quota'));
    if (set(cpu.realtimePeriod)) items.push(write('cpu', 'cpu.rt_period_us', String(cpu.realtimePeriod), 'realtime cpu period'));
    if (set(cpu.realtimeRuntime)) items.push(write('cpu', 'cpu.rt_runtime_us', String(cpu.realtimeRuntime), 'realtime cpu runtime'));
    if (cpu.idle !== undefined) items.push(write('cpu', 'cpu.idle', String(cpu.idle), 'cpu idle'));
    if (cpu.cpus) items.push(write('cpuset', 'cpuset.cpus', cpu.cpus, 'cpuset cpus'));
    if (cpu.mems) items.push(write('cpuset', 'cpuset.mems', cpu.mems, 'cpuset mems'));
  }
  if (res.pids && set(res.pids.limit)) {
    items.push(write('pids', 'pids.max', res.pids.limit > 0 ? String(res.pids.limit) : 'max', 'pids limit'));
  }
  const bio = res.blockIO;
  if (bio) {
    // Some kernels (this project's hybrid hosts) have no blkio weight files at all: warn, as Docker does.
    if (set(bio.weight)) {
      items.push({
        kind: 'write',
        controller: 'blkio',
        candidates: [
          { file: 'blkio.weight', value: String(bio.weight) },
          { file: 'blkio.bfq.weight', value: String(bio.weight) },
        ],
        what: 'block io weight',
        optional: true,
      });
    }
    if (set(bio.leafWeight)) items.push(write('blkio', 'blkio.leaf_weight', String(bio.leafWeight), 'block io leaf weight', { optional: true }));
    for (const d of bio.weightDevice ?? []) {
      if (!set(d.weight)) continue;
      items.push({
        kind: 'write',
        controller: 'blkio',
        candidates: [
          { file: 'blkio.weight_device', value: `${d.major}:${d.minor} ${d.weight}` },
          { file: 'blkio.bfq.weight_device', value: `${d.major}:${d.minor} ${d.weight}` },
        ],
        what: `block io weight of ${d.major}:${d.minor}`,
        optional: true,
      });
    }
    const throttles: [keyof NonNullable<LinuxResources['blockIO']>, string, string][] = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device', 'read bps'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device', 'write bps'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device', 'read iops'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device', 'write iops'],
    ];
    for (const [field, file, label] of throttles) {
      for (const d of (bio[field] as { major: number; minor: number; rate: number }[] | undefined) ?? []) {
        items.push(write('blkio', file, `${d.major}:${d.minor} ${Math.max(0, d.rate)}`, `block io ${label} limit of ${d.major}:${d.minor}`));
      }
    }
  }
  for (const h of res.hugepageLimits ?? []) {
    items.push(write('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, v1Limit(h.limit), `hugetlb ${h.pageSize} limit`));
  }
  if (res.network?.classID !== undefined) {
    items.push(write('net_cls', 'net_cls.classid', String(res.network.classID), 'network class id', { optional: true }));
  }
  for (const p of res.network?.priorities ?? []) {
    items.push(write('net_prio', 'net_prio.ifpriomap', `${p.name} ${p.priority}`, `network priority of ${p.name}`, { optional: true }));
  }
  for (const [hca, lim] of Object.entries(res.rdma ?? {})) items.push(write('rdma', 'rdma.max', rdmaLine(hca, lim), `rdma limit of ${hca}`));
  // Rules apply in order, exactly like Docker's list ("deny all" first, then allows).
  // Without a devices hierarchy there is nothing to enforce: warn.
  for (const rule of res.devices ?? []) {
    items.push(write('devices', rule.allow ? 'devices.allow' : 'devices.deny', deviceRuleLine(rule), 'device access rules', { optional: true }));
  }
  for (const key of Object.keys(res.unified ?? {})) {
    items.push(notice(unifiedController(key), `unified setting ${key}`, 'unified settings need the controller on cgroup v2', true));
  }
  return items;
}
