// Disk used by containers (their writable layers), for `system df`.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineContext } from './context.js';
import { Containers } from './containers.js';

export interface ContainerDiskUsage {
  total: number;
  active: number;
  /** Bytes in the containers' upper dirs. */
  size: number;
  /** Bytes of the containers that are not running (prune would free them). */
  reclaimable: number;
}

/** Apparent size of a tree, without following links. */
export function treeSize(path: string): number {
  let total = 0;
  const stack = [path];
  while (stack.length) {
    const p = stack.pop()!;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      try {
        for (const n of readdirSync(p)) stack.push(join(p, n));
      } catch {
        /* vanished meanwhile */
      }
    } else {
      total += st.size;
    }
  }
  return total;
}

export function containerDiskUsage(ctx: EngineContext): ContainerDiskUsage {
  const containers = new Containers(ctx);
  const usage: ContainerDiskUsage = { total: 0, active: 0, size: 0, reclaimable: 0 };
  for (const { record, state } of containers.list(true)) {
    const bytes = treeSize(containers.store.paths(record.id).upper);
    usage.total++;
    usage.size += bytes;
    if (state.status === 'running') usage.active++;
    else usage.reclaimable += bytes;
  }
  return usage;
}
