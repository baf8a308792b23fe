// rkt's daemonless pod lifecycle on disk (rkt Documentation/devel/pod-lifecycle.md):
//   <root>/rkt/pods/<phase>/<uuid>/   phase = embryo | prepare | prepared | run | exited-garbage | garbage
// The directory a pod sits in is its phase; it moves between phases by one
// rename(2), so a kill -9 at any point leaves it whole in exactly one phase.
// Each pod dir holds a `lock` file: a process working on the pod (preparing it,
// starting its apps, deleting it) holds an exclusive flock(2) on it. The open
// file description follows the directory through renames, and the kernel drops
// the lock when its holder dies, so a free lock on a pod in embryo/ or prepare/
// means its preparer is gone. The loser of a race between two renames sees
// ENOENT and ignores it, as rkt does.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../../errors.js';
import { ensureDir } from '../../util/fs.js';
import { FileLock } from '../../util/lock.js';
import { newPodUuid, isPodUuid, matchUuidPrefix } from './uuid.js';

export const PHASES = ['embryo', 'prepare', 'prepared', 'run', 'exited-garbage', 'garbage'] as const;
export type Phase = (typeof PHASES)[number];

export interface PodLocation {
  uuid: string;
  phase: Phase;
  dir: string;
}

export class PodDirs {
  constructor(readonly base: string) {}

  phaseDir(phase: Phase): string {
    return join(this.base, phase);
  }

  podDir(phase: Phase, uuid: string): string {
    return join(this.base, phase, uuid);
  }

  lockPath(loc: { phase: Phase; uuid: string }): string {
    return join(this.podDir(loc.phase, loc.uuid), 'lock');
  }

  /** A new pod in embryo/, its lock held by the caller (rkt's first step: the UUID is reserved). */
  createEmbryo(): { loc: PodLocation; lock: FileLock } {
    ensureDir(this.phaseDir('embryo'));
    for (let attempt = 0; attempt < 3; attempt++) {
      const uuid = newPodUuid();
      if (this.find(uuid)) continue;
      const dir = this.podDir('embryo', uuid);
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw new StoreError(`cannot create the pod directory ${dir}`, { cause: err });
      }
      const lock = FileLock.tryAcquire(join(dir, 'lock'));
      if (!lock) throw new StoreError(`cannot lock the new pod directory ${dir}`);
      return { loc: { uuid, phase: 'embryo', dir }, lock };
    }
    throw new StoreError('cannot allocate a pod UUID');
  }

  /**
   * Moves a pod from one phase to the next with one rename. Returns the new
   * location, or undefined when the pod was no longer in `from` (another
   * process moved or removed it first: the loser ignores ENOENT).
   */
  move(loc: PodLocation, to: Phase): PodLocation | undefined {
    ensureDir(this.phaseDir(to));
    const dest = this.podDir(to, loc.uuid);
    try {
      renameSync(loc.dir, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StoreError(`cannot move pod ${loc.uuid} from ${loc.phase} to ${to}`, { cause: err });
    }
    // The grace period of gc starts at the move: stamp it on the directory, as rkt does.
    const now = new Date();
    try {
      utimesSync(dest, now, now);
    } catch {
      /* removed meanwhile */
    }
    return { uuid: loc.uuid, phase: to, dir: dest };
  }

  /** Where the pod is now (phases are checked in lifecycle order). */
  find(uuid: string): PodLocation | undefined {
    for (const phase of PHASES) {
      const dir = this.podDir(phase, uuid);
      if (existsSync(dir)) return { uuid, phase, dir };
    }
    return undefined;
  }

  /** Every pod in every phase. A pod caught mid-rename may show once or not at all, never half. */
  list(): PodLocation[] {
    const seen = new Set<string>();
    const out: PodLocation[] = [];
    for (const phase of PHASES) {
      let names: string[] = [];
      try {
        names = readdirSync(this.phaseDir(phase));
      } catch {
        continue;
      }
      for (const uuid of names) {
        if (!isPodUuid(uuid) || seen.has(uuid)) continue;
        seen.add(uuid);
        out.push({ uuid, phase, dir: this.podDir(phase, uuid) });
      }
    }
    return out;
  }

  /** A pod by UUID or unique prefix. */
  resolve(prefix: string): PodLocation {
    const uuid = matchUuidPrefix(this.list().map((l) => l.uuid), prefix);
    const loc = this.find(uuid);
    if (!loc) return matchUuidPrefix([], uuid) as never; // vanished meanwhile: NotFoundError
    return loc;
  }

  /** True while some process holds the pod's lock. */
  isLocked(loc: PodLocation): boolean {
    return FileLock.isHeld(join(loc.dir, 'lock'));
  }

  tryLock(loc: PodLocation): FileLock | undefined {
    try {
      return FileLock.tryAcquire(join(loc.dir, 'lock'));
    } catch {
      return undefined; // the directory moved away
    }
  }

  /** When the pod entered its current phase (the dir's mtime, stamped by move()). */
  enteredAt(loc: PodLocation): number {
    try {
      return statSync(loc.dir).mtimeMs;
    } catch {
      return Date.now();
    }
  }

  /** Deletes the directory of a pod in garbage/ or exited-garbage/. */
  removeDir(loc: PodLocation): void {
    rmSync(loc.dir, { recursive: true, force: true });
  }
}
