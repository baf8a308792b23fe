// tsrun network prune [-f]: removes every user network nothing is on
import type { Command } from 'commander';
import { action } from '../../common.js';
import { networksOf } from '../network-access.js';
import { stdout } from '../../stdout.js';

export function registerNetworkPrune(network: Command): void {
  network
    .command('prune')
    .description('remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation (tsrun never prompts here)')
    .action(
      action('tsrun', async (_flags: unknown, self: Command) => {
        const removed = await networksOf(self).prune();
        if (removed.length) stdout.write(`Deleted Networks:\n${removed.join('\n')}\n\n`);
      }),
    );
}
