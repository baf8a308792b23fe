// tsrun create IMAGE [COMMAND] [ARG...]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { addContainerFlags } from '../run-flags.js';
import { pullReporter } from '../attach.js';

export function registerCreate(program: Command): void {
  const cmd = program
    .command('create')
    .description('create a new container')
    .helpOption('--help', 'display help for command')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions();
  addContainerFlags(cmd).action(
    action('tsrun', async (image: string, command: string[], flags: Record<string, unknown>, self: Command) => {
      const reporter = pullReporter(Boolean(flags.quiet));
      const record = await containersOf(self).create({
        image,
        command,
        flags,
        pull: flags.pull as 'missing' | 'always' | 'never',
        platform: flags.platform as string | undefined,
        onPull: reporter.onPull,
        onPullEvent: reporter.onEvent,
      });
      process.stdout.write(`${record.id}\n`);
    }),
  );
}
