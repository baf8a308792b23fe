// tsrun network ls [-q] [--no-trunc] [--format json|TEMPLATE|table TEMPLATE]: NETWORK ID, NAME, DRIVER, SCOPE
import type { Command } from 'commander';
import { action } from '../../common.js';
import { dockerTimestamp } from '../../format.js';
import { printFormatted } from '../list-format.js';
import { networksOf } from '../network-access.js';
import { printTable } from '../table.js';
import { stdout } from '../../stdout.js';

// Docker's network formatter (docker/cli cli/command/network/formatter.go).
const HEADERS: Record<string, string> = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL',
  Labels: 'LABELS', CreatedAt: 'CREATED AT',
};

export function registerNetworkLs(network: Command): void {
  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option('--format <format>', 'json, or a Go template such as "{{.Name}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', async (flags: { quiet?: boolean; trunc?: boolean; format?: string }, self: Command) => {
        const nets = await networksOf(self).list();
        const id = (s: string) => (flags.trunc === false ? s : s.slice(0, 12));
        if (flags.quiet) {
          for (const n of nets) stdout.write(`${id(n.id)}\n`);
          return;
        }
        const rows = nets.map((n) => ({
          ID: id(n.id),
          Name: n.name,
          Driver: n.driver,
          Scope: 'local',
          // tsrun's bridge networks are IPv4 only and reach outside.
          IPv4: 'true',
          IPv6: 'false',
          Internal: 'false',
          Labels: Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).sort().join(','),
          Label: (name: string) => n.labels[name] ?? '',
          CreatedAt: dockerTimestamp(n.created),
          // Not Docker's, kept for scripts that read it from tsrun's json.
          Subnet: n.subnet,
        }));
        if (printFormatted(flags.format, rows, HEADERS, '*network.networkContext', ['Label', 'Subnet'])) return;
        printTable(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope]));
      }),
    );
}
