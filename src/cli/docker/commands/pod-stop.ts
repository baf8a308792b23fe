// tsrun pod stop [-t SECONDS] POD...
import type { Command } from 'commander';
import { action } from '../../common.js';
import { forEachPod, podsOf } from '../pod-access.js';
import { parseTimeout } from '../time-flag.js';
import { stdout } from '../../stdout.js';

export function registerPodStop(pod: Command): void {
  pod
    .command('stop')
    .description('stop the containers of one or more pods')
    .argument('<pod...>')
    .option('-t, --time <seconds>', 'seconds to wait for each container before killing it')
    .action(
      action('tsrun', async (names: string[], flags: { time?: string }, self: Command) => {
        const pods = podsOf(self);
        const timeout = parseTimeout(flags.time);
        return forEachPod(pods, names, async (record) => {
          await pods.stop(record, timeout);
          stdout.write(`${record.id}\n`);
        });
      }),
    );
}
