// Loaded by dist/tsrkt.cjs before the CLI's bundle: a run, run-prepared or enter starts warming
// the cgroup migration lock at once (see ../docker/early-warm.ts for why).
import { warmUpForContainerStart } from '../../engine/start-warmup.js';
import { asksVerbHelp, splitGlobalOptions } from './global-flags.js';

/** `args`: the command line after node and the script. */
export function warmBeforeLoad(args: string[]): void {
  const rest = splitGlobalOptions(args).rest;
  if (!asksVerbHelp(rest) && ['run', 'run-prepared', 'enter'].includes(rest[0] ?? '')) warmUpForContainerStart();
}
