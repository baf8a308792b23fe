// tsrun logs [-f] [-t] [--tail N] [--since T] [--until T] CONTAINER
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { readLogs } from '../../../engine/logs.js';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { endOnBrokenStdout } from '../../exit.js';

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('fetch the logs of a container')
    .argument('<container>')
    .option('-f, --follow', 'follow log output')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'number of lines to show from the end of the logs', 'all')
    .option('--since <time>', 'show logs since a timestamp or relative time (e.g. 42m)')
    .option('--until <time>', 'show logs before a timestamp or relative time')
    .action(
      action('tsrun', async (name: string, flags: { follow?: boolean; timestamps?: boolean; tail: string; since?: string; until?: string }, self: Command) => {
        const containers = containersOf(self);
        const record = containers.lookup(name);
        let tail: number | undefined;
        if (flags.tail !== 'all') {
          tail = Number(flags.tail);
          if (!Number.isInteger(tail) || tail < 0) throw new UsageError(`invalid --tail value "${flags.tail}": use a number or "all"`);
        }
        // `tsrun logs c | head`: the reader leaving ends us quietly, as it does Docker's CLI.
        process.stdout.on('error', (err) => endOnBrokenStdout('tsrun', err));
        for await (const e of readLogs(containers.logPath(record), {
          follow: flags.follow,
          tail,
          since: flags.since,
          until: flags.until,
          isRunning: () => containers.isRunning(record),
        })) {
          const out = e.stream === 'stderr' ? process.stderr : process.stdout;
          out.write(flags.timestamps ? `${e.time} ${e.log}` : e.log);
        }
      }),
    );
}
