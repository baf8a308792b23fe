// tsrun rm [-f] [-v] CONTAINER...
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { stdout } from '../../stdout.js';

export function registerRm(program: Command, name = 'rm'): void {
  program
    .command(name)
    .description('remove one or more containers')
    .argument('<container...>')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .action(
      action('tsrun', async (names: string[], flags: { force?: boolean; volumes?: boolean }, self: Command) => {
        const containers = containersOf(self);
        return forEachContainer(containers, names, async (record, given) => {
          await containers.remove(record, { force: flags.force, volumes: flags.volumes });
          stdout.write(`${given}\n`);
        });
      }),
    );
}
