// Containers on disk, without a daemon:
//   <root>/containers/<id>/record.json   what was asked (image, command, options), written atomically
//   <root>/containers/<id>/bundle/       the OCI bundle handed to the launcher
//   <root>/containers/<id>/{upper,work,rootfs}  the overlay's writable layer and mount point
//   <root>/containers/<id>/container.log JSON lines written by the monitor
//   <root>/containers/names/<name>       a symlink to the id: claiming a name is one atomic symlink(2)
// A container directory appears by rename from a temp name, so a crash leaves
// either nothing or a whole container; a name whose target is gone is free again.
import { randomHex } from '../util/random.js';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RecordDirs } from './record-dirs.js';
import { layout, type EngineContext } from './context.js';

export interface ContainerState {
  status: 'created' | 'running' | 'exited';
  pid?: number;
  exitCode?: number;
  oomKilled?: boolean;
  /** Running but frozen (pause); only set on the live state, never recorded. */
  paused?: boolean;
  /**
   * Exited, and its restart policy's backoff is being waited out before the next start
   * (Docker's "restarting"); only set on the live state, never recorded.
   */
  restarting?: boolean;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  /** This run's `die` event is in the events log: the exit hook, stop and rm -f all see the exit, the first records it. */
  dieRecorded?: boolean;
}

export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  maximumRetryCount: number;
}

/** A volume or bind mount of a container, as inspect's Mounts shows it. */
export interface ContainerMount {
  type: 'volume' | 'bind';
  /** Volume only: its name (a 64-hex name for an anonymous volume). */
  name?: string;
  /** Host path: the bind's source, or the volume's data directory. */
  source: string;
  destination: string;
  /** The mode text given with -v ("ro", "rw,nocopy"), else "". */
  mode: string;
  rw: boolean;
  /** Bind only. */
  propagation?: string;
  /** Volume only: created for this container (-v /path, --mount without source, the image's VOLUME); `rm -v` and --rm remove it. */
  anonymous?: boolean;
  /** Volume with mount options only: the image's content is still to be copied in, on the first start, once mounted. */
  copyUpPending?: boolean;
  /** Volume only: its driver when not `local` (a volume plugin's name), for inspect. */
  driver?: string;
  /** A plugin's volume only: the path its Mount returned at the latest start (inspect's Source, as Docker shows it). */
  pluginPath?: string;
}

export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  /** The image as the user named it, and its id (config digest). */
  image: string;
  imageId: string;
  /** argv[0] and the rest, as Docker shows Path and Args. */
  path: string;
  args: string[];
  config: {
    env: string[];
    workingDir: string;
    user: string;
    tty: boolean;
    openStdin: boolean;
    /**
     * Docker's StdinOnce (`run -i` without -d, `create -i`): the first attached client
     * whose stdin ends (EOF, detach, gone) closes the container's stdin. Absent in older records.
     */
    stdinOnce?: boolean;
    stopSignal: string;
    stopTimeout: number;
    labels: Record<string, string>;
    hostname: string;
    entrypoint: string[] | null;
    cmd: string[] | null;
  };
  hostConfig: {
    autoRemove: boolean;
    restartPolicy: RestartPolicy;
    readonlyRootfs: boolean;
    networkMode: string;
    binds: string[];
    /** --volumes-from as given (absent in older records). */
    volumesFrom?: string[];
    init: boolean;
    /** 'tsrun' for our own launcher, else the path of an OCI runtime binary (runc, crun). */
    runtime: string;
  };
  /** Layer trees for the overlay, top layer first. */
  lowerDirs: string[];
  /** Last state recorded by tsrun (the live truth comes from the launcher). */
  state: ContainerState;
  restartCount: number;
  /** Restarts in a row that came after less than 10 s of running (for the backoff). */
  quickRestarts?: number;
  /** Set by stop and kill, cleared by start: no restart policy restarts a container the user stopped. */
  manuallyStopped?: boolean;
  /** Set by restart between its stop and its start: the exit in between is neither --rm's nor a policy's to act on. */
  restarting?: boolean;
  /**
   * Written (with the new restartCount) when a restart policy's backoff begins, removed when it
   * ends or stop/rm call it off. It means "restarting" only while the waiting process holds the
   * backoff lock (restart-backoff.ts), so a waiter killed with -9 leaves a plain exited container.
   */
  restartBackoff?: { delayMs: number; restartAt: string };
  /** The pod (id) whose namespaces and cgroup the container joined (--pod). */
  pod?: string;
  /** Its volumes and bind mounts (absent in records written before volumes existed). */
  mounts?: ContainerMount[];
}

export class ContainerStore extends RecordDirs<ContainerRecord> {
  constructor(ctx: EngineContext) {
    super(
      layout(ctx).containers,
      'container',
      (name, owner) =>
        `the container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }

  /**
   * A container's files. Its directory is also its OCI bundle (config.json beside rootfs/) and
   * holds the hostname, hosts and resolv.conf it mounts: each directory more costs a mkdir at
   * create and a rmdir at removal (~0.25 ms on a disk mounted with discard). Containers made
   * before this layout keep theirs: a bundle/ and an etc/ subdirectory.
   */
  paths(id: string) {
    const dir = this.containerDir(id);
    const nested = this.hasNestedLayout(dir);
    return {
      dir,
      record: join(dir, 'record.json'),
      bundle: nested ? join(dir, 'bundle') : dir,
      rootfs: join(dir, 'rootfs'),
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      log: join(dir, 'container.log'),
      etc: nested ? join(dir, 'etc') : dir,
    };
  }

  private readonly nestedLayouts = new Map<string, boolean>();

  private hasNestedLayout(dir: string): boolean {
    let nested = this.nestedLayouts.get(dir);
    if (nested === undefined) this.nestedLayouts.set(dir, (nested = existsSync(join(dir, 'bundle'))));
    return nested;
  }

  /** Writes a new container directory: filled by `fill` under a temp name, then renamed into place. */
  create(record: ContainerRecord, fill: (tempDir: string) => void): void {
    this.beginCreate(record, fill);
    try {
      this.publishCreated(record.id);
    } catch (err) {
      rmSync(this.creatingDir(record.id), { recursive: true, force: true });
      throw err;
    }
  }
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'mellow', 'nimble', 'proud', 'quiet', 'rapid', 'sharp', 'tidy', 'vivid', 'witty', 'zesty', 'bold', 'crisp'];
const NOUNS = ['otter', 'falcon', 'maple', 'harbor', 'comet', 'lynx', 'cedar', 'quartz', 'heron', 'willow', 'badger', 'ember', 'fjord', 'glacier', 'meadow', 'nebula', 'orchid', 'pebble', 'raven', 'summit'];

export function randomName(): string {
  const b = Buffer.from(randomHex(3), 'hex');
  return `${ADJECTIVES[b[0]! % ADJECTIVES.length]}_${NOUNS[b[1]! % NOUNS.length]}${b[2]! % 100}`;
}
