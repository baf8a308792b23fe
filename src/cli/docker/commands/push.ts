// tsrun push [-q] [-a|--all-tags] NAME[:TAG]
import type { Command } from 'commander';
import { pushImage } from '../../../engine/push.js';
import { recordEvent } from '../../../engine/events.js';
import { action, contextOf } from '../../common.js';
import { PushProgress } from '../push-progress.js';

export function registerPush(program: Command, name = 'push'): Command {
  return program
    .command(name)
    .description('upload an image to a registry')
    .argument('<name>', 'image name with its registry, e.g. localhost:5000/app:v1 (default tag: latest)')
    .option('-a, --all-tags', 'push all local tags of the repository')
    .option('-q, --quiet', 'suppress verbose output: print only the reference')
    .action(
      action('tsrun', async (ref: string, flags: { allTags?: boolean; quiet?: boolean }, self: Command) => {
        const progress = flags.quiet ? undefined : new PushProgress(process.stdout);
        let repository = '';
        const ctx = contextOf(self);
        const results = await pushImage(ctx, ref, {
          allTags: flags.allTags,
          onEvent: (e) => {
            if (e.type === 'start') repository = e.repository;
            progress?.handle(e);
          },
        });
        for (const r of results) recordEvent(ctx, 'image', 'push', r.reference, { name: r.reference });
        if (flags.quiet) process.stdout.write(`${flags.allTags ? repository : results[0]!.reference}\n`);
      }),
    );
}
