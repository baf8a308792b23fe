// Pure rules of the rkt pod state machine: the state a pod is in from its phase
// directory, its lock and its apps; what `gc` does to each pod at a given time.
// Kept free of I/O so the rules are unit-tested with a fake clock.
import { UsageError } from '../../errors.js';
import type { Phase } from './pod-dirs.js';

/** rkt's states (pkg/pod/pods.go), as `list` and `status` print them. */
export type PodState =
  | 'embryo'
  | 'preparing'
  | 'aborted prepare'
  | 'prepared'
  | 'running'
  | 'exited'
  | 'exited garbage'
  | 'deleting'
  | 'exited deleting'
  | 'garbage';

export interface PodFacts {
  phase: Phase;
  /** Some process holds the pod dir's flock (preparing, starting, deleting). */
  locked: boolean;
  /** Some app's monitor is alive. */
  appRunning: boolean;
  /** A mutable pod (app sandbox) that nobody stopped: it lives without apps. */
  sandboxUp: boolean;
}

export function podState(f: PodFacts): PodState {
  switch (f.phase) {
    case 'embryo':
      return 'embryo';
    case 'prepare':
      return f.locked ? 'preparing' : 'aborted prepare';
    case 'prepared':
      return 'prepared';
    case 'run':
      return f.locked || f.appRunning || f.sandboxUp ? 'running' : 'exited';
    case 'exited-garbage':
      return f.locked ? 'exited deleting' : 'exited garbage';
    case 'garbage':
      return f.locked ? 'deleting' : 'garbage';
  }
}

export interface GcOptions {
  /** Time an exited pod stays in exited-garbage before it is deleted (rkt: 30m). */
  gracePeriodMs: number;
  /** Age after which a prepared pod that never ran is removed (rkt: 24h). */
  expirePreparedMs: number;
  /** Only move exited pods to exited-garbage. */
  markOnly: boolean;
}

export type GcAction =
  /** run/ -> exited-garbage/: starts the grace period. */
  | 'mark'
  /** Delete now: its grace period is over, or it is debris of a crash. */
  | 'sweep'
  /** prepared/ -> garbage/ then delete: prepared too long ago. */
  | 'expire'
  | 'keep';

export interface GcCandidate {
  state: PodState;
  /** When the pod entered its current phase (ms since the epoch). */
  enteredAt: number;
  /** Its lock is held (an embryo whose creator still lives is no debris). */
  locked: boolean;
}

/**
 * What gc does with one pod at `now`. Embryos and aborted prepares whose
 * preparer died are crash debris and go at once; so do pods left in garbage/
 * by an interrupted rm. Pods that a live process holds (preparing, deleting)
 * are never touched.
 */
export function gcAction(pod: GcCandidate, now: number, opts: GcOptions): GcAction {
  switch (pod.state) {
    case 'exited':
      return 'mark';
    case 'exited garbage':
      if (opts.markOnly) return 'keep';
      return now - pod.enteredAt >= opts.gracePeriodMs ? 'sweep' : 'keep';
    case 'prepared':
      if (opts.markOnly) return 'keep';
      return now - pod.enteredAt >= opts.expirePreparedMs ? 'expire' : 'keep';
    case 'aborted prepare':
    case 'garbage':
      return opts.markOnly ? 'keep' : 'sweep';
    case 'embryo':
      // An embryo is only debris once its creator is gone.
      return opts.markOnly || pod.locked ? 'keep' : 'sweep';
    default:
      return 'keep';
  }
}

/** Go-style durations as rkt takes them: "30m", "1h30m", "0s", "24h", "500ms". */
export function parseDuration(value: string, flag: string): number {
  const s = value.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) {
    throw new UsageError(`invalid ${flag} "${value}": use a duration such as 30m, 1h30m, 10s or 0s`);
  }
  return total;
}
