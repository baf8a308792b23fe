// tsrun pull [-q] [--platform P] NAME[:TAG|@DIGEST]
import type { Command } from 'commander';
import { pullImage } from '../../../engine/pull.js';
import { recordEvent } from '../../../engine/events.js';
import { action, contextOf } from '../../common.js';
import { PullProgress } from '../pull-progress.js';

export function registerPull(program: Command, name = 'pull'): Command {
  return program
    .command(name)
    .description('download an image from a registry')
    .argument('<name>', 'image reference, e.g. busybox, busybox:1.36, localhost:5000/app@sha256:…')
    .option('-q, --quiet', 'suppress verbose output: print only the image reference')
    .option('--platform <platform>', 'pull this platform (os[/arch[/variant]]): chosen from a multi-platform image, required of a single-platform one')
    .action(
      action('tsrun', async (ref: string, flags: { quiet?: boolean; platform?: string }, self: Command) => {
        const progress = flags.quiet ? undefined : new PullProgress(process.stdout);
        let canonical = '';
        const ctx = contextOf(self);
        await pullImage(ctx, ref, {
          platform: flags.platform,
          quiet: flags.quiet,
          onEvent: (e) => {
            if (e.type === 'done') canonical = e.reference;
            progress?.handle(e);
          },
        });
        // Recorded here: engine/pull.ts belongs to the pull work, and a run's implicit pull is not one in Docker's log either.
        if (canonical) recordEvent(ctx, 'image', 'pull', canonical, { name: canonical });
        if (flags.quiet) process.stdout.write(`${canonical}\n`);
      }),
    );
}
