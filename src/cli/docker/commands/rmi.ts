// tsrun rmi [-f] IMAGE...   (Untagged: / Deleted: lines, as Docker prints them)
import type { Command } from 'commander';
import { removeImage } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';
import { EXIT_TSRUN, reportError } from '../../exit.js';
import { stdout } from '../../stdout.js';

export function registerRmi(program: Command, name = 'rmi'): Command {
  return program
    .command(name)
    .description('remove one or more images')
    .argument('<image...>')
    .option('-f, --force', 'force removal of the image')
    .action(
      action('tsrun', async (names: string[], flags: { force?: boolean }, self: Command) => {
        const ctx = contextOf(self);
        let failed = false;
        for (const n of names) {
          try {
            const r = await removeImage(ctx, n, { force: flags.force });
            for (const u of r.untagged) stdout.write(`Untagged: ${u}\n`);
            for (const d of r.deleted) stdout.write(`Deleted: ${d}\n`);
          } catch (err) {
            // Each failure reported as it comes; the other names still go, and 125 at the end.
            reportError('tsrun', err);
            failed = true;
          }
        }
        return failed ? EXIT_TSRUN : 0;
      }),
    );
}
