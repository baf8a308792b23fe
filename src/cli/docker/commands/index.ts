// The table of tsrun's verbs; each lives in its own file.
import type { Command } from 'commander';
import { registerImageVerbs } from './image-verbs.js';
import { registerLogin } from './login.js';
import { registerLogout } from './logout.js';

export function registerDockerCommands(program: Command): void {
  // Container verbs: container-verbs.ts (wired in once the runtime lands).
  // Images and registries (registered below by their own files).
  registerImageVerbs(program);
  registerLogin(program);
  registerLogout(program);
  void program;
}
