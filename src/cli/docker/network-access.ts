// The network engine for the network verbs, built from the global options like containersOf().
import type { Command } from 'commander';
import { Networks } from '../../engine/networks.js';
import { describeError } from '../../errors.js';
import { containersOf } from './engine-access.js';

export function networksOf(cmd: Command): Networks {
  return new Networks(containersOf(cmd));
}

/** Applies a verb to several networks as Docker does: report each failure, go on, exit 1 at the end. */
export async function forEachNetwork(names: string[], fn: (name: string) => Promise<void>): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      await fn(name);
    } catch (err) {
      if (names.length === 1) throw err;
      process.stderr.write(`Error: ${describeError(err)}\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}
