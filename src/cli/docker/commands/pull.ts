// tsrun pull [-q] [--platform P] NAME[:TAG|@DIGEST]
import type { Command } from 'commander';
import { pullImage } from '../../../engine/pull.js';
import { action, contextOf } from '../../common.js';
import { PullProgress } from '../pull-progress.js';

export function registerPull(program: Command, name = 'pull'): Command {
  return program
    .command(name)
    .description('download an image from a registry')
    .argument('<name>', 'image reference, e.g. busybox, busybox:1.36, localhost:5000/app@sha256:…')
    .option('-q, --quiet', 'suppress verbose output: print only the image reference')
    .option('--platform <platform>', 'pull this platform of a multi-platform image (os[/arch[/variant]])')
    .action(
      action('tsrun', async (ref: string, flags: { quiet?: boolean; platform?: string }, self: Command) => {
        const progress = flags.quiet ? undefined : new PullProgress(process.stdout);
        let canonical = '';
        await pullImage(contextOf(self), ref, {
          platform: flags.platform,
          quiet: flags.quiet,
          onEvent: (e) => {
            if (e.type === 'done') canonical = e.reference;
            progress?.handle(e);
          },
        });
        if (flags.quiet) process.stdout.write(`${canonical}\n`);
      }),
    );
}
