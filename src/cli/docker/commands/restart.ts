// tsrun restart [-t SECONDS] [-s SIGNAL] CONTAINER...
import type { Command } from 'commander';
import { action } from '../../common.js';
import { stopEach, type StopFlags } from './stop.js';

export function registerRestart(program: Command): void {
  program
    .command('restart')
    .description('restart one or more containers')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'seconds to wait for the container to stop before killing it')
    .option('-s, --signal <signal>', 'signal to stop the container with')
    .action(action('tsrun', (names: string[], flags: StopFlags, self: Command) => stopEach(self, names, flags, 'restart')));
}
