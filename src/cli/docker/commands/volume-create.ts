// tsrun volume create [NAME] [--label k=v] [-d local]: prints the volume's name
// (a random 64-hex one when none is given); an existing name is no error, as in Docker.
import type { Command } from 'commander';
import { labelsFrom } from '../../../engine/volumes.js';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { forEachVolume, volumesOf } from '../volume-access.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerVolumeCreate(volume: Command): void {
  volume
    .command('create')
    .description('create a volume')
    .argument('[name]')
    .option('--name <name>', 'the volume name (same as the argument)')
    .option('-d, --driver <driver>', 'volume driver (only local)', 'local')
    .option('--label <key=value>', 'set metadata on the volume', collect)
    .option('-o, --opt <key=value>', 'driver options (none are supported by the local driver here)', collect)
    .action(
      action('tsrun', async (arg: string | undefined, flags: { name?: string; driver: string; label?: string[]; opt?: string[] }, self: Command) => {
        if (arg !== undefined && flags.name !== undefined && arg !== flags.name) {
          throw new UsageError('conflicting options: either specify --name or provide positional arg, not both');
        }
        const name = arg ?? flags.name;
        return forEachVolume('create', [name ?? ''], async () => {
          const { volume } = await volumesOf(self).create({ name, driver: flags.driver, labels: labelsFrom(flags.label), options: labelsFrom(flags.opt) });
          process.stdout.write(`${volume.name}\n`);
        });
      }),
    );
}
