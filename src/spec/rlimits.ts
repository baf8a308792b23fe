// --ulimit -> OCI rlimits, never above what the caller itself may set: without
// CAP_SYS_RESOURCE (our hosts lack it) raising a hard limit fails with EPERM
// at launch, so we clamp here and say so.
import { readFileSync } from 'node:fs';
import { ULIMIT_TYPES, type Ulimit } from './options.js';

/** A limit of the calling process; Infinity = unlimited. */
export interface ProcessLimit {
  soft: number;
  hard: number;
}

/**
 * How "unlimited" is written into config.json. RLIM_INFINITY is 2^64-1, which
 * a JSON number cannot carry exactly (and Go refuses the rounded value), so the
 * largest safe integer stands in: larger than any real limit.
 */
export const RLIMIT_UNLIMITED = Number.MAX_SAFE_INTEGER;

const PROC_NAMES: Record<string, string> = {
  'Max cpu time': 'cpu',
  'Max file size': 'fsize',
  'Max data size': 'data',
  'Max stack size': 'stack',
  'Max core file size': 'core',
  'Max resident set': 'rss',
  'Max processes': 'nproc',
  'Max open files': 'nofile',
  'Max locked memory': 'memlock',
  'Max address space': 'as',
  'Max file locks': 'locks',
  'Max pending signals': 'sigpending',
  'Max msgqueue size': 'msgqueue',
  'Max nice priority': 'nice',
  'Max realtime priority': 'rtprio',
  'Max realtime timeout': 'rttime',
};

/** Parse /proc/<pid>/limits into Docker ulimit names. */
export function parseProcLimits(text: string): Record<string, ProcessLimit> {
  const out: Record<string, ProcessLimit> = {};
  for (const line of text.split('\n')) {
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = PROC_NAMES[m[1]!];
    if (!name) continue;
    const value = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
    const soft = value(m[2]!);
    const hard = value(m[3]!);
    if (Number.isNaN(soft) || Number.isNaN(hard)) continue;
    out[name] = { soft, hard };
  }
  return out;
}

/** The calling process's limits (empty when /proc is unavailable: then nothing is clamped). */
export function readProcessLimits(path = '/proc/self/limits'): Record<string, ProcessLimit> {
  try {
    return parseProcLimits(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
}

/**
 * The OCI rlimits for the requested ulimits, in request order. A hard limit
 * above the caller's hard limit is lowered to it (and the soft limit with it),
 * with a warning. An all-unlimited request that the caller already has is left
 * out, so the container simply inherits "unlimited".
 */
export function buildRlimits(
  ulimits: readonly Ulimit[],
  caller: Record<string, ProcessLimit>,
  warn: (msg: string) => void,
): { type: string; soft: number; hard: number }[] {
  const out: { type: string; soft: number; hard: number }[] = [];
  for (const u of ulimits) {
    let soft = u.soft === -1 ? Infinity : u.soft;
    let hard = u.hard === -1 ? Infinity : u.hard;
    const have = caller[u.name];
    if (have && hard > have.hard) {
      warn(
        `--ulimit ${u.name}: hard limit ${fmt(hard)} is above this process's hard limit ${fmt(have.hard)} ` +
          `(raising it needs CAP_SYS_RESOURCE); using ${fmt(have.hard)}`,
      );
      hard = have.hard;
      if (soft > hard) soft = hard;
    }
    if (soft === Infinity && hard === Infinity && have && have.soft === Infinity) continue;
    out.push({ type: ULIMIT_TYPES[u.name]!, soft: soft === Infinity ? RLIMIT_UNLIMITED : soft, hard: hard === Infinity ? RLIMIT_UNLIMITED : hard });
  }
  return out;
}

function fmt(n: number): string {
  return n === Infinity ? 'unlimited' : String(n);
}
