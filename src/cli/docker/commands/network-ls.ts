// tsrun network ls [-q] [--no-trunc] [--format json]: NETWORK ID, NAME, DRIVER, SCOPE
import type { Command } from 'commander';
import { action } from '../../common.js';
import { networksOf } from '../network-access.js';
import { printTable } from '../table.js';

export function registerNetworkLs(network: Command): void {
  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option('--format <format>', 'json for one JSON object per line')
    .action(
      action('tsrun', async (flags: { quiet?: boolean; trunc?: boolean; format?: string }, self: Command) => {
        const nets = await networksOf(self).list();
        const id = (s: string) => (flags.trunc === false ? s : s.slice(0, 12));
        if (flags.quiet) {
          for (const n of nets) process.stdout.write(`${id(n.id)}\n`);
          return;
        }
        if (flags.format === 'json') {
          for (const n of nets) process.stdout.write(JSON.stringify({ ID: id(n.id), Name: n.name, Driver: n.driver, Scope: 'local', Subnet: n.subnet }) + '\n');
          return;
        }
        printTable(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], nets.map((n) => [id(n.id), n.name, n.driver, 'local']));
      }),
    );
}
