// tsrun ps [-a] [-q] [--no-trunc] [--format json]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action, contextOf } from '../../common.js';
import { commandText, stateName, statusText } from '../container-view.js';
import { timeAgo } from '../../format.js';
import { printTable } from '../table.js';
import { publishedPorts } from '../../../engine/container-network.js';

export function registerPs(program: Command, name = 'ps'): Command {
  return program
    .command(name)
    .description('list containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('--no-trunc', 'don\'t truncate output')
    .option('--format <format>', 'format output: table or json')
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
        if (flags.format === 'json') {
          for (const v of views) {
            process.stdout.write(
              JSON.stringify({
                ID: id(v.record.id),
                Image: v.record.image,
                Command: commandText(v, full),
                CreatedAt: v.record.created,
                State: stateName(v),
                Status: statusText(v),
                Ports: ports(v.record.pod ?? v.record.id),
                Names: v.record.name,
              }) + '\n',
            );
          }
          return;
        }
        const now = Date.now();
        printTable(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
          views.map((v) => [id(v.record.id), v.record.image, commandText(v, full), timeAgo(v.record.created, now), statusText(v, now), ports(v.record.pod ?? v.record.id), v.record.name]),
        );
      }),
    );
}
