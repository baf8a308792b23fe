// tsrun-oci update: change a running container's cgroup limits, from flags
// or from a linux.resources JSON document (-r FILE, "-" for stdin).
import { readFileSync } from 'node:fs';
import { UsageError } from '../../../errors.js';
import type { LinuxResources } from '../../../oci/runtime.js';
import { containerId, int, str, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

function bytes(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(-?\d+)([kmgt]?)b?$/i.exec(v.trim());
  if (!m) throw new UsageError(`update: ${what} must be a size such as 512m, not "${v}"`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * mult;
}

/** LinuxResources from update's flags (only those given). */
export function resourcesFromFlags(args: Parsed): LinuxResources {
  const r: LinuxResources = {};
  const memory = bytes(str(args, 'memory'), '--memory');
  const reservation = bytes(str(args, 'memory-reservation'), '--memory-reservation');
  const swap = bytes(str(args, 'memory-swap'), '--memory-swap');
  if (memory !== undefined || reservation !== undefined || swap !== undefined) {
    r.memory = {};
    if (memory !== undefined) r.memory.limit = memory;
    if (reservation !== undefined) r.memory.reservation = reservation;
    if (swap !== undefined) r.memory.swap = swap;
  }
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  const quota = int(args, 'cpu-quota', 'update');
  const period = int(args, 'cpu-period', 'update');
  const shares = int(args, 'cpu-shares', 'update');
  if (quota !== undefined) cpu.quota = quota;
  if (period !== undefined) cpu.period = period;
  if (shares !== undefined) cpu.shares = shares;
  if (str(args, 'cpuset-cpus') !== undefined) cpu.cpus = str(args, 'cpuset-cpus');
  if (str(args, 'cpuset-mems') !== undefined) cpu.mems = str(args, 'cpuset-mems');
  if (Object.keys(cpu).length) r.cpu = cpu;
  const pids = int(args, 'pids-limit', 'update');
  if (pids !== undefined) r.pids = { limit: pids };
  return r;
}

export const command: OciCommand = {
  usage: 'update [--resources FILE|-] [--memory N] [--cpu-quota N] [--cpu-period N] [--cpu-shares N] [--cpuset-cpus LIST] [--pids-limit N] <container-id>',
  options: {
    resources: { value: true, aliases: ['r'] },
    memory: { value: true },
    'memory-reservation': { value: true },
    'memory-swap': { value: true },
    'kernel-memory': { value: true },
    'kernel-memory-tcp': { value: true },
    'cpu-quota': { value: true },
    'cpu-period': { value: true },
    'cpu-shares': { value: true },
    'cpu-rt-period': { value: true },
    'cpu-rt-runtime': { value: true },
    'cpuset-cpus': { value: true },
    'cpuset-mems': { value: true },
    'pids-limit': { value: true },
    'blkio-weight': { value: true },
    'l3-cache-schema': { value: true },
  },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const id = containerId(args, 'update');
    const file = str(args, 'resources');
    let res: LinuxResources;
    if (file !== undefined) {
      const text = readFileSync(file === '-' ? 0 : file, 'utf8');
      try {
        res = JSON.parse(text) as LinuxResources;
      } catch (err) {
        throw new UsageError(`update: ${file === '-' ? 'stdin' : file} is not a JSON linux.resources document`, { cause: err });
      }
    } else {
      res = resourcesFromFlags(args);
      if (Object.keys(res).length === 0) throw new UsageError('update: nothing to change: give --resources or a limit flag');
    }
    const state = ctx.launcher.state(id);
    if (state.status === 'stopped') throw new UsageError(`update: container ${id} is stopped`);
    for (const w of ctx.launcher.cgroupOf(id).apply(res)) ctx.warn(w);
    return 0;
  },
};
