// The pod engine for the pod verbs, built from the global options like containersOf().
import type { Command } from 'commander';
import { Pods, type PodRecord } from '../../engine/pods.js';
import { EXIT_TSRUN, reportError } from '../exit.js';
import { containersOf } from './engine-access.js';

export function podsOf(cmd: Command): Pods {
  const containers = containersOf(cmd);
  return new Pods(containers.ctx, containers);
}

/** Applies a verb to several pods: each failure reported as it comes, the others still run; 125 if any failed. */
export async function forEachPod(pods: Pods, names: string[], fn: (pod: PodRecord, name: string) => Promise<void>): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      await fn(pods.lookup(name), name);
    } catch (err) {
      if (names.length === 1) throw err;
      reportError('tsrun', err);
      failed++;
    }
  }
  return failed ? EXIT_TSRUN : 0;
}
