// The network engine for the network verbs, built from the global options like containersOf().
import type { Command } from 'commander';
import { Networks } from '../../engine/networks.js';
import { EXIT_TSRUN, reportError } from '../exit.js';
import { containersOf } from './engine-access.js';

export function networksOf(cmd: Command): Networks {
  return new Networks(containersOf(cmd));
}

/** Applies a verb to several networks: each failure reported as it comes, the others still run; 125 if any failed. */
export async function forEachNetwork(names: string[], fn: (name: string) => Promise<void>): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      await fn(name);
    } catch (err) {
      if (names.length === 1) throw err;
      reportError('tsrun', err);
      failed++;
    }
  }
  return failed ? EXIT_TSRUN : 0;
}
