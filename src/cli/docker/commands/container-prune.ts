// tsrun container prune [-f]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { humanSize } from '../../format.js';

export function registerContainerPrune(container: Command): void {
  container
    .command('prune')
    .description('remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action('tsrun', async (_flags: unknown, self: Command) => {
        const { removed, reclaimed } = await containersOf(self).prune();
        if (removed.length) process.stdout.write(`Deleted Containers:\n${removed.join('\n')}\n\n`);
        process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
      }),
    );
}
