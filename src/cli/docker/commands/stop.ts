// tsrun stop [-t SECONDS] CONTAINER...
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { parseTimeout } from '../time-flag.js';
import { parseSignal } from '../../../util/signals.js';
import { stdout } from '../../stdout.js';

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('stop one or more running containers')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container')
    .option('-s, --signal <signal>', 'signal to send to the container')
    .action(action('tsrun', (names: string[], flags: StopFlags, self: Command) => stopEach(self, names, flags, 'stop')));
}

export interface StopFlags {
  time?: string;
  signal?: string;
}

/** stop and restart alike: checks -t and -s first, then stops (and restarts) each container, Docker's lines. */
export function stopEach(self: Command, names: string[], flags: StopFlags, verb: 'stop' | 'restart'): Promise<number> {
  // Bad input fails before any container is touched.
  const timeout = parseTimeout(flags.time);
  if (flags.signal !== undefined) parseSignal(flags.signal);
  const containers = containersOf(self);
  return forEachContainer(containers, names, async (record, name) => {
    const { forced } = await containers[verb](record, timeout, flags.signal);
    if (forced) process.stderr.write(`container ${name} ignored ${flags.signal ?? record.config.stopSignal} (a PID 1 without a handler ignores it; try --init): killed\n`);
    stdout.write(`${name}\n`);
  });
}
