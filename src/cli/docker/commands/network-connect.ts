// tsrun network connect [--ip IP] [--alias NAME] NETWORK CONTAINER; tsrun network disconnect NETWORK CONTAINER
import type { Command } from 'commander';
import { action } from '../../common.js';
import { networksOf } from '../network-access.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerNetworkConnect(network: Command): void {
  network
    .command('connect')
    .description('connect a container to a network (a second interface in its namespace, running or not)')
    .argument('<network>')
    .argument('<container>')
    .option('--ip <address>', 'IPv4 address on the network')
    .option('--alias <name>', 'another name peers resolve the container by on this network', collect)
    .action(
      action('tsrun', async (net: string, container: string, flags: { ip?: string; alias?: string[] }, self: Command) => {
        await networksOf(self).connect(net, container, { ip: flags.ip, aliases: flags.alias });
      }),
    );
  network
    .command('disconnect')
    .description('disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'accepted for Docker compatibility')
    .action(
      action('tsrun', async (net: string, container: string, _flags: unknown, self: Command) => {
        await networksOf(self).disconnect(net, container);
      }),
    );
}
