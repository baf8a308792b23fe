// tsrun ps [-a] [-q] [-s] [--no-trunc] [--format json|TEMPLATE|table TEMPLATE]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action, contextOf } from '../../common.js';
import { printFormatted } from '../list-format.js';
import { printTable } from '../table.js';
import { publishedPorts } from '../../../engine/container-network.js';
import { Networks } from '../../../engine/networks.js';
import { openStore } from '../../../engine/pull.js';
import { CONTAINER_HEADERS, containerRow } from '../container-row.js';

export function registerPs(program: Command, name = 'ps'): Command {
  return program
    .command(name)
    .description('list containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('-s, --size', 'display total file sizes')
    .option('--no-trunc', 'don\'t truncate output')
    .option('--format <format>', 'json, or a Go template such as "{{.Names}}\\t{{.Status}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', (flags: { all?: boolean; quiet?: boolean; size?: boolean; trunc?: boolean; format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const containers = containersOf(self);
        const views = containers.list(Boolean(flags.all));
        const full = flags.trunc === false;
        if (flags.quiet) {
          for (const v of views) process.stdout.write(`${full ? v.record.id : v.record.id.slice(0, 12)}\n`);
          return;
        }
        // Docker measures sizes only with --size, or when the template reads .Size.
        const sized = Boolean(flags.size) || /\.Size\b/.test(flags.format ?? '');
        const networks = new Networks(containers);
        const images = openStore(ctx).images;
        const now = Date.now();
        const rows = views.map((v) =>
          containerRow(v, {
            full,
            now,
            // Pod members publish nothing of their own: show the pod's ports, as podman does.
            ports: publishedPorts(ctx, v.record.pod ?? v.record.id).join(', '),
            networks: networks.networksOf(v.record),
            upperDir: sized ? containers.store.paths(v.record.id).upper : undefined,
            image: images.get(v.record.imageId),
          }),
        );
        if (printFormatted(flags.format, rows, CONTAINER_HEADERS, '*formatter.ContainerContext', ['Label'])) return;
        const cell = (r: (typeof rows)[number], k: string) => String(r[k]);
        printTable(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', ...(flags.size ? ['SIZE'] : [])],
          rows.map((r) => [
            ...['ID', 'Image', 'Command', 'RunningFor', 'Status', 'Ports', 'Names'].map((k) => cell(r, k)),
            ...(flags.size ? [(r.Size as () => string)()] : []),
          ]),
        );
      }),
    );
}
