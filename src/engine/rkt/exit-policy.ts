// rkt's exit rules without a daemon. Each app's monitor runs the exit hook
// (`tsrun container cleanup`, i.e. Containers.afterExit) when its app exits;
// afterExit calls this for containers that belong to a pod. For an app of a
// tsrkt pod (immutable, in run/):
// - exit 0: recorded, the other apps keep running (the pod ends when all have exited);
// - non-zero: the pod halts: halt.json records this app and its code (first
//   failure wins, so the apps stopped by the halt never overwrite it), then the
//   other apps get SIGTERM, and SIGKILL after RKT_STOP_TIMEOUT seconds.
// Mutable pods (app sandbox) never halt: their apps are managed one by one.
// The pod stays in run/ once all apps are gone ("exited"); gc moves it on, as rkt.
import type { Containers } from '../containers.js';
import { claimHalt, readMeta } from './pod-files.js';
import { podDirsOf, RKT_APP_LABEL, RKT_UUID_LABEL, RktPods } from './rkt-pods.js';

export async function afterPodMemberExit(containers: Containers, containerId: string): Promise<void> {
  const record = containers.store.get(containerId);
  const uuid = record?.config.labels[RKT_UUID_LABEL];
  const appName = record?.config.labels[RKT_APP_LABEL];
  if (!record || !uuid || !appName) return; // not an rkt app (Podman-style pods have their own rules)
  const loc = podDirsOf(containers.ctx).find(uuid);
  if (!loc || loc.phase !== 'run') return;
  const meta = readMeta(loc.dir);
  if (!meta || meta.mutable) return;
  const state = containers.state(record);
  if (state.status !== 'exited') return;
  const code = state.exitCode ?? 0;
  if (code === 0) return;
  if (!claimHalt(loc.dir, { reason: 'app-failed', app: appName, exitCode: code, at: new Date().toISOString() })) return;
  await new RktPods(containers.ctx, containers).stopApps(loc, meta, false, appName);
}
