// tsrun start [-a] [-i] CONTAINER...
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { attachSignalProxy } from '../attach.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start one or more stopped containers')
    .argument('<container...>')
    .option('-a, --attach', 'attach STDOUT/STDERR and forward signals')
    .option('-i, --interactive', 'attach the container\'s STDIN')
    .action(
      action('tsrun', async (names: string[], flags: { attach?: boolean; interactive?: boolean }, self: Command) => {
        const containers = containersOf(self);
        if (flags.attach && names.length > 1) throw new UsageError('you cannot start and attach multiple containers at once');
        let failed = 0;
        for (const name of names) {
          try {
            const record = containers.lookup(name);
            if (flags.attach) {
              const undo = attachSignalProxy(containers, record);
              try {
                return (await containers.start(record, { attach: true, interactive: Boolean(flags.interactive) })) ?? 0;
              } finally {
                undo();
              }
            }
            await containers.start(record, { attach: false });
            process.stdout.write(`${name}\n`);
          } catch (err) {
            if (names.length === 1) throw err;
            process.stderr.write(`Error response from daemon: ${(err as Error).message}\n`);
            failed++;
          }
        }
        return failed ? 125 : 0;
      }),
    );
}
