// tsrun network create [-d bridge] [--subnet CIDR] [--gateway IP] [--label k=v] NAME
import type { Command } from 'commander';
import { action } from '../../common.js';
import { networksOf } from '../network-access.js';
import { stdout } from '../../stdout.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerNetworkCreate(network: Command): void {
  network
    .command('create')
    .description('create a network: a bridge with its own subnet whose containers resolve each other by name')
    .argument('<name>')
    .option('-d, --driver <driver>', 'driver to manage the network (only bridge)', 'bridge')
    .option('--subnet <cidr>', 'subnet in CIDR format (default: a free 10.89.N.0/24)')
    .option('--gateway <ip>', 'gateway of the subnet (must be its first address)')
    .option('--label <key=value>', 'set metadata on the network', collect)
    .action(
      action('tsrun', async (name: string, flags: { driver: string; subnet?: string; gateway?: string; label?: string[] }, self: Command) => {
        const net = await networksOf(self).create({ name, driver: flags.driver, subnet: flags.subnet, gateway: flags.gateway, labels: flags.label });
        stdout.write(`${net.id}\n`);
      }),
    );
}
