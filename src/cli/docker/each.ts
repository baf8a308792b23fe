// Applies a verb to several containers: each failure is reported as it happens (the one
// reporter's "tsrun: ..." line), the other names still run, and the exit code is 125 if any failed.
import type { Containers } from '../../engine/containers.js';
import type { ContainerRecord } from '../../engine/container-store.js';
import { EXIT_TSRUN, reportError } from '../exit.js';

export async function forEachContainer(
  containers: Containers,
  names: string[],
  fn: (record: ContainerRecord, name: string) => Promise<void>,
): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      await fn(containers.lookup(name), name);
    } catch (err) {
      if (names.length === 1) throw err;
      reportError('tsrun', err);
      failed++;
    }
  }
  return failed ? EXIT_TSRUN : 0;
}
