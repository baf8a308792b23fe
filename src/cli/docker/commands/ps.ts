// tsrun ps [-a] [-q] [--no-trunc] [--format json|TEMPLATE|table TEMPLATE]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action, contextOf } from '../../common.js';
import { commandText, stateName, statusText } from '../container-view.js';
import { timeAgo } from '../../format.js';
import { printFormatted } from '../list-format.js';
import { printTable } from '../table.js';
import { publishedPorts } from '../../../engine/container-network.js';

const HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', State: 'STATE',
  Status: 'STATUS', Ports: 'PORTS', Names: 'NAMES', Labels: 'LABELS',
};

export function registerPs(program: Command, name = 'ps'): Command {
  return program
    .command(name)
    .description('list containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('--no-trunc', 'don\'t truncate output')
    .option('--format <format>', 'json, or a Go-style template such as "{{.Names}}\\t{{.Status}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', (flags: { all?: boolean; quiet?: boolean; trunc?: boolean; format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const views = containersOf(self).list(Boolean(flags.all));
        // Pod members publish nothing of their own: show the pod's ports, as podman does.
        const ports = (owner: string) => publishedPorts(ctx, owner).join(', ');
        const full = flags.trunc === false;
        const id = (s: string) => (full ? s : s.slice(0, 12));
        if (flags.quiet) {
          for (const v of views) process.stdout.write(`${id(v.record.id)}\n`);
          return;
        }
        const now = Date.now();
        const rows = views.map((v) => ({
          ID: id(v.record.id),
          Image: v.record.image,
          Command: commandText(v, full),
          CreatedAt: v.record.created,
          RunningFor: timeAgo(v.record.created, now),
          State: stateName(v),
          Status: statusText(v, now),
          Ports: ports(v.record.pod ?? v.record.id),
          Names: v.record.name,
          Labels: Object.entries(v.record.config.labels ?? {}).map(([k, val]) => `${k}=${val}`).join(','),
        }));
        if (printFormatted(flags.format, rows, HEADERS, '*formatter.ContainerContext')) return;
        printTable(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
          rows.map((r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names]),
        );
      }),
    );
}
