// tsrun volume inspect [-f TEMPLATE] VOLUME...: Docker's JSON (CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope)
import type { Command } from 'commander';
import { action } from '../../common.js';
import { printInspected } from '../inspect-output.js';
import { forEachVolume, inspectVolumeJson, volumesOf } from '../volume-access.js';

export function registerVolumeInspect(volume: Command): void {
  volume
    .command('inspect')
    .description('display detailed information on one or more volumes')
    .argument('<volume...>')
    .option('-f, --format <template>', "a Go template, as Docker's (e.g. {{.Mountpoint}}, {{json .Labels}})")
    .action(
      action('tsrun', async (names: string[], flags: { format?: string }, self: Command) => {
        const volumes = volumesOf(self);
        const out: unknown[] = [];
        // describe(): a plugin's volume shows the Mountpoint and Status its plugin answers.
        const code = await forEachVolume('get', names, async (name) => {
          out.push(inspectVolumeJson(await volumes.describe(name)));
        });
        printInspected(out, flags.format);
        return code;
      }),
    );
}
