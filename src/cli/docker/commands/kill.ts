// tsrun kill [-s SIGNAL] CONTAINER...
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { stdout } from '../../stdout.js';

export function registerKill(program: Command): void {
  program
    .command('kill')
    .description('kill one or more running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'signal to send to the container', 'SIGKILL')
    .action(
      action('tsrun', async (names: string[], flags: { signal: string }, self: Command) => {
        const containers = containersOf(self);
        return forEachContainer(containers, names, async (record, name) => {
          await containers.kill(record, flags.signal);
          stdout.write(`${name}\n`);
        });
      }),
    );
}
