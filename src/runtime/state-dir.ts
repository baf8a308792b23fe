// The per-container state directory of the launcher (<runroot>/runtime/<id>/),
// in one place. Liveness is the lock file: the monitor holds an flock on it for
// its whole life, so a free lock means the container is stopped (rkt's model).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, StoreError, UsageError } from '../errors.js';
import { FileLock } from '../util/lock.js';
import { writeJsonAtomic } from '../util/fs.js';
import type { ContainerStatus, State } from '../oci/runtime.js';
import type { ExitFile } from './report.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Container ids become directory names: no "/", no "..", a short safe charset. */
export function validateContainerId(id: string): void {
  if (!ID.test(id) || id.includes('..')) {
    throw new UsageError(
      `invalid container id "${id}": use 1-128 letters, digits, "_", "." or "-", starting with a letter or digit (no "/" or "..")`,
    );
  }
}

/** What the launcher records at create time (state.json). */
export interface StateRecord {
  ociVersion: string;
  id: string;
  bundle: string;
  pid?: number;
  monitorPid?: number;
  /** Start time of the container process (field 22 of /proc/<pid>/stat), to never signal a recycled pid. */
  pidStartTime?: string;
  /** The monitor's start time, likewise: after the exit its process is the exit command (the monitor execs it). */
  monitorStartTime?: string;
  created: string;
  cgroupsPath?: string;
  annotations?: Record<string, string>;
  /** The resolved root filesystem. */
  rootfs?: string;
  /** Created without a monitor (OCI CLI mode): liveness is the process itself. */
  noMonitor?: boolean;
}

export class ContainerDir {
  constructor(readonly root: string, readonly id: string) {
    validateContainerId(id);
  }

  get dir(): string {
    return join(this.root, this.id);
  }
  get stateFile(): string {
    return join(this.dir, 'state.json');
  }
  get lockFile(): string {
    return join(this.dir, 'lock');
  }
  get exitFile(): string {
    return join(this.dir, 'exit.json');
  }
  get pidFile(): string {
    return join(this.dir, 'pid');
  }
  get startedFile(): string {
    return join(this.dir, 'started');
  }
  get execFifo(): string {
    return join(this.dir, 'exec.fifo');
  }
  /** The monitor's attach socket (when it was asked for one). */
  get attachSocket(): string {
    return join(this.dir, 'attach');
  }
  /** Present while the container's cgroup is frozen (pause). */
  get pausedFile(): string {
    return join(this.dir, 'paused');
  }

  exists(): boolean {
    return existsSync(this.stateFile);
  }

  read(): StateRecord {
    let text: string;
    try {
      text = readFileSync(this.stateFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('container', this.id);
      throw new StoreError(`cannot read ${this.stateFile}`, { cause: err });
    }
    try {
      return JSON.parse(text) as StateRecord;
    } catch (err) {
      throw new StoreError(`corrupt state file ${this.stateFile}`, { cause: err });
    }
  }

  write(rec: StateRecord): void {
    writeJsonAtomic(this.stateFile, rec);
  }

  monitorAlive(): boolean {
    return FileLock.isHeld(this.lockFile);
  }

  /**
   * Whether the process that was the container's monitor still runs. After the exit it is the
   * monitor's exit command (the monitor execs it, letting go of the lock), which records the exit and acts on it.
   */
  monitorProcessRuns(): boolean {
    try {
      const rec = this.read();
      return rec.monitorPid !== undefined && rec.monitorStartTime !== undefined && isLiveProcess(rec.monitorPid, rec.monitorStartTime);
    } catch {
      return false;
    }
  }

  readExit(): ExitFile | undefined {
    try {
      return JSON.parse(readFileSync(this.exitFile, 'utf8')) as ExitFile;
    } catch {
      return undefined;
    }
  }

  status(rec: StateRecord): ContainerStatus {
    if (existsSync(this.exitFile)) return 'stopped';
    if (rec.noMonitor) {
      if (rec.pid === undefined) return 'creating';
      if (rec.pidStartTime === undefined || !isLiveProcess(rec.pid, rec.pidStartTime)) return 'stopped';
    } else if (!this.monitorAlive()) {
      // The monitor is gone. Its container normally went with it (die-with-monitor), but a PID 1
      // that changed its user (gosu, su-exec) lost that signal: while it lives, it is not stopped.
      if (rec.pid === undefined || rec.pidStartTime === undefined || !isLiveProcess(rec.pid, rec.pidStartTime)) return 'stopped';
    } else if (rec.pid === undefined) {
      return 'creating';
    }
    if (existsSync(this.execFifo)) return 'created';
    if (existsSync(this.pausedFile)) return 'paused';
    return 'running';
  }

  state(): State {
    const rec = this.read();
    const status = this.status(rec);
    const s: State = { ociVersion: rec.ociVersion, id: rec.id, status, bundle: rec.bundle };
    if (rec.pid !== undefined && status !== 'stopped') s.pid = rec.pid;
    if (rec.annotations) s.annotations = rec.annotations;
    return s;
  }
}

/** The process exists, is not a zombie, and started at startTime (not a recycled pid). */
export function isLiveProcess(pid: number, startTime: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[0] !== 'Z' && rest[0] !== 'X' && rest[19] === startTime;
  } catch {
    return false;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined if the process is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}
