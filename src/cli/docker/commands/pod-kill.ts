// tsrun pod kill [-s SIGNAL] POD...
import type { Command } from 'commander';
import { action } from '../../common.js';
import { forEachPod, podsOf } from '../pod-access.js';
import { stdout } from '../../stdout.js';

export function registerPodKill(pod: Command): void {
  pod
    .command('kill')
    .description('send a signal to the running containers of one or more pods')
    .argument('<pod...>')
    .option('-s, --signal <signal>', 'signal to send', 'SIGKILL')
    .action(
      action('tsrun', async (names: string[], flags: { signal: string }, self: Command) => {
        const pods = podsOf(self);
        return forEachPod(pods, names, async (record) => {
          await pods.kill(record, flags.signal);
          stdout.write(`${record.id}\n`);
        });
      }),
    );
}
