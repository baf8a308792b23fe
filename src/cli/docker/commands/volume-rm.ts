// tsrun volume rm [-f] VOLUME...: refused for a volume any container (running or
// not) uses, with Docker's "volume is in use - [IDS]"; -f makes a missing volume no error.
// A volume mounted by its options is unmounted first (also when refused, if no user is live).
import type { Command } from 'commander';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';
import { forEachVolume, volumesOf } from '../volume-access.js';
import { stdout } from '../../stdout.js';

export function registerVolumeRm(volume: Command): void {
  volume
    .command('rm')
    .alias('remove')
    .description('remove one or more volumes')
    .argument('<volume...>')
    .option('-f, --force', 'do not report volumes that do not exist (volumes in use are still kept)')
    .action(
      action('tsrun', async (names: string[], flags: { force?: boolean }, self: Command) => {
        const volumes = volumesOf(self);
        // Which users are live: a volume a kill -9 left mounted is unmounted even when its (dead) users keep it.
        const { isLive } = containersOf(self);
        return forEachVolume('remove', names, async (name) => {
          await volumes.remove(name, { force: flags.force, isLive });
          stdout.write(`${name}\n`);
        });
      }),
    );
}
