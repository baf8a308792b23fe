// The table of tsrun's verbs; each lives in its own file.
import type { Command } from 'commander';
import { registerContainerVerbs } from './container-verbs.js';
import { registerImageVerbs } from './image-verbs.js';
import { registerLogin } from './login.js';
import { registerLogout } from './logout.js';
import { registerSystemVerbs } from './system-verbs.js';
import { registerPodVerbs } from './pod-verbs.js';
import { registerNetworkVerbs } from './network-verbs.js';
import { registerVolumeVerbs } from './volume-verbs.js';
import { registerFsVerbs } from './fs-verbs.js';

export function registerDockerCommands(program: Command): void {
  registerContainerVerbs(program);
  registerImageVerbs(program);
  registerLogin(program);
  registerLogout(program);
  registerSystemVerbs(program);
  registerPodVerbs(program);
  registerNetworkVerbs(program);
  registerVolumeVerbs(program);
  registerFsVerbs(program);
}
