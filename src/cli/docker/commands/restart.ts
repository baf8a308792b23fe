// tsrun restart [-t SECONDS] [-s SIGNAL] CONTAINER...
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { parseTimeout } from '../time-flag.js';
import { parseSignal } from '../../../util/signals.js';

export function registerRestart(program: Command): void {
  program
    .command('restart')
    .description('restart one or more containers')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'seconds to wait for the container to stop before killing it')
    .option('-s, --signal <signal>', 'signal to stop the container with')
    .action(
      action('tsrun', async (names: string[], flags: { time?: string; signal?: string }, self: Command) => {
        // Bad input fails before any container is touched.
        const timeout = parseTimeout(flags.time);
        if (flags.signal !== undefined) parseSignal(flags.signal);
        const containers = containersOf(self);
        return forEachContainer(containers, names, async (record, name) => {
          const { forced } = await containers.restart(record, timeout, flags.signal);
          if (forced) process.stderr.write(`container ${name} ignored ${flags.signal ?? record.config.stopSignal} (a PID 1 without a handler ignores it; try --init): killed\n`);
          process.stdout.write(`${name}\n`);
        });
      }),
    );
}
