// tsrun top CONTAINER [ps OPTIONS]: the host's ps over the container's processes
import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { StateError } from '../../../errors.js';
import { action } from '../../common.js';
import { stdout } from '../../stdout.js';

export function registerTop(program: Command): void {
  program
    .command('top')
    .description('display the running processes of a container')
    .argument('<container>')
    .argument('[ps-options...]')
    .passThroughOptions()
    .allowUnknownOption()
    .action(
      action('tsrun', (name: string, psArgs: string[], _flags: unknown, self: Command) => {
        const containers = containersOf(self);
        const record = containers.lookup(name);
        const state = containers.state(record);
        if (state.status !== 'running' || !state.pid) throw new StateError(`container ${name} is not running`);
        const pids = containers.processIds(record, state.pid);
        const args = psArgs.length ? psArgs : ['-f'];
        stdout.write(execFileSync('ps', [...args, '-p', pids.join(',')], { encoding: 'utf8' }));
      }),
    );
}
