// The `system` group: disk usage, pruning, and the boot-time restart of containers.
import type { Command } from 'commander';
import { registerSystemBoot } from './system-boot.js';
import { registerEvents } from './events.js';
import { registerSystemDf } from './system-df.js';
import { registerSystemPrune } from './system-prune.js';

export function registerSystemVerbs(program: Command): void {
  registerEvents(program);
  const system = program.command('system').description('manage tsrun');
  registerSystemDf(system);
  registerSystemPrune(system);
  registerSystemBoot(system);
  registerEvents(system);
}
