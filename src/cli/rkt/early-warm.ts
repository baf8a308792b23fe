// Built into dist/tsrkt.cjs and run before the CLI's bundle loads: a run, run-prepared or enter starts warming
// the cgroup migration lock at once (see ../docker/early-warm.ts for why).
import { asksVerbHelp, splitGlobalOptions } from './global-flags.js';

/** `args`: the command line after node and the script; `warm`: the entry's call into the native addon. */
export function warmBeforeLoad(args: string[], warm: () => void): void {
  const rest = splitGlobalOptions(args).rest;
  if (!asksVerbHelp(rest) && ['run', 'run-prepared', 'enter'].includes(rest[0] ?? '')) warm();
}
