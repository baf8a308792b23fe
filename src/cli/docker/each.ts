// Applies a verb to several containers as Docker does: report each failure, go on, exit 1 at the end.
import type { Containers } from '../../engine/containers.js';
import type { ContainerRecord } from '../../engine/container-store.js';
import { describeError } from '../../errors.js';

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
      process.stderr.write(`Error response from daemon: ${describeError(err)}\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}
