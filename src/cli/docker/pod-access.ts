// The pod engine for the pod verbs, built from the global options like containersOf().
import type { Command } from 'commander';
import { Pods, type PodRecord } from '../../engine/pods.js';
import { describeError } from '../../errors.js';
import { containersOf } from './engine-access.js';

export function podsOf(cmd: Command): Pods {
  const containers = containersOf(cmd);
  return new Pods(containers.ctx, containers);
}

/** Applies a verb to several pods as Podman does: report each failure, go on, exit 125 at the end. */
export async function forEachPod(pods: Pods, names: string[], fn: (pod: PodRecord, name: string) => Promise<void>): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      await fn(pods.lookup(name), name);
    } catch (err) {
      if (names.length === 1) throw err;
      process.stderr.write(`Error: ${describeError(err)}\n`);
      failed++;
    }
  }
  return failed ? 125 : 0;
}
