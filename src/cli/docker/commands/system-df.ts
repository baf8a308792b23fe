// tsrun system df [--format json|TEMPLATE|table TEMPLATE]: disk used by images, containers and local volumes.
import type { Command } from 'commander';
import { imageDiskUsage } from '../../../engine/images.js';
import { containerDiskUsage } from '../../../engine/container-usage.js';
import { Volumes } from '../../../engine/volumes.js';
import { action, contextOf } from '../../common.js';
import { humanSize } from '../../format.js';
import { printFormatted, type Row } from '../list-format.js';
import { printTable } from '../table.js';

// Docker's disk usage formatter (docker/cli cli/command/formatter/disk_usage.go).
export const DF_HEADERS: Record<string, string> = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
export const DF_TYPE = '*formatter.diskUsageImagesContext';

export interface DiskUsage {
  Type: string;
  TotalCount: number;
  Active: number;
  Size: number;
  Reclaimable: number;
}

function reclaimable(bytes: number, of: number): string {
  return of > 0 ? `${humanSize(bytes)} (${Math.round((bytes / of) * 100)}%)` : humanSize(bytes);
}

/** A df row as Docker prints it: sizes human-readable, the reclaimable part with its share. */
export function diskUsageRow(u: DiskUsage): Row {
  return { ...u, Size: humanSize(u.Size), Reclaimable: reclaimable(u.Reclaimable, u.Size) };
}

export function registerSystemDf(program: Command, name = 'df'): Command {
  return program
    .command(name)
    .description('show disk usage')
    .option('--format <format>', 'json for one JSON object per line, or a Go template such as "{{.Type}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', (flags: { format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const img = imageDiskUsage(ctx);
        const ctr = containerDiskUsage(ctx);
        const vol = new Volumes(ctx).diskUsage();
        const usage: DiskUsage[] = [
          { Type: 'Images', TotalCount: img.total, Active: img.active, Size: img.size, Reclaimable: img.reclaimable },
          { Type: 'Containers', TotalCount: ctr.total, Active: ctr.active, Size: ctr.size, Reclaimable: ctr.reclaimable },
          { Type: 'Local Volumes', TotalCount: vol.total, Active: vol.active, Size: vol.size, Reclaimable: vol.reclaimable },
          { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: 0, Reclaimable: 0 },
        ];
        const rows = usage.map(diskUsageRow);
        if (printFormatted(flags.format, rows, DF_HEADERS, DF_TYPE)) return;
        printTable(
          ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
          rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable].map(String)),
        );
      }),
    );
}
