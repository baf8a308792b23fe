// tsrun network rm NETWORK...: refused while any container or pod is on it
import type { Command } from 'commander';
import { action } from '../../common.js';
import { forEachNetwork, networksOf } from '../network-access.js';
import { stdout } from '../../stdout.js';

export function registerNetworkRm(network: Command): void {
  network
    .command('rm')
    .alias('remove')
    .description('remove one or more networks (their bridge, firewall entries and leases)')
    .argument('<network...>')
    .action(
      action('tsrun', async (refs: string[], _flags: unknown, self: Command) => {
        const networks = networksOf(self);
        return forEachNetwork(refs, async (ref) => {
          await networks.remove(ref);
          stdout.write(`${ref}\n`);
        });
      }),
    );
}
