// tsrun wait CONTAINER...: prints each exit code
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { stdout } from '../../stdout.js';

export function registerWait(program: Command): void {
  program
    .command('wait')
    .description('block until one or more containers stop, then print their exit codes')
    .argument('<container...>')
    .action(
      action('tsrun', async (names: string[], _flags: unknown, self: Command) => {
        const containers = containersOf(self);
        return forEachContainer(containers, names, async (record) => {
          stdout.write(`${await containers.wait(record)}\n`);
        });
      }),
    );
}
