// tsrun volume ls [-q] [--format json|TEMPLATE] [-f dangling=true|name=X|label=K[=V]|driver=local]: DRIVER, VOLUME NAME
import type { Command } from 'commander';
import { parseVolumeFilters, volumeMatches } from '../../../engine/volumes.js';
import { action } from '../../common.js';
import { renderTemplate } from '../inspect-output.js';
import { printTable } from '../table.js';
import { volumesOf } from '../volume-access.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerVolumeLs(volume: Command): void {
  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only display volume names')
    .option('-f, --filter <filter>', 'filter output (dangling=true, name=X, label=K[=V], driver=local)', collect)
    .option('--format <format>', 'json for one JSON object per line, or a {{.Name}} template')
    .action(
      action('tsrun', (flags: { quiet?: boolean; filter?: string[]; format?: string }, self: Command) => {
        const volumes = volumesOf(self);
        const filters = parseVolumeFilters(flags.filter ?? []);
        volumes.repair();
        const usage = volumes.usage();
        const list = volumes.list().filter((v) => volumeMatches(v, usage.get(v.name)?.length ?? 0, filters));
        if (flags.quiet) {
          for (const v of list) process.stdout.write(`${v.name}\n`);
          return;
        }
        const rows = list.map((v) => ({
          Availability: 'N/A',
          Driver: v.driver,
          Group: 'N/A',
          Labels: Object.entries(v.labels)
            .map(([k, val]) => `${k}=${val}`)
            .join(','),
          Links: 'N/A',
          Mountpoint: v.mountpoint,
          Name: v.name,
          Scope: 'local',
          Size: 'N/A',
          Status: 'N/A',
        }));
        if (flags.format === 'json') {
          for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        if (flags.format && flags.format !== 'table') {
          for (const r of rows) process.stdout.write(`${renderTemplate(flags.format, r)}\n`);
          return;
        }
        printTable(['DRIVER', 'VOLUME NAME'], rows.map((r) => [r.Driver, r.Name]));
      }),
    );
}
