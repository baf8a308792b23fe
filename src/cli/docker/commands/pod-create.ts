// tsrun pod create [--name N] [-p ...] [--share net,ipc,uts] [--hostname H] [--network bridge|none|host] [--label k=v] [--exit-policy continue|stop]
import type { Command } from 'commander';
import { action } from '../../common.js';
import { podsOf } from '../pod-access.js';
import { stdout } from '../../stdout.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPodCreate(pod: Command): void {
  pod
    .command('create')
    .description('create a new, empty pod that owns its network, IPC and UTS namespaces')
    .option('-n, --name <name>', 'assign a name to the pod')
    .option('-p, --publish <[ip:]hostPort:containerPort>', 'publish a port of the pod to the host', collect)
    .option('--share <namespaces>', 'namespaces the members share: comma-separated net, ipc, uts', 'ipc,net,uts')
    .option('--hostname <name>', 'the pod\'s host name (default: the pod name)')
    .option('--network <mode>', 'bridge (default), none, host, or a network from `tsrun network create` (NAME or NAME1,NAME2)')
    .option('-l, --label <key=value>', 'set metadata on the pod', collect)
    .option('--exit-policy <policy>', 'what happens when the last container exits: continue or stop', 'continue')
    // Limits of the pod's cgroup, which holds every member (same parsing as run).
    .option('-m, --memory <bytes>', 'memory limit of the whole pod')
    .option('--memory-swap <bytes>', 'memory plus swap limit of the whole pod: -1 for unlimited')
    .option('--cpus <n>', 'number of CPUs the whole pod may use')
    .option('--cpu-shares <n>', 'CPU shares (relative weight) of the pod')
    .option('--cpuset-cpus <list>', 'CPUs the pod\'s members may run on (0-3, 0,1)')
    .option('--cpuset-mems <list>', 'memory nodes the pod\'s members may use')
    .option('--pids-limit <n>', 'processes the whole pod may have (-1 for unlimited)')
    .option('--blkio-weight <n>', 'block IO weight of the pod (10-1000)')
    .action(
      action('tsrun', async (flags: { name?: string; publish?: string[]; share: string; hostname?: string; network?: string; label?: string[]; exitPolicy: string } & Record<string, unknown>, self: Command) => {
        const { memory, memorySwap, cpus, cpuShares, cpusetCpus, cpusetMems, pidsLimit, blkioWeight } = flags;
        const record = await podsOf(self).create({
          name: flags.name,
          publish: flags.publish,
          share: flags.share,
          hostname: flags.hostname,
          network: flags.network,
          labels: flags.label,
          exitPolicy: flags.exitPolicy,
          createCommand: ['tsrun', ...process.argv.slice(2)],
          limits: { memory, memorySwap, cpus, cpuShares, cpusetCpus, cpusetMems, pidsLimit, blkioWeight },
          onWarning: (m) => process.stderr.write(`WARNING: ${m}\n`),
        });
        stdout.write(`${record.id}\n`);
      }),
    );
}
