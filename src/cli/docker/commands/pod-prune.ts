// tsrun pod prune [-f]: removes every pod none of whose containers runs
import type { Command } from 'commander';
import { action } from '../../common.js';
import { podsOf } from '../pod-access.js';
import { stdout } from '../../stdout.js';

export function registerPodPrune(pod: Command): void {
  pod
    .command('prune')
    .description('remove all pods without running containers')
    .option('-f, --force', 'do not prompt for confirmation (accepted for Podman compatibility)')
    .action(
      action('tsrun', async (_flags: unknown, self: Command) => {
        for (const id of await podsOf(self).prune()) stdout.write(`${id}\n`);
      }),
    );
}
