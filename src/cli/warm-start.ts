// The front ends call this with the verb on their command line as soon as they have it.
import { warmUpForContainerStart } from '../engine/start-warmup.js';

export function warmIfStarting(verb: string | undefined, startingVerbs: readonly string[]): void {
  if (verb !== undefined && startingVerbs.includes(verb)) warmUpForContainerStart();
}
