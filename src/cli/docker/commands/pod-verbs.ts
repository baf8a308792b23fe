// The pod verbs (`tsrun pod ...`), `tsrun port` and `tsrun system prune`, registered as one group (wired into index.ts).
import type { Command } from 'commander';
import { registerPodCreate } from './pod-create.js';
import { registerPodInspect } from './pod-inspect.js';
import { registerPodKill } from './pod-kill.js';
import { registerPodLogs } from './pod-logs.js';
import { registerPodPrune } from './pod-prune.js';
import { registerPodPs } from './pod-ps.js';
import { registerPodRestart } from './pod-restart.js';
import { registerPodRm } from './pod-rm.js';
import { registerPodStart } from './pod-start.js';
import { registerPodStop } from './pod-stop.js';
import { registerPodTop } from './pod-top.js';
import { registerPort } from './port.js';

export function registerPodVerbs(program: Command): void {
  const pod = program.command('pod').description('manage pods: containers sharing network, IPC and UTS namespaces');
  registerPodCreate(pod);
  registerPodPs(pod);
  registerPodInspect(pod);
  registerPodStart(pod);
  registerPodStop(pod);
  registerPodKill(pod);
  registerPodRestart(pod);
  registerPodRm(pod);
  registerPodTop(pod);
  registerPodLogs(pod);
  registerPodPrune(pod);
  if (!program.commands.some((c) => c.name() === 'port')) registerPort(program);
}
