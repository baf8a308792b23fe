// Pure value conversions between OCI/Docker units and cgroup file formats,
// and parsers for the cgroup files read back for stats.
import { CgroupError } from '../errors.js';

/** cpu.shares (v1, 2..262144, default 1024) -> cpu.weight (v2, 1..10000, default 100); the formula runc and crun use. */
export function sharesToWeight(shares: number): number {
  const s = Math.min(Math.max(Math.trunc(shares), 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** blkio.weight (v1, 10..1000) -> io.weight (v2, 1..10000), linear like runc. */
export function blkioWeightToIoWeight(weight: number): number {
  const w = Math.min(Math.max(Math.trunc(weight), 10), 1000);
  return 1 + Math.floor(((w - 10) * 9999) / 990);
}

/**
 * Docker's --memory-swap is memory+swap (the v1 memsw file); cgroup v2's
 * memory.swap.max is swap alone. Returns the memory.swap.max value, or
 * undefined when nothing is to be written (swap unset or 0).
 */
export function swapMaxV2(limit: number | undefined, swap: number | undefined): string | undefined {
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return 'max';
  if (swap < 0) throw new CgroupError(`invalid memory+swap limit ${swap}`, 'memory');
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new CgroupError(`cannot set a memory+swap limit (${swap}) without a memory limit`, 'memory');
  }
  if (swap < limit) {
    throw new CgroupError(`memory+swap limit (${swap}) must be at least the memory limit (${limit})`, 'memory');
  }
  return String(swap - limit);
}

/** A byte limit for v2 files: -1 means unlimited ("max"). */
export function v2Limit(value: number): string {
  return value < 0 ? 'max' : String(Math.trunc(value));
}

/** cpu.max content: "<quota|max> <period>". undefined when neither is set. */
export function cpuMax(quota: number | undefined, period: number | undefined): string | undefined {
  const q = quota ?? 0;
  const p = period ?? 0;
  if (q === 0 && p === 0) return undefined;
  return `${q > 0 ? Math.trunc(q) : 'max'} ${p > 0 ? Math.trunc(p) : 100000}`;
}

/** Largest value we treat as a real limit; v1 reports "unlimited" as ~2^63 rounded to a page. */
const UNLIMITED_THRESHOLD = 2 ** 62;

/** Parses a limit file ("max", "-1", a huge v1 number) into bytes, or undefined for unlimited. */
export function parseLimit(text: string): number | undefined {
  const t = text.trim();
  if (t === '' || t === 'max' || t === '-1') return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || n >= UNLIMITED_THRESHOLD) return undefined;
  return n;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control) -> record. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** io.stat ("8:0 rbytes=1 wbytes=2 rios=3 ...") -> summed read/write bytes over all devices. */
export function parseIoStat(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split('\n')) {
    for (const field of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = field.split('=');
      if (k === 'rbytes') readBytes += Number(v) || 0;
      if (k === 'wbytes') writeBytes += Number(v) || 0;
    }
  }
  return { readBytes, writeBytes };
}

/** blkio.throttle.io_service_bytes ("8:0 Read 4096", "Total ...") -> summed read/write bytes. */
export function parseBlkioServiceBytes(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split('\n')) {
    const [dev, op, v] = line.trim().split(/\s+/);
    if (!dev || !dev.includes(':') || v === undefined) continue;
    if (op === 'Read') readBytes += Number(v) || 0;
    if (op === 'Write') writeBytes += Number(v) || 0;
  }
  return { readBytes, writeBytes };
}

/** One v1 devices.allow/devices.deny line: "c 1:3 rwm", "a" for all devices. */
export function deviceRuleLine(rule: { type?: string; major?: number | null; minor?: number | null; access?: string }): string {
  const type = rule.type ?? 'a';
  if (type === 'a') return 'a';
  if (!['c', 'b'].includes(type)) throw new CgroupError(`invalid device cgroup rule type "${type}" (want a, b or c)`, 'devices');
  const num = (n: number | null | undefined) => (n === undefined || n === null || n < 0 ? '*' : String(n));
  const access = rule.access ?? 'rwm';
  if (!/^[rwm]{1,3}$/.test(access)) throw new CgroupError(`invalid device cgroup access "${access}" (want a mix of r, w, m)`, 'devices');
  return `${type} ${num(rule.major)}:${num(rule.minor)} ${access}`;
}

/** Parses the pids of a cgroup.procs or tasks file. */
export function parsePids(text: string): number[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}
