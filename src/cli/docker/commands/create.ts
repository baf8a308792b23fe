// tsrun create IMAGE [COMMAND] [ARG...]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { addContainerFlags } from '../run-flags.js';
import { createFromFlags } from '../attach.js';
import { stdout } from '../../stdout.js';

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
      const containers = containersOf(self);
      const record = await createFromFlags(containers, image, command, flags);
      await containers.unmountCreated(record);
      stdout.write(`${record.id}\n`);
    }),
  );
}
