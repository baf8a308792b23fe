// Built into dist/tsrun.cjs (hack/cli-entry.cjs) and run before the CLI's bundle loads: a command line that will start a container process starts warming the kernel's cgroup
// migration lock (cgroup/lock-warmer.ts) at once, so that the lock's grace period (~8 ms here)
// passes while Node reads, compiles and sets up the bundle. Started from the bundle, it was still
// running when the container's cgroups were made, and those mkdirs waited for it (the warming
// write holds cgroup_mutex through the grace period). This module only decides; `warm` (the
// entry's call into the native addon) does it, so that nothing else loads before the bundle.
import { firstVerb } from '../lazy-verbs.js';

/** `args`: the command line after node and the script. */
export function warmBeforeLoad(args: string[], warm: () => void): void {
  if (['run', 'start', 'restart', 'exec'].includes(firstVerb(args, ['--root', '--runroot']) ?? '')) warm();
}
