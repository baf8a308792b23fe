// tsrun volume prune [-f] [-a]: removes the volumes no container uses; only the
// anonymous ones unless -a (Docker 23+), and unmounts the volumes a kill -9 left mounted
// with no live user.
import type { Command } from 'commander';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';
import { humanSize } from '../../format.js';
import { confirm } from '../confirm.js';
import { volumesOf } from '../volume-access.js';
import { stdout } from '../../stdout.js';

export function registerVolumePrune(volume: Command): void {
  volume
    .command('prune')
    .description('remove unused local volumes (anonymous ones only, unless -a)')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action('tsrun', async (flags: { all?: boolean; force?: boolean }, self: Command) => {
        if (!flags.force) {
          const what = flags.all ? 'all local volumes' : 'anonymous local volumes';
          if (!(await confirm(`WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue? [y/N] `))) return 0;
        }
        const { removed, reclaimed } = await volumesOf(self).prune({ all: flags.all, isLive: containersOf(self).isLive });
        if (removed.length) stdout.write(`Deleted Volumes:\n${removed.join('\n')}\n\n`);
        stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
        return 0;
      }),
    );
}
