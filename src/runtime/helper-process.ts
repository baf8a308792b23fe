// The helper process: started with a plan on fd 3 and read through its status stream on fd 4
// (PLAN.md). Both launchers start their monitors through it: ours, and the one that keeps the
// container of an external OCI runtime (oci-binary.ts).
import { closeSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LaunchError } from '../errors.js';
import { native, type BackgroundHandle } from '../native/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { encodePlan, type MonitorConfig, type PlanStep } from './plan.js';
import { StatusDecoder, type StatusMessage } from './report.js';
import type { LaunchOptions } from './launcher.js';
import { processStartTime, type ContainerDir, type StateRecord } from './state-dir.js';

/** How long a monitor is waited for to finish writing before its dir goes. */
const MONITOR_GONE_TIMEOUT_MS = 10_000;
const POLL_MS = 10;

/** Reads the helper's status messages as they arrive (on a native thread); undefined once the helper closed its end. */
export class StatusReader {
  private queue: StatusMessage[] = [];
  private waiter: ((m: StatusMessage | undefined) => void) | undefined;
  private ended = false;
  private readonly watch: BackgroundHandle;

  constructor(fd: number) {
    const dec = new StatusDecoder();
    this.watch = native().watchFd(fd, (chunk) => {
      if (this.ended) return;
      if (chunk) {
        for (const m of dec.push(chunk)) this.deliver(m);
      } else {
        this.end();
      }
    });
  }

  private end(): void {
    this.ended = true;
    this.deliver(undefined);
  }

  private deliver(m: StatusMessage | undefined): void {
    if (m) this.queue.push(m);
    if (this.waiter && (this.queue.length || this.ended)) {
      const w = this.waiter;
      this.waiter = undefined;
      w(this.queue.shift());
    }
  }

  next(): Promise<StatusMessage | undefined> {
    if (this.queue.length || this.ended) return Promise.resolve(this.queue.shift());
    return new Promise((res) => (this.waiter = res));
  }

  close(): void {
    if (this.ended) return;
    native().unwatchFd(this.watch);
    this.end();
  }
}

export interface Spawned {
  reader: StatusReader;
  exited: Promise<number | null>;
  stopForwarding: () => void;
}

/**
 * What every monitor of ours is told, whichever launcher made its container: its state files
 * in `dir`, the log, stdin, the exit command and, attached, the caller's part. The launcher adds
 * the rest (detach, terminal...). Takes the caller's lock (exit handoff) when there is one.
 */
export function monitorBasics(dir: ContainerDir, opts: LaunchOptions): Omit<MonitorConfig, 'detach' | 'terminal'> {
  return {
    lockFile: dir.lockFile,
    exitFile: dir.exitFile,
    pidFile: dir.pidFile,
    startedFile: dir.startedFile,
    logFile: opts.logPath,
    stdin: !!opts.stdin,
    exitCommand: opts.exitCommand,
    // Taken before the monitor exists: from then on the exit is ours until we let go.
    callerLock: !opts.detach && opts.exitCommand && opts.exitHandoff ? opts.exitHandoff.hold(join(dir.dir, 'caller.lock')) : undefined,
    newSession: !opts.detach && opts.ownSession,
    // The caller holds the status pipe until the monitor ends, which it watches.
    callerStdio: !opts.detach && opts.stdioEndsWithCaller,
  };
}

/** The pids of the monitor's "created" report, into the container's state record (and --pid-file). */
export function recordCreated(dir: ContainerDir, rec: StateRecord, created: { pid: number; monitorPid: number }, opts: LaunchOptions): void {
  rec.pid = created.pid;
  rec.monitorPid = created.monitorPid;
  rec.pidStartTime = processStartTime(created.pid);
  rec.monitorStartTime = processStartTime(created.monitorPid);
  dir.write(rec);
  if (opts.pidFile) writeFileAtomic(opts.pidFile, `${created.pid}`);
}

/** An attached container's end: its monitor is gone, and with it our reading and forwarding. */
export async function monitorEnded(spawned: Spawned): Promise<void> {
  await spawned.exited;
  spawned.reader.close();
  spawned.stopForwarding();
}

/** Until the container's monitor has let go of its lock (it finished writing), for at most 10 s: then its dir can go. */
export async function monitorGone(dir: ContainerDir): Promise<void> {
  const deadline = Date.now() + MONITOR_GONE_TIMEOUT_MS;
  while (dir.monitorAlive() && Date.now() < deadline) await sleep(POLL_MS);
}

/** After a failed create: stop reading the helper and wait for it, and for a detached monitor to finish writing, so its dir can go. */
export async function abandonHelper(spawned: Spawned, dir: ContainerDir): Promise<void> {
  spawned.reader.close();
  await spawned.exited;
  spawned.stopForwarding();
  await monitorGone(dir);
}

/** Starts the helper with the plan on fd 3 and the status stream on fd 4; `planDir` holds the plan file for a moment. */
export function spawnHelper(helper: string, steps: PlanStep[], opts: LaunchOptions, planDir: string): Spawned {
  const background = opts.detach || opts.noMonitor;
  const own = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
  // The plan is a file the helper reads to EOF at once: through a pipe it
  // would wait for our event loop to get round to closing it.
  const planPath = join(planDir, `.plan-${process.pid}`);
  writeFileSync(planPath, encodePlan(steps), { mode: 0o600 });
  const planFd = openSync(planPath, 'r');
  unlinkSync(planPath); // not rmSync: that loads Node's rimraf module (~0.5 ms)
  const stdio: Array<'inherit' | 'ignore' | number> = background && !opts.inheritStdio ? ['ignore', 'ignore', 'ignore'] : own;
  const [statusRead, statusWrite] = native().makePipe();
  // The helper's fds: 0-2 stdio, 3 the plan, 4 the status pipe, 5.. preserved fds (ours from 3).
  const fds = [...stdio.map((s, i) => (typeof s === 'number' ? s : s === 'inherit' ? i : -1)), planFd, statusWrite];
  for (let i = 0; i < (opts.preserveFds ?? 0); i++) fds.push(3 + i);
  let pid: number;
  try {
    // Not child_process: see src/native/spawn.c.
    pid = native().spawnProcess(helper, [helper, 'launch'], fds);
  } catch (err) {
    closeSync(statusRead);
    throw new LaunchError(`cannot start the helper ${helper}`, 'spawn', { cause: err });
  } finally {
    closeSync(planFd);
    closeSync(statusWrite);
  }
  let waiting: BackgroundHandle | undefined;
  let reaped = false; // after that the pid may be another process's: signal it no more
  const exited = new Promise<number | null>((res) => {
    waiting = native().waitPid(pid, (code) => {
      reaped = true;
      res(code);
    });
  });
  const reader = new StatusReader(statusRead);
  let stopForwarding = () => {};
  if (background) {
    // A detached monitor outlives us; without a monitor the helper leaves by itself
    // and must stay referenced until it has reported.
    if (!opts.noMonitor) native().refHandle(waiting!, false);
  } else if (opts.forwardSignals !== false) {
    // Signals sent to us reach the container through its monitor. In our session, signals
    // a terminal sends to the foreground group reach the monitor directly, so those are not
    // forwarded when stdin is a terminal; in its own session, only we get them.
    const fromTerminal = native().isatty(0) && !opts.ownSession ? ['SIGINT', 'SIGQUIT'] : [];
    const terminal = opts.forwardSignals === 'terminal';
    const forwarded = terminal ? ['SIGINT', 'SIGQUIT', 'SIGWINCH'] : ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
    const handlers = forwarded.map((sig) => {
      const h = () => {
        if (fromTerminal.includes(sig) || reaped) return;
        try {
          process.kill(pid, sig);
        } catch {
          // the helper is already gone
        }
        // A terminal's Ctrl-C or Ctrl-\ ends us too, by that signal, as when the monitor shared
        // our process group: we do not wait for the container's answer.
        if (terminal && sig !== 'SIGWINCH') {
          stopForwarding();
          process.kill(process.pid, sig);
        }
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
    stopForwarding = () => handlers.forEach(([sig, h]) => process.off(sig, h));
  }
  return { reader, exited, stopForwarding };
}
