// tsrun container cleanup ID: run by a detached container's monitor after it exits
// (not for users; hidden). Applies --rm and the restart policy.
import type { Command } from 'commander';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';

export function registerContainerCleanup(container: Command): void {
  container
    .command('cleanup', { hidden: true })
    .argument('<id>')
    .action(
      action('tsrun', async (id: string, _flags: unknown, self: Command) => {
        await containersOf(self).afterExit(id);
      }),
    );
}
