// tsrun container cleanup ID: run by a detached container's monitor after it exits
// (not for users; hidden). Applies --rm and the restart policy.
// tsrun container restart-after-backoff ID TOKEN: run by the helper that waited out a
// restart policy's backoff (hidden): starts the container if that restart is still wanted.
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
  container
    .command('restart-after-backoff', { hidden: true })
    .argument('<id>')
    .argument('<token>')
    .action(
      action('tsrun', async (id: string, token: string, _flags: unknown, self: Command) => {
        await containersOf(self).restartAfterBackoff(id, token);
      }),
    );
}
