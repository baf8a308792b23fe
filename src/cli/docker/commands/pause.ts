// tsrun pause CONTAINER...: freeze every process of the containers (cgroup.freeze on v2, the v1 freezer)
import type { Command } from 'commander';
import { ContainerResources } from '../../../engine/container-resources.js';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { stdout } from '../../stdout.js';

export function registerPause(program: Command): void {
  program
    .command('pause')
    .description('pause all processes within one or more containers')
    .argument('<container...>')
    .action(
      action('tsrun', async (names: string[], _flags: unknown, self: Command) => {
        const containers = containersOf(self);
        const resources = new ContainerResources(containers);
        return forEachContainer(containers, names, async (record, name) => {
          await resources.pause(record);
          stdout.write(`${name}\n`);
        });
      }),
    );
}
