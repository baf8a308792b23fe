// The container verbs, registered as one group (wired into index.ts).
import type { Command } from 'commander';
import { registerCommit } from './commit.js';
import { registerContainerCleanup } from './container-cleanup.js';
import { registerInfo, registerVersion } from './info.js';
import { registerContainerPrune } from './container-prune.js';
import { registerAttach } from './attach.js';
import { registerCreate } from './create.js';
import { registerExec } from './exec.js';
import { registerInspect } from './inspect.js';
import { registerKill } from './kill.js';
import { registerLogs } from './logs.js';
import { registerPause } from './pause.js';
import { registerPort } from './port.js';
import { registerPs } from './ps.js';
import { registerRename } from './rename.js';
import { registerRestart } from './restart.js';
import { registerRm } from './rm.js';
import { registerRun } from './run.js';
import { registerStart } from './start.js';
import { registerStats } from './stats.js';
import { registerStop } from './stop.js';
import { registerTop } from './top.js';
import { registerUnpause } from './unpause.js';
import { registerUpdate } from './update.js';
import { registerWait } from './wait.js';

export function registerContainerVerbs(program: Command): void {
  // Containers.
  registerRun(program);
  registerCreate(program);
  registerStart(program);
  registerAttach(program);
  registerPs(program);
  registerLogs(program);
  registerExec(program);
  registerStop(program);
  registerRestart(program);
  registerKill(program);
  registerRm(program);
  registerInspect(program);
  registerWait(program);
  registerTop(program);
  registerRename(program);
  registerStats(program);
  registerPause(program);
  registerUnpause(program);
  registerUpdate(program);
  registerCommit(program);
  // `tsrun container VERB` as `docker container VERB`.
  const container = program.command('container').description('manage containers');
  for (const register of [registerRun, registerCreate, registerStart, registerAttach, registerLogs, registerExec, registerStop, registerRestart,
    registerKill, registerWait, registerTop, registerRename, registerStats, registerPause, registerUnpause, registerUpdate, registerPort, registerCommit]) register(container);
  registerPs(container, 'ls');
  registerRm(container, 'rm');
  registerInspect(container, 'inspect', 'container');
  registerContainerPrune(container);
  registerContainerCleanup(container);
  registerVersion(program);
  registerInfo(program);
}
