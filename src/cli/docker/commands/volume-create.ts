// tsrun volume create [NAME] [--label k=v] [-d local|PLUGIN] [-o type=tmpfs -o device=tmpfs -o o=size=1m]: prints the volume's name
// (a random 64-hex one when none is given); an existing name is no error, as in Docker.
import type { Command } from 'commander';
import { checkVolumeDriver, validateVolumeOptions } from '../../../engine/volume-options.js';
import { labelsFrom } from '../../../engine/volumes.js';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { forEachVolume, volumesOf } from '../volume-access.js';
import { stdout } from '../../stdout.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerVolumeCreate(volume: Command): void {
  volume
    .command('create')
    .description('create a volume')
    .argument('[name]')
    .option('--name <name>', 'the volume name (same as the argument)')
    .option('-d, --driver <driver>', 'volume driver: local, or a Docker volume plugin (/run/docker/plugins/NAME.sock, NAME.spec/.json)', 'local')
    .option('--label <key=value>', 'set metadata on the volume', collect)
    .option('-o, --opt <key=value>', "driver options (local: type, device, o, mounted on the volume while containers use it; a plugin's go to it)", collect)
    .action(
      action('tsrun', async (arg: string | undefined, flags: { name?: string; driver: string; label?: string[]; opt?: string[] }, self: Command) => {
        if (arg !== undefined && flags.name !== undefined && arg !== flags.name) {
          throw new UsageError('conflicting options: either specify --name or provide positional arg, not both');
        }
        const name = arg ?? flags.name;
        // A malformed driver name or a local option tsrun cannot honour is a usage error (125), before anything is created;
        // a plugin's options are the plugin's to judge (its Create answers).
        const options = labelsFrom(flags.opt);
        checkVolumeDriver(flags.driver);
        if (flags.driver === 'local') validateVolumeOptions(options);
        return forEachVolume('create', [name ?? ''], async () => {
          const { volume } = await volumesOf(self).create({ name, driver: flags.driver, labels: labelsFrom(flags.label), options });
          stdout.write(`${volume.name}\n`);
        });
      }),
    );
}
