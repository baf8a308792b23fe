// tsrun image prune [-a] [-f]
import type { Command } from 'commander';
import { pruneImages } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';
import { humanSize } from '../../format.js';
import { confirm } from '../confirm.js';
import { stdout } from '../../stdout.js';

export function registerImagePrune(program: Command, name = 'prune'): Command {
  return program
    .command(name)
    .description('remove unused images')
    .option('-a, --all', 'remove all images not used by containers, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action('tsrun', async (flags: { all?: boolean; force?: boolean }, self: Command) => {
        if (!flags.force) {
          const what = flags.all ? 'all images without at least one container associated to them' : 'all dangling images';
          if (!(await confirm(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `))) return 0;
        }
        const r = await pruneImages(contextOf(self), { all: flags.all });
        if (r.untagged.length || r.deleted.length) {
          stdout.write('Deleted Images:\n');
          for (const u of r.untagged) stdout.write(`untagged: ${u}\n`);
          for (const d of r.deleted) stdout.write(`deleted: ${d}\n`);
          stdout.write('\n');
        }
        stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
        return 0;
      }),
    );
}
