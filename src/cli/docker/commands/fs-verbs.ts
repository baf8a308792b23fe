// The container filesystem verbs: cp, diff, export, also as `tsrun container cp|diff|export`.
import type { Command } from 'commander';
import { registerCp } from './cp.js';
import { registerDiff } from './diff.js';
import { registerExport } from './export.js';

export function registerFsVerbs(program: Command): void {
  // The `container` group is made by container-verbs.ts; made here only if it is not there.
  const container = program.commands.find((c) => c.name() === 'container') ?? program.command('container').description('manage containers');
  for (const parent of [program, container]) {
    registerCp(parent);
    registerDiff(parent);
    registerExport(parent);
  }
}
