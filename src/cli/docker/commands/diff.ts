// tsrun diff CONTAINER: Docker's "A|C|D /path" list of changes against the image.
import type { Command } from 'commander';
import { ContainerFs } from '../../../engine/container-fs.js';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';
import { stdout } from '../../stdout.js';

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description("inspect changes to files or directories on a container's filesystem (A added, C changed, D deleted)")
    .argument('<container>')
    .action(
      action('tsrun', (name: string, _flags: unknown, self: Command) => {
        const containers = containersOf(self);
        const changes = new ContainerFs(containers).diff(containers.lookup(name));
        stdout.write(changes.map((c) => `${c.kind} ${c.path}\n`).join(''));
      }),
    );
}
