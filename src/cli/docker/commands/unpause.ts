// tsrun unpause CONTAINER...: thaw paused containers
import type { Command } from 'commander';
import { ContainerResources } from '../../../engine/container-resources.js';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { stdout } from '../../stdout.js';

export function registerUnpause(program: Command): void {
  program
    .command('unpause')
    .description('unpause all processes within one or more containers')
    .argument('<container...>')
    .action(
      action('tsrun', async (names: string[], _flags: unknown, self: Command) => {
        const containers = containersOf(self);
        const resources = new ContainerResources(containers);
        return forEachContainer(containers, names, async (record, name) => {
          await resources.unpause(record);
          stdout.write(`${name}\n`);
        });
      }),
    );
}
