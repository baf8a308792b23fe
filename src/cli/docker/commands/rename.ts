// tsrun rename CONTAINER NEW_NAME
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';

export function registerRename(program: Command): void {
  program
    .command('rename')
    .description('rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action(
      action('tsrun', async (name: string, newName: string, _flags: unknown, self: Command) => {
        const containers = containersOf(self);
        await containers.rename(containers.lookup(name), newName);
      }),
    );
}
