// Work a command that will start a container process can begin as soon as it knows it
// will: warming the kernel's cgroup migration lock (see cgroup/lock-warmer.ts) so its
// grace period passes while Node loads the rest and prepares the container.
import { warmMigrationLock } from '../cgroup/index.js';

export function warmUpForContainerStart(): void {
  // Only root moves processes between cgroups; anyone else would just fail to write.
  if (process.getuid?.() === 0) warmMigrationLock();
}
