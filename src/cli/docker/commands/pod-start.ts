// tsrun pod start POD...: starts the members (and rebuilds the pod's namespaces if a reboot or kill -9 took them)
import type { Command } from 'commander';
import { action } from '../../common.js';
import { forEachPod, podsOf } from '../pod-access.js';
import { stdout } from '../../stdout.js';

export function registerPodStart(pod: Command): void {
  pod
    .command('start')
    .description('start one or more pods')
    .argument('<pod...>')
    .action(
      action('tsrun', async (names: string[], _flags: unknown, self: Command) => {
        const pods = podsOf(self);
        return forEachPod(pods, names, async (record) => {
          await pods.start(record);
          stdout.write(`${record.id}\n`);
        });
      }),
    );
}
