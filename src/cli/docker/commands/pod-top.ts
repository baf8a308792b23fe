// tsrun pod top POD [ps OPTIONS]: the host's ps over the processes of every running member
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import type { Command } from 'commander';
import { StateError } from '../../../errors.js';
import { action } from '../../common.js';
import { podsOf } from '../pod-access.js';
import { stdout } from '../../stdout.js';

/** Host pids whose PID namespace is one of `namespaces` (each member has its own). */
function pidsInNamespaces(namespaces: Set<string>): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (namespaces.has(readlinkSync(`/proc/${entry}/ns/pid`))) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

export function registerPodTop(pod: Command): void {
  pod
    .command('top')
    .description('display the running processes of the containers in a pod')
    .argument('<pod>')
    .argument('[ps-options...]')
    .passThroughOptions()
    .allowUnknownOption()
    .action(
      action('tsrun', (name: string, psArgs: string[], _flags: unknown, self: Command) => {
        const pods = podsOf(self);
        const record = pods.lookup(name);
        const namespaces = new Set<string>();
        for (const m of pods.members(record)) {
          if (m.state.status !== 'running' || !m.state.pid) continue;
          try {
            namespaces.add(readlinkSync(`/proc/${m.state.pid}/ns/pid`));
          } catch {
            /* exited meanwhile */
          }
        }
        const pids = pidsInNamespaces(namespaces);
        if (pids.length === 0) throw new StateError(`pod ${name} has no running containers`);
        stdout.write(execFileSync('ps', [...(psArgs.length ? psArgs : ['-f']), '-p', pids.join(',')], { encoding: 'utf8' }));
      }),
    );
}
