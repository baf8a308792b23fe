// tsrun pod rm [-f] [-t SECONDS] POD...: removes the members, then the pod's network, namespaces and cgroup
import type { Command } from 'commander';
import { action } from '../../common.js';
import { forEachPod, podsOf } from '../pod-access.js';
import { parseTimeout } from '../time-flag.js';
import { stdout } from '../../stdout.js';

export function registerPodRm(pod: Command): void {
  pod
    .command('rm')
    .description('remove one or more pods and their containers')
    .argument('<pod...>')
    .option('-f, --force', 'stop (SIGKILL) and remove running containers too')
    .option('-t, --time <seconds>', 'with --force: seconds to wait for each container to stop before killing it')
    .action(
      action('tsrun', async (names: string[], flags: { force?: boolean; time?: string }, self: Command) => {
        const pods = podsOf(self);
        const timeout = parseTimeout(flags.time);
        return forEachPod(pods, names, async (record) => {
          await pods.remove(record, { force: flags.force, timeoutSec: timeout });
          stdout.write(`${record.id}\n`);
        });
      }),
    );
}
