// The network verbs (`tsrun network ...`), registered as one group (wired into index.ts).
import type { Command } from 'commander';
import { registerNetworkConnect } from './network-connect.js';
import { registerNetworkCreate } from './network-create.js';
import { registerNetworkInspect } from './network-inspect.js';
import { registerNetworkLs } from './network-ls.js';
import { registerNetworkPrune } from './network-prune.js';
import { registerNetworkRm } from './network-rm.js';

export function registerNetworkVerbs(program: Command): void {
  const network = program.command('network').description('manage networks: bridges whose containers reach each other by name');
  registerNetworkCreate(network);
  registerNetworkLs(network);
  registerNetworkInspect(network);
  registerNetworkRm(network);
  registerNetworkPrune(network);
  registerNetworkConnect(network);
}
