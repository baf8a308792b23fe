// tsrun system boot: run once at boot (contrib/systemd/tsrun-boot.service) to start the
// containers with --restart always or unless-stopped, as Docker's daemon does when it starts.
import type { Command } from 'commander';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';
import { stdout } from '../../stdout.js';

export function registerSystemBoot(system: Command): void {
  system
    .command('boot')
    .description('start the containers whose restart policy asks for it (run at boot)')
    .action(
      action('tsrun', async (_flags: unknown, self: Command) => {
        const { started, failed } = await containersOf(self).bootRestart();
        for (const name of started) stdout.write(`${name}\n`);
        for (const f of failed) process.stderr.write(`tsrun: cannot start ${f.name}: ${f.error}\n`);
        return failed.length ? 1 : 0;
      }),
    );
}
