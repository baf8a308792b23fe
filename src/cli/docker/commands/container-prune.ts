// tsrun container prune [-f] [--filter until=…|label=…|label!=…]: asks first, as Docker
// and tsrun's other prune verbs do, unless -f.
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { humanSize } from '../../format.js';
import { confirm } from '../confirm.js';
import { parsePruneFilters, prunable } from '../../../engine/container-filter.js';
import { stdout } from '../../stdout.js';

const collect = (v: string, acc: string[]) => [...acc, v];

export function registerContainerPrune(container: Command): void {
  container
    .command('prune')
    .description('remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>", "label=key=value")', collect, [])
    .action(
      action('tsrun', async (flags: { force?: boolean; filter: string[] }, self: Command) => {
        // A bad filter fails before the question, as Docker's.
        const filter = parsePruneFilters(flags.filter);
        if (!flags.force && !(await confirm('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] '))) return 0;
        const containers = containersOf(self);
        const { removed, reclaimed } = await containers.prune((record) => prunable({ created: record.created, labels: record.config.labels ?? {} }, filter));
        if (removed.length) stdout.write(`Deleted Containers:\n${removed.join('\n')}\n\n`);
        stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
        return 0;
      }),
    );
}
