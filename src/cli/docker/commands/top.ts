// tsrun top CONTAINER [ps OPTIONS]: the host's ps over the container's processes
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { StateError } from '../../../errors.js';
import { action } from '../../common.js';

/** Every host pid in the same pid namespace as `pid`. */
function pidsInNamespaceOf(pid: number): number[] {
  const ns = readlinkSync(`/proc/${pid}/ns/pid`);
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === ns) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

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
        const pids = pidsInNamespaceOf(state.pid);
        const args = psArgs.length ? psArgs : ['-f'];
        process.stdout.write(execFileSync('ps', [...args, '-p', pids.join(',')], { encoding: 'utf8' }));
      }),
    );
}
