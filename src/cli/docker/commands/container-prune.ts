// tsrun container prune [-f]
import type { Command } from 'commander';
import { Containers } from '../../../engine/containers.js';
import { action, contextOf } from '../../common.js';

export function registerContainerPrune(container: Command): void {
  container
    .command('prune')
    .description('remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action('tsrun', async (_flags: unknown, self: Command) => {
        const removed = await new Containers(contextOf(self)).prune();
        if (removed.length) process.stdout.write(`Deleted Containers:\n${removed.join('\n')}\n\n`);
        process.stdout.write(`Total reclaimed space: ${removed.length ? 'unknown' : '0B'}\n`);
      }),
    );
}
