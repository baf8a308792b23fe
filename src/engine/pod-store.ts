// Pods on disk, without a daemon (the scheme of record-dirs.ts, shared with containers):
//   <root>/pods/<id>/record.json   the pod's settings, written atomically
//   <root>/pods/names/<name>       a symlink to the id: claiming a name is one atomic symlink(2)
//   <root>/pods/.creating-<id>/    a pod being created; renamed into place once complete
// Members are not listed here: a container belongs to a pod when its own record
// says `pod: <id>`, so a crash can never leave the two lists disagreeing.
import type { LinuxResources } from '../oci/runtime.js';
import type { PortMapping } from '../network/index.js';
import { RecordDirs, validateRecordName } from './record-dirs.js';
import { layout, type EngineContext } from './context.js';

/** Namespaces a pod holds for its members (the PID namespace needs a live init, so it is never shared). */
export type PodShare = 'net' | 'ipc' | 'uts';

export type PodNetworkMode = 'bridge' | 'none' | 'host';

export interface PodRecord {
  id: string;
  name: string;
  created: string;
  hostname: string;
  share: PodShare[];
  networkMode: PodNetworkMode;
  /** User networks (by name) the pod's namespace is on, first one first; 'bridge' names the default network. Absent: the default network only. */
  networks?: string[];
  /** Published ports with their host ports resolved at creation (kept when the netns is rebuilt). */
  ports: PortMapping[];
  labels: Record<string, string>;
  /** Podman's: 'stop' ends the pod once its last member exits; 'continue' keeps its namespaces. */
  exitPolicy: 'continue' | 'stop';
  /** cgroup that holds the members' cgroups, e.g. /tsrun/pods/<id>. */
  cgroupParent: string;
  /** Limits of the pod's cgroup, shared by all its members (pod create --memory, --cpus...). */
  resources?: LinuxResources;
  /** The command line that created it, as podman records CreateCommand. */
  createCommand?: string[];
}

export class PodStore extends RecordDirs<PodRecord> {
  constructor(ctx: EngineContext) {
    super(layout(ctx).pods, 'pod', (name, owner) => `the pod name "${name}" is already in use by pod ${owner}: remove that pod or choose another name`);
  }

  static validateName(name: string): void {
    validateRecordName('pod', name);
  }
}
