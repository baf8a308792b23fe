// tsrun pod create [--name N] [-p ...] [--share net,ipc,uts] [--hostname H] [--network bridge|none|host] [--label k=v] [--exit-policy continue|stop]
import type { Command } from 'commander';
import { action } from '../../common.js';
import { podsOf } from '../pod-access.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPodCreate(pod: Command): void {
  pod
    .command('create')
    .description('create a new, empty pod that owns its network, IPC and UTS namespaces')
    .option('-n, --name <name>', 'assign a name to the pod')
    .option('-p, --publish <[ip:]hostPort:containerPort>', 'publish a port of the pod to the host', collect)
    .option('--share <namespaces>', 'namespaces the members share: comma-separated net, ipc, uts', 'ipc,net,uts')
    .option('--hostname <name>', 'the pod\'s host name (default: the pod name)')
    .option('--network <mode>', 'bridge (default), none or host')
    .option('-l, --label <key=value>', 'set metadata on the pod', collect)
    .option('--exit-policy <policy>', 'what happens when the last container exits: continue or stop', 'continue')
    .action(
      action('tsrun', async (flags: { name?: string; publish?: string[]; share: string; hostname?: string; network?: string; label?: string[]; exitPolicy: string }, self: Command) => {
        const record = await podsOf(self).create({
          name: flags.name,
          publish: flags.publish,
          share: flags.share,
          hostname: flags.hostname,
          network: flags.network,
          labels: flags.label,
          exitPolicy: flags.exitPolicy,
          createCommand: ['tsrun', ...process.argv.slice(2)],
        });
        process.stdout.write(`${record.id}\n`);
      }),
    );
}
