// tsrun volume ls [-q] [--format json|TEMPLATE] [-f dangling=true|name=X|label=K[=V]|driver=local]: DRIVER, VOLUME NAME,
// with the volumes the plugins in use report (Volumes.listWithPlugins).
import type { Command } from 'commander';
import { parseVolumeFilters, volumeMatches } from '../../../engine/volumes.js';
import { describeError } from '../../../errors.js';
import { action } from '../../common.js';
import { printWarning } from '../engine-access.js';
import { printFormatted } from '../list-format.js';
import { printTable } from '../table.js';
import { volumesOf } from '../volume-access.js';
import { stdout } from '../../stdout.js';

const HEADERS: Record<string, string> = {
  Availability: 'AVAILABILITY', Driver: 'DRIVER', Group: 'GROUP', Labels: 'LABELS', Links: 'LINKS', Mountpoint: 'MOUNTPOINT',
  Name: 'VOLUME NAME', Scope: 'SCOPE', Size: 'SIZE', Status: 'STATUS',
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerVolumeLs(volume: Command): void {
  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only display volume names')
    .option('-f, --filter <filter>', 'filter output (dangling=true, name=X, label=K[=V], driver=local)', collect)
    .option('--format <format>', 'json, or a Go-style template such as "{{.Name}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', async (flags: { quiet?: boolean; filter?: string[]; format?: string }, self: Command) => {
        const volumes = volumesOf(self);
        const filters = parseVolumeFilters(flags.filter ?? []);
        volumes.repair();
        const usage = volumes.usage();
        // With the volumes the plugins in use report (List); one that fails is a warning, as in Docker.
        const { volumes: all, failures } = await volumes.listWithPlugins();
        for (const f of failures) printWarning(`cannot list the volumes of plugin ${f.driver}: ${describeError(f.error)}`);
        const list = all.filter((v) => volumeMatches(v, usage.get(v.name)?.length ?? 0, filters));
        if (flags.quiet) {
          for (const v of list) stdout.write(`${v.name}\n`);
          return;
        }
        const rows = list.map((v) => ({
          Availability: 'N/A',
          Driver: v.driver,
          Group: 'N/A',
          Labels: Object.entries(v.labels)
            .map(([k, val]) => `${k}=${val}`)
            .sort()
            .join(','),
          Label: (name: string) => v.labels[name] ?? '',
          Links: 'N/A',
          Mountpoint: v.mountpoint,
          Name: v.name,
          Scope: 'local',
          Size: 'N/A',
          Status: 'N/A',
        }));
        if (printFormatted(flags.format, rows, HEADERS, '*formatter.volumeContext', ['Label'])) return;
        printTable(['DRIVER', 'VOLUME NAME'], rows.map((r) => [r.Driver, r.Name]));
      }),
    );
}
