// tsrun system df: disk used by images, containers and local volumes.
import type { Command } from 'commander';
import { imageDiskUsage } from '../../../engine/images.js';
import { containerDiskUsage } from '../../../engine/container-usage.js';
import { Volumes } from '../../../engine/volumes.js';
import { action, contextOf } from '../../common.js';
import { humanSize } from '../../format.js';
import { printTable } from '../table.js';

function reclaimable(bytes: number, of: number): string {
  return of > 0 ? `${humanSize(bytes)} (${Math.round((bytes / of) * 100)}%)` : humanSize(bytes);
}

export function registerSystemDf(program: Command, name = 'df'): Command {
  return program
    .command(name)
    .description('show disk usage')
    .option('--format <format>', 'json for one JSON object per line')
    .action(
      action('tsrun', (flags: { format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const img = imageDiskUsage(ctx);
        const ctr = containerDiskUsage(ctx);
        const vol = new Volumes(ctx).diskUsage();
        const rows = [
          { Type: 'Images', TotalCount: img.total, Active: img.active, Size: img.size, Reclaimable: img.reclaimable },
          { Type: 'Containers', TotalCount: ctr.total, Active: ctr.active, Size: ctr.size, Reclaimable: ctr.reclaimable },
          { Type: 'Local Volumes', TotalCount: vol.total, Active: vol.active, Size: vol.size, Reclaimable: vol.reclaimable },
          { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: 0, Reclaimable: 0 },
        ];
        if (flags.format === 'json') {
          for (const r of rows) {
            process.stdout.write(`${JSON.stringify({ ...r, Size: humanSize(r.Size), Reclaimable: reclaimable(r.Reclaimable, r.Size) })}\n`);
          }
          return;
        }
        printTable(
          ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
          rows.map((r) => [r.Type, String(r.TotalCount), String(r.Active), humanSize(r.Size), reclaimable(r.Reclaimable, r.Size)]),
        );
      }),
    );
}
