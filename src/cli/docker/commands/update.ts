// tsrun update [limit flags] CONTAINER...: new cgroup limits for running (and stopped) containers,
// parsed exactly as `run` parses them; kept in the bundle so a restart keeps them.
import type { Command } from 'commander';
import { ContainerResources } from '../../../engine/container-resources.js';
import { containersOf, printWarning } from '../engine-access.js';
import { action } from '../../common.js';
import { forEachContainer } from '../each.js';
import { addLimitFlags } from '../run-flags.js';
import { stdout } from '../../stdout.js';

export function registerUpdate(program: Command): void {
  const cmd = program
    .command('update')
    .description('update configuration of one or more containers')
    .argument('<container...>');
  addLimitFlags(cmd)
    .action(
      action('tsrun', async (names: string[], flags: Record<string, unknown>, self: Command) => {
        const containers = containersOf(self);
        const resources = new ContainerResources(containers);
        return forEachContainer(containers, names, async (record, name) => {
          for (const w of resources.update(record, flags)) printWarning(w);
          stdout.write(`${name}\n`);
        });
      }),
    );
}
