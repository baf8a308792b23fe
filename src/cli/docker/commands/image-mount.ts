// tsrun image mount IMAGE / tsrun image unmount IMAGE: a read-only merged view of an image.
import type { Command } from 'commander';
import { mountImage, unmountImage } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';
import { stdout } from '../../stdout.js';

export function registerImageMount(program: Command): void {
  program
    .command('mount')
    .description('mount an image read-only and print the directory (mounting again prints the same one)')
    .argument('<image>')
    .action(
      action('tsrun', async (name: string, _flags: unknown, self: Command) => {
        stdout.write(`${await mountImage(contextOf(self), name)}\n`);
      }),
    );
  program
    .command('unmount')
    .alias('umount')
    .description('unmount an image mounted with "image mount"')
    .argument('<image>')
    .action(
      action('tsrun', async (name: string, _flags: unknown, self: Command) => {
        await unmountImage(contextOf(self), name);
      }),
    );
}
