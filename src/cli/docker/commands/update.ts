// tsrun update [limit flags] CONTAINER...: new cgroup limits for running (and stopped) containers,
// parsed exactly as `run` parses them; kept in the bundle so a restart keeps them.
import type { Command } from 'commander';
import { ContainerResources } from '../../../engine/container-resources.js';
import { containersOf, printWarning } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerUpdate(program: Command): void {
  program
    .command('update')
    .description('update configuration of one or more containers')
    .argument('<container...>')
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', 'swap limit equal to memory plus swap: -1 for unlimited')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--kernel-memory <bytes>', 'kernel memory limit (ignored)')
    .option('--cpus <n>', 'number of CPUs')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpu-period <us>', 'limit CPU CFS period')
    .option('--cpu-quota <us>', 'limit CPU CFS quota')
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'MEMs in which to allow execution')
    .option('--pids-limit <n>', 'tune container pids limit (-1 for unlimited)')
    .option('--blkio-weight <n>', 'block IO weight (10-1000)')
    .option('--device-read-bps <dev:rate>', 'limit read rate from a device', collect)
    .option('--device-write-bps <dev:rate>', 'limit write rate to a device', collect)
    .action(
      action('tsrun', async (names: string[], flags: Record<string, unknown>, self: Command) => {
        const containers = containersOf(self);
        const resources = new ContainerResources(containers);
        return forEachContainer(containers, names, async (record, name) => {
          for (const w of resources.update(record, flags)) printWarning(w);
          process.stdout.write(`${name}\n`);
        });
      }),
    );
}
