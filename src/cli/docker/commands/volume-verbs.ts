// The volume verbs (`tsrun volume ...`), registered as one group (wired into index.ts).
import type { Command } from 'commander';
import { registerVolumeCreate } from './volume-create.js';
import { registerVolumeInspect } from './volume-inspect.js';
import { registerVolumeLs } from './volume-ls.js';
import { registerVolumePrune } from './volume-prune.js';
import { registerVolumeRm } from './volume-rm.js';

export function registerVolumeVerbs(program: Command): void {
  const volume = program.command('volume').description('manage volumes: directories under --root that outlive containers');
  registerVolumeCreate(volume);
  registerVolumeLs(volume);
  registerVolumeInspect(volume);
  registerVolumeRm(volume);
  registerVolumePrune(volume);
}
