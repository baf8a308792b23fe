// Picks the launcher for a container: our own C helper, or an OCI runtime
// binary (runc, crun, a path) standing in for it through the same interface.
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { Launcher, OciBinaryLauncher, type ExitStatus } from '../runtime/index.js';
import { layout, type EngineContext } from './context.js';

export type AnyLauncher = Launcher | OciBinaryLauncher;
export type { ExitStatus };

const KNOWN: Record<string, string[]> = {
  runc: ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'],
  crun: ['/usr/bin/crun', '/usr/local/bin/crun'],
};

export function launcherFor(ctx: EngineContext, runtime: string): AnyLauncher {
  const stateRoot = layout(ctx).runtime;
  if (runtime === 'tsrun' || runtime === '') return new Launcher(stateRoot);
  // The runtime's own --root, named after what the container asked for.
  const runtimeRoot = `${stateRoot}-${runtime.replace(/[^a-zA-Z0-9]/g, '_')}`;
  if (runtime.startsWith('/')) {
    if (!existsSync(runtime)) throw new UsageError(`OCI runtime ${runtime} does not exist`);
    return new OciBinaryLauncher(runtime, runtimeRoot);
  }
  const path = KNOWN[runtime]?.find((p) => existsSync(p));
  if (!path) {
    const why = KNOWN[runtime] ? `${runtime} is not installed (looked in ${KNOWN[runtime]!.join(', ')})` : `unknown OCI runtime "${runtime}"`;
    throw new UsageError(`${why}: use tsrun, runc, crun or an absolute path to a runtime binary`);
  }
  return new OciBinaryLauncher(path, runtimeRoot);
}
