// Our own OCI launcher: compiles config.json into a plan, hands it to the C
// helper, and reads back what happened. The helper stays as the container's
// monitor; this class only talks to it through files in the state dir.
import { randomHex } from '../util/random.js';
import {
  closeSync, constants as fsc, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  coolMigrationLock, detectLayout, hostCgroupHierarchies, openCgroup, warmMigrationLock, type CgroupHierarchy, type CgroupManager,
} from '../cgroup/index.js';
import { ConflictError, LaunchError, NotFoundError, StateError, TsrunError } from '../errors.js';
import type { NamespaceType, Process, Spec, State } from '../oci/runtime.js';
import { removeTree } from '../native/index.js';
import { ensureDir, removeFile, writeFileAtomic } from '../util/fs.js';
import { helperPath } from '../util/paths.js';
import { parseSignal } from '../util/signals.js';
import { crashPoint } from '../util/crash-point.js';
import { withDefaultDeviceRules, compileExecPlan, compilePlan, NS_PROC_NAME, parseProcLimits, SETNS_ORDER, type MonitorConfig, type PlanStep } from './plan.js';
import { cachedSeccompProgram } from './seccomp-cache.js';
import { errorForFailure, execFailureExitCode, isExecFailure, type ExitFile, type StepFailure } from './report.js';
import { abandonHelper, monitorBasics, monitorEnded, monitorGone, recordCreated, spawnHelper, type Spawned } from './helper-process.js';
import { hasStartGateHooks, runHooks } from './hooks.js';
import type { ExitHandoff } from './exit-handoff.js';
import { ContainerDir, isLiveProcess, processStartTime, type StateRecord } from './state-dir.js';

export interface ExitStatus {
  exitCode: number /* 128+n for signal n */;
  signal?: string;
  finishedAt: string;
  oomKilled?: boolean;
}

export interface LaunchOptions {
  /** false: stay attached, relay stdio, return the exit status. */
  detach: boolean;
  /** The monitor writes stdout/stderr here as JSON lines {"log","stream","time"} (Docker json-file). */
  logPath?: string;
  /** Keep stdin open (-i). */
  stdin?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  /** The pty's first size, in place of config.json's process.consoleSize (a detached container's client's terminal). */
  consoleSize?: { height: number; width: number };
  /**
   * Run by the monitor after the container exits (absolute path first), e.g. tsrun's cleanup.
   * Attached, it needs exitHandoff, and runs only if the caller let go of it without done().
   */
  exitCommand?: string[];
  /** Attached: the caller's hold on what follows the exit (see ExitHandoff); held from before the monitor starts. */
  exitHandoff?: ExitHandoff;
  /**
   * Attached: the monitor (and so the container) gets a session of its own, as a container of
   * Docker's daemon has: a terminal's Ctrl-C or a kill of the caller's process group reaches
   * the caller only, which forwards each signal it receives (see forwardSignals) once.
   */
  ownSession?: boolean;
  /**
   * Attached: the signals we receive are forwarded to the container through its monitor (default
   * true). 'terminal': only what a terminal sends its foreground group (Ctrl-C, Ctrl-\, a resize),
   * and Ctrl-C and Ctrl-\ then end the caller too (a tty has no signal proxy, as Docker's).
   */
  forwardSignals?: boolean | 'terminal';
  /**
   * Attached: the container's output reaches our stdout/stderr (and our stdin the container) only
   * while we live; once we are killed the monitor closes its copies of them and the output goes
   * to the log only, as a Docker CLI's output ends with it (the monitor sees our end of the status
   * pipe close).
   */
  stdioEndsWithCaller?: boolean;
  /** The monitor serves attach clients on a socket in the state dir (see attachSocket()). */
  attachSocket?: boolean;
  /** Attached only: the helper's stdin/stdout/stderr (default: inherit ours). Tests pass file descriptors. */
  stdio?: Array<'inherit' | 'ignore' | number>;
  /** Non-fatal notes (e.g. cgroup settings the host cannot honour). */
  onWarning?: (message: string) => void;
  /** The container gets our own stdio directly (OCI CLI: the pipes of conmon or a shim); no log, no relay. */
  inheritStdio?: boolean;
  /** Our fds 3..3+n-1 become the container's fds 3.. (OCI --preserve-fds). */
  preserveFds?: number;
  /**
   * No monitor process stays (OCI CLI create / exec -d, like runc): the
   * container is reparented to the caller's subreaper, which reaps it and
   * knows its exit status; tsrun records none.
   */
  noMonitor?: boolean;
  /**
   * The container is killed when its monitor is (kill -9 of the monitor): the engine's own
   * containers, whose exit only the monitor can reap and record. Off for the OCI CLI, whose
   * containers outlive tsrun as runc's do.
   */
  dieWithMonitor?: boolean;
}

/** Where an attached monitor stands towards its caller's terminal and signals (the caller's choice). */
export type AttachedSession = Pick<LaunchOptions, 'ownSession' | 'forwardSignals' | 'stdio' | 'stdioEndsWithCaller'>;

/** The OCI state plus what `runc state` also shows. */
export interface ContainerDescription extends State {
  created: string;
  rootfs?: string;
}

/** The OCI-lifecycle interface both launchers implement (ours and OciBinaryLauncher). */
export interface ContainerLauncher {
  create(id: string, bundle: string, opts: LaunchOptions): Promise<void>;
  start(id: string): Promise<void>;
  run(id: string, bundle: string, opts: LaunchOptions): Promise<ExitStatus | undefined>;
  state(id: string): State;
  exitStatus(id: string): ExitStatus | undefined;
  wait(id: string): Promise<ExitStatus>;
  kill(id: string, signal: string | number, all?: boolean): Promise<void>;
  exec(id: string, process: Process, opts: LaunchOptions): Promise<ExitStatus | undefined>;
  delete(id: string, force?: boolean): Promise<void>;
  list(): State[];
}

const POLL_MS = 10;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

let hostLimits: Map<number, bigint> | undefined | null = null;

/** The caller's hard rlimits, unless it may raise them (CAP_SYS_RESOURCE). */
function callerHardLimits(): Map<number, bigint> | undefined {
  if (hostLimits !== null) return hostLimits;
  const status = readFileSync('/proc/self/status', 'utf8');
  const capEff = BigInt('0x' + (/CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'));
  const CAP_SYS_RESOURCE = 24n;
  hostLimits = (capEff >> CAP_SYS_RESOURCE) & 1n ? undefined : parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  return hostLimits;
}

export function toExitStatus(e: ExitFile, oomKilled?: boolean): ExitStatus {
  const s: ExitStatus = { exitCode: e.exitCode, finishedAt: e.finishedAt };
  if (e.error && isExecFailure(e.error)) s.exitCode = execFailureExitCode(e.error.errno);
  if (e.signal) s.signal = e.signal;
  if (oomKilled) s.oomKilled = true;
  return s;
}

export class Launcher implements ContainerLauncher {
  private readonly helper: string;

  private readonly warn: (message: string) => void;

  constructor(readonly stateRoot: string, opts: { helperPath?: string; onWarning?: (message: string) => void } = {}) {
    this.helper = opts.helperPath ?? helperPath();
    this.warn = opts.onWarning ?? (() => {});
  }

  private dir(id: string): ContainerDir {
    return new ContainerDir(this.stateRoot, id);
  }

  /** Compiled seccomp programs (seccomp-cache.ts); no container id starts with a dot. */
  private seccompCacheDir(): string {
    return join(this.stateRoot, '.seccomp');
  }

  /** The error of a step the helper reports failed. A filter the kernel refused is not loaded from the cache again. */
  private failure(msg: StepFailure): Error {
    if (msg.step === 'seccomp') {
      try {
        removeTree(this.seccompCacheDir());
      } catch {
        // the error below is what matters
      }
    }
    return errorForFailure(msg);
  }

  async create(id: string, bundle: string, opts: LaunchOptions): Promise<void> {
    const { spawned, spec } = await this.createContainer(id, bundle, opts, true);
    spawned.reader.close();
    spawned.stopForwarding();
    await this.createHooks(id, spec);
  }

  /** prestart (deprecated), createRuntime, then createContainer hooks; on failure the container is destroyed. */
  private async createHooks(id: string, spec: Spec): Promise<void> {
    if (!spec.hooks) return;
    const state: State = { ...this.state(id), status: 'creating' };
    try {
      await runHooks('prestart', spec.hooks, state);
      await runHooks('createRuntime', spec.hooks, state);
      await runHooks('createContainer', spec.hooks, state, true);
    } catch (err) {
      await this.delete(id, true, { skipHooks: true }).catch(() => {});
      throw err;
    }
  }

  async run(id: string, bundle: string, opts: LaunchOptions): Promise<ExitStatus | undefined> {
    // Hooks between create and start (and a caller's subreaper) need the create/start path.
    if (opts.noMonitor || hasStartGateHooks(readSpec(resolve(bundle)).hooks)) return this.runThroughStart(id, bundle, opts);
    const { dir, spawned } = await this.createContainer(id, bundle, opts, false);
    try {
      const msg = await spawned.reader.next();
      if (msg?.kind === 'error') throw this.failure(msg);
      if (msg?.kind !== 'started') throw new LaunchError(`the monitor of container ${id} ended before the command started`, 'exec');
    } catch (err) {
      await abandonHelper(spawned, dir);
      this.removeFailed(dir);
      throw err;
    }
    if (opts.detach) {
      spawned.reader.close();
      spawned.stopForwarding();
      return undefined;
    }
    // Attached, the status pipe stays open until the monitor ends: its closing tells the monitor we are gone (caller-stdio).
    await spawned.exited;
    spawned.reader.close();
    spawned.stopForwarding();
    crashPoint('after-container-exit');
    const status = this.exitStatus(id);
    if (!status) throw new StateError(`container ${id} ended without an exit status (its monitor was killed)`);
    return status;
  }

  private async runThroughStart(id: string, bundle: string, opts: LaunchOptions): Promise<ExitStatus | undefined> {
    const { spawned, spec } = await this.createContainer(id, bundle, opts, true);
    // Attached, the status pipe stays open until the monitor ends (see run()).
    if (opts.detach || opts.noMonitor) spawned.reader.close();
    try {
      await this.createHooks(id, spec);
      await this.start(id);
    } catch (err) {
      spawned.reader.close();
      spawned.stopForwarding();
      if (this.dir(id).exists()) await this.delete(id, true, { skipHooks: true }).catch(() => {});
      throw err;
    }
    if (opts.detach || opts.noMonitor) {
      spawned.stopForwarding();
      return undefined;
    }
    await monitorEnded(spawned);
    const status = this.exitStatus(id);
    if (!status) throw new StateError(`container ${id} ended without an exit status (its monitor was killed)`);
    return status;
  }

  /** Creates the state dir and the container; resolves once the container process is set up. */
  private async createContainer(
    id: string,
    bundle: string,
    opts: LaunchOptions,
    waitForStart: boolean,
  ): Promise<{ dir: ContainerDir; spawned: Spawned; spec: Spec }> {
    const dir = this.dir(id);
    ensureDir(this.stateRoot, 0o700);
    try {
      mkdirSync(dir.dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ConflictError(`container "${id}" already exists`);
      throw new LaunchError(`cannot create the state directory ${dir.dir}`, 'state', { cause: err });
    }
    let spawned: Spawned | undefined;
    let cgroup: CgroupManager | undefined;
    let rec: StateRecord | undefined;
    try {
      const bundleDir = resolve(bundle);
      const spec = readSpec(bundleDir);
      const rootfs = resolve(bundleDir, spec.root?.path ?? 'rootfs');
      if (!existsSync(rootfs)) throw new LaunchError(`root.path ${rootfs} does not exist`, 'rootfs');
      rec = {
        ociVersion: spec.ociVersion,
        id,
        bundle: bundleDir,
        created: new Date().toISOString(),
        rootfs,
      };
      if (opts.noMonitor) rec.noMonitor = true;
      if (spec.annotations) rec.annotations = spec.annotations;
      let cgroupProcs: string[] = [];
      if (spec.linux?.cgroupsPath) {
        warmMigrationLock();
        rec.cgroupsPath = spec.linux.cgroupsPath;
        cgroup = openCgroup(spec.linux.cgroupsPath);
        for (const w of cgroup.create()) opts.onWarning?.(w);
        crashPoint('after-cgroup-create');
        const resources = withDefaultDeviceRules(spec.linux.resources ?? {}, spec.linux.devices);
        for (const w of cgroup.apply(resources)) opts.onWarning?.(w);
        cgroupProcs = cgroup.procsFiles();
      }
      dir.write(rec);
      const monitor: MonitorConfig = {
        ...monitorBasics(dir, opts),
        execFifo: waitForStart ? dir.execFifo : undefined,
        detach: opts.detach && !opts.noMonitor,
        terminal: !!spec.process?.terminal,
        consoleSize: opts.consoleSize ?? spec.process?.consoleSize,
        consoleSocket: opts.consoleSocket,
        attachSocket: opts.attachSocket ? dir.attachSocket : undefined,
        inheritStdio: opts.inheritStdio,
        preserveFds: opts.preserveFds,
        noMonitor: opts.noMonitor,
        dieWithMonitor: opts.dieWithMonitor,
      };
      if (opts.noMonitor && spec.process?.terminal && !opts.consoleSocket) {
        throw new LaunchError('process.terminal is true: a detached container needs --console-socket to receive its terminal', 'console');
      }
      const seccomp = spec.linux?.seccomp ? cachedSeccompProgram(this.seccompCacheDir(), spec.linux.seccomp) : undefined;
      const steps = compilePlan(
        spec,
        monitor,
        {
          hardLimits: callerHardLimits(),
          cgroupProcs,
          rootfs,
          bundle: bundleDir,
          isDirectory: (p) => isDirectory(p),
          cgroupMountSource: cgroupMountSource(spec),
          cgroupHierarchies: cgroupHierarchies(spec),
        },
        seccomp,
      );
      spawned = this.spawnHelper(steps, opts, dir.dir);
      const msg = await spawned.reader.next();
      coolMigrationLock();
      if (msg?.kind === 'error') throw this.failure(msg);
      if (msg?.kind !== 'created') throw new LaunchError(`the helper ended without creating container ${id}`, 'create');
      recordCreated(dir, rec, msg, opts);
      return { dir, spawned, spec };
    } catch (err) {
      coolMigrationLock();
      // Created but not recorded (a full runroot): the container waits for start, and its monitor
      // with it. It goes first, so that the monitor ends.
      if (rec) killCreated(rec);
      if (spawned) await abandonHelper(spawned, dir); // a detached monitor outlives the helper we spawned
      try {
        cgroup?.destroy();
      } catch {
        /* best effort: the error that brought us here matters more */
      }
      this.removeFailed(dir);
      throw err;
    }
  }

  private removeFailed(dir: ContainerDir): void {
    removeTree(dir.dir);
  }

  /** Starts the helper with the plan on fd 3 and the status stream on fd 4. */
  private spawnHelper(steps: PlanStep[], opts: LaunchOptions, planDir: string): Spawned {
    return spawnHelper(this.helper, steps, opts, planDir);
  }

  async start(id: string): Promise<void> {
    const dir = this.dir(id);
    const rec = dir.read();
    const status = dir.status(rec);
    if (status !== 'created') throw new StateError(`cannot start container ${id}: it is ${status}, not created`);
    const hooks = readSpecIfPresent(rec.bundle)?.hooks;
    if (hooks?.startContainer?.length) {
      try {
        await runHooks('startContainer', hooks, this.state(id), true);
      } catch (err) {
        await this.delete(id, true, { skipHooks: true }).catch(() => {});
        throw err;
      }
    }
    let fd: number;
    try {
      fd = openSync(dir.execFifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      throw new StateError(`cannot start container ${id}: its exec fifo is gone`, { cause: err });
    }
    try {
      // The container waits in open(fifo, O_WRONLY) and writes one byte once we opened it.
      const deadline = Date.now() + START_TIMEOUT_MS;
      const buf = Buffer.alloc(1);
      const tookSignal = (): boolean => {
        try {
          return readSync(fd, buf, 0, 1, null) === 1;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          return false;
        }
      };
      for (;;) {
        if (tookSignal()) break;
        // Stopped: gone before it took the signal, unless it took it, ran and ended since our read
        // (a quick command on a busy machine): its byte is in the fifo then.
        if (dir.status(rec) === 'stopped') {
          if (tookSignal()) break;
          throw new StateError(`cannot start container ${id}: it is gone`);
        }
        if (Date.now() > deadline) throw new LaunchError(`container ${id} did not take the start signal`, 'wait-start');
        await sleep(2);
      }
    } finally {
      closeSync(fd);
    }
    removeFile(dir.execFifo);
    if (!rec.noMonitor) await this.waitStarted(id, dir);
    await this.postStart(id, hooks);
  }

  private async waitStarted(id: string, dir: ContainerDir): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (existsSync(dir.startedFile)) return;
      const exit = dir.readExit();
      if (exit?.error) throw errorForFailure(exit.error);
      if (exit) return; // started and already finished
      if (!dir.monitorAlive()) throw new StateError(`container ${id}: the monitor ended without a status`);
      if (Date.now() > deadline) throw new LaunchError(`container ${id} did not report its start`, 'exec');
      await sleep(2);
    }
  }

  /** poststart hooks: a failure is only a warning (the container runs already). */
  private async postStart(id: string, hooks: Spec['hooks']): Promise<void> {
    if (!hooks?.poststart?.length) return;
    try {
      await runHooks('poststart', hooks, this.state(id));
    } catch (err) {
      this.warn((err as Error).message);
    }
  }

  /** The OCI state with the creation time and rootfs (what `runc state` prints). */
  describe(id: string): ContainerDescription {
    const dir = this.dir(id);
    const rec = dir.read();
    const d: ContainerDescription = { ...dir.state(), created: rec.created };
    if (rec.rootfs) d.rootfs = rec.rootfs;
    return d;
  }

  /** The monitor's attach socket, if the container was started with one and runs. */
  attachSocket(id: string): string | undefined {
    const dir = this.dir(id);
    return existsSync(dir.attachSocket) ? dir.attachSocket : undefined;
  }

  /** The cgroup of a container, for pause, resume, ps and update. */
  cgroupOf(id: string): CgroupManager {
    const rec = this.dir(id).read();
    if (!rec.cgroupsPath) throw new StateError(`container ${id} has no cgroup (its config.json has no linux.cgroupsPath)`);
    return openCgroup(rec.cgroupsPath);
  }

  async pause(id: string): Promise<void> {
    const dir = this.dir(id);
    const status = dir.status(dir.read());
    if (status !== 'running') throw new StateError(`cannot pause container ${id}: it is ${status}, not running`);
    this.cgroupOf(id).freeze();
    writeFileAtomic(dir.pausedFile, '');
  }

  async resume(id: string): Promise<void> {
    const dir = this.dir(id);
    const status = dir.status(dir.read());
    if (status !== 'paused') throw new StateError(`cannot resume container ${id}: it is ${status}, not paused`);
    this.cgroupOf(id).thaw();
    removeFile(dir.pausedFile);
  }

  state(id: string): State {
    return this.dir(id).state();
  }

  /** Whether the monitor's process (after the exit: the exit command it became) still runs. */
  monitorProcessRuns(id: string): boolean {
    return this.dir(id).monitorProcessRuns();
  }

  exitStatus(id: string): ExitStatus | undefined {
    const dir = this.dir(id);
    const e = dir.readExit();
    if (!e) return undefined;
    const rec = dir.read();
    let oom = false;
    if (rec.cgroupsPath) {
      try {
        oom = openCgroup(rec.cgroupsPath).oomKilled();
      } catch {
        /* the cgroup may be gone already */
      }
    }
    return toExitStatus(e, oom);
  }

  async wait(id: string): Promise<ExitStatus> {
    const dir = this.dir(id);
    dir.read();
    while (dir.monitorAlive()) await sleep(POLL_MS);
    const status = this.exitStatus(id);
    if (!status) throw new StateError(`container ${id} has no exit status: its monitor was killed`);
    return status;
  }

  async kill(id: string, signal: string | number, all = false): Promise<void> {
    const dir = this.dir(id);
    const rec = dir.read();
    const status = dir.status(rec);
    if (status !== 'running' && status !== 'created' && status !== 'paused') throw new StateError(`cannot kill container ${id}: it is ${status}`);
    const sig = parseSignal(signal);
    if (all && sig === parseSignal('SIGKILL') && rec.cgroupsPath) {
      // cgroup.kill (v2) reaches every process, frozen ones and fork loops too;
      // the manager falls back to freeze + SIGKILL + thaw on v1.
      try {
        openCgroup(rec.cgroupsPath).kill();
        return;
      } catch (err) {
        this.warn(`cannot kill the cgroup of container ${id}, signalling its processes instead: ${(err as Error).message}`);
      }
    }
    const pids = new Set<number>();
    if (all && rec.cgroupsPath) for (const p of openCgroup(rec.cgroupsPath).pids()) pids.add(p);
    if (rec.pid !== undefined && processStartTime(rec.pid) === rec.pidStartTime) pids.add(rec.pid);
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw new LaunchError(`kill ${pid}: ${String(err)}`, 'kill', { cause: err });
      }
    }
  }

  async delete(id: string, force = false, opts: { skipHooks?: boolean } = {}): Promise<void> {
    const dir = this.dir(id);
    let rec: StateRecord;
    try {
      rec = dir.read();
    } catch (err) {
      // A kill -9 between making the state directory and writing its record (before any helper
      // ran) leaves the directory alone, which would make every later create say "already exists".
      if (err instanceof NotFoundError && existsSync(dir.dir) && !dir.monitorAlive()) removeTree(dir.dir);
      throw err;
    }
    const status = dir.status(rec);
    if ((status === 'running' || status === 'paused') && !force) throw new StateError(`cannot delete ${status} container ${id}: stop it first or force`);
    const hooks = opts.skipHooks ? undefined : readSpecIfPresent(rec.bundle)?.hooks;
    const finalState: State = { ...dir.state(), status: 'stopped' };
    delete finalState.pid;
    const alive = rec.pid !== undefined && rec.pidStartTime !== undefined && processStartTime(rec.pid) === rec.pidStartTime;
    if (alive && (status !== 'stopped' || force)) {
      // A created container, a forced delete, or one whose monitor was killed while it ran.
      try {
        process.kill(rec.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (Date.now() < deadline && isLiveProcess(rec.pid!, rec.pidStartTime!)) await sleep(POLL_MS);
    }
    await monitorGone(dir);
    if (rec.cgroupsPath) {
      try {
        const cg = openCgroup(rec.cgroupsPath);
        cg.kill();
        cg.destroy();
      } catch (err) {
        if (!(err instanceof TsrunError)) throw err;
        throw new LaunchError(`cannot remove the cgroup ${rec.cgroupsPath} of container ${id}`, 'delete', { cause: err });
      }
    }
    removeTree(dir.dir);
    if (hooks?.poststop?.length) {
      try {
        await runHooks('poststop', hooks, finalState);
      } catch (err) {
        this.warn((err as Error).message);
      }
    }
  }

  list(): State[] {
    let names: string[];
    try {
      names = readdirSync(this.stateRoot);
    } catch {
      return [];
    }
    const out: State[] = [];
    for (const name of names) {
      try {
        out.push(this.dir(name).state());
      } catch {
        /* not a container dir, or one being deleted */
      }
    }
    return out;
  }

  async exec(id: string, proc: Process, opts: LaunchOptions): Promise<ExitStatus | undefined> {
    const dir = this.dir(id);
    const rec = dir.read();
    const status = dir.status(rec);
    if (status !== 'running' || rec.pid === undefined) throw new StateError(`cannot exec in container ${id}: it is ${status}`);
    const join = containerNamespaces(rec.pid);
    const execDir = join_(dir.dir, `exec-${randomHex(6)}`);
    mkdirSync(execDir, { mode: 0o700 });
    const monitor: MonitorConfig = {
      lockFile: join_(execDir, 'lock'),
      exitFile: join_(execDir, 'exit.json'),
      pidFile: join_(execDir, 'pid'),
      startedFile: join_(execDir, 'started'),
      logFile: opts.logPath,
      detach: opts.detach,
      stdin: !!opts.stdin,
      terminal: !!proc.terminal,
      consoleSize: proc.consoleSize,
      consoleSocket: opts.consoleSocket,
      inheritStdio: opts.inheritStdio,
      preserveFds: opts.preserveFds,
      noMonitor: opts.noMonitor,
    };
    if (opts.noMonitor) monitor.detach = false;
    if (rec.cgroupsPath) warmMigrationLock();
    const cgroupProcs = rec.cgroupsPath ? openCgroup(rec.cgroupsPath).procsFiles() : [];
    // An exec'd process is confined like the container's own (as runc does).
    const profile = readSpecIfPresent(rec.bundle)?.linux?.seccomp;
    const seccomp = profile ? cachedSeccompProgram(this.seccompCacheDir(), profile) : undefined;
    const steps = compileExecPlan(proc, monitor, join, { hardLimits: callerHardLimits(), cgroupProcs }, seccomp);
    let spawned: Spawned | undefined;
    try {
      spawned = this.spawnHelper(steps, opts, dir.dir);
      let msg = await spawned.reader.next();
      coolMigrationLock();
      if (msg?.kind === 'created' && opts.pidFile) writeFileAtomic(opts.pidFile, `${msg.pid}`);
      if (msg?.kind === 'created') msg = await spawned.reader.next();
      if (msg?.kind === 'error') throw this.failure(msg);
      if (msg?.kind !== 'started') throw new LaunchError(`exec in container ${id} ended before the command started`, 'exec');
    } catch (err) {
      coolMigrationLock();
      if (spawned) {
        spawned.reader.close();
        if (!opts.detach || opts.noMonitor) await spawned.exited;
        spawned.stopForwarding();
      }
      removeTree(execDir);
      throw err;
    }
    spawned.reader.close();
    if (opts.noMonitor) {
      spawned.stopForwarding();
      removeTree(execDir);
      return undefined;
    }
    if (opts.detach) return undefined;
    await spawned.exited;
    spawned.stopForwarding();
    let exit: ExitFile;
    try {
      exit = JSON.parse(readFileSync(monitor.exitFile, 'utf8')) as ExitFile;
    } catch (err) {
      throw new StateError(`exec in container ${id} ended without an exit status`, { cause: err });
    } finally {
      removeTree(execDir);
    }
    return toExitStatus(exit);
  }
}

const join_ = join;

/** A bundle's config.json, read and checked (JSON, ociVersion) with errors that name it. */
export function readSpec(bundle: string): Spec {
  const path = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('bundle config', path, { cause: err });
    throw new LaunchError(`cannot read ${path}`, 'config', { cause: err });
  }
  let spec: Spec;
  try {
    spec = JSON.parse(text) as Spec;
  } catch (err) {
    throw new LaunchError(`${path} is not valid JSON`, 'config', { cause: err });
  }
  checkOciVersion(spec.ociVersion, path);
  return spec;
}

/** Versions of the runtime spec whose config.json we understand. */
export const OCI_VERSION_MIN = '1.0.0';
export const OCI_VERSION_MAX = '1.2.1';

export function checkOciVersion(v: unknown, where = 'config.json'): void {
  if (typeof v !== 'string' || !/^1\.[0-2]\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/.test(v)) {
    throw new LaunchError(
      `unsupported ociVersion ${JSON.stringify(v ?? null)} in ${where}: tsrun-oci supports runtime-spec ${OCI_VERSION_MIN} to 1.2.x`,
      'config',
    );
  }
}

function hasCgroupMount(spec: Spec): boolean {
  return (spec.mounts ?? []).some((m) => m.type === 'cgroup');
}

function ownCgroupNamespace(spec: Spec): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === 'cgroup' && !n.path);
}

/**
 * Without its own cgroup namespace, the container's `cgroup` mount binds the
 * root of the host's cgroup2 hierarchy (what a fresh mount would show, cheaper).
 * With one it mounts afresh (cgroupHierarchies) and needs no host directory.
 */
function cgroupMountSource(spec: Spec): string | undefined {
  if (!hasCgroupMount(spec) || ownCgroupNamespace(spec)) return undefined;
  return detectLayout().unifiedPath;
}

/** The host's cgroup filesystems a container with its own cgroup namespace mounts afresh. */
function cgroupHierarchies(spec: Spec): CgroupHierarchy[] | undefined {
  return hasCgroupMount(spec) && ownCgroupNamespace(spec) ? hostCgroupHierarchies() : undefined;
}

function readSpecIfPresent(bundle: string): Spec | undefined {
  try {
    return readSpec(bundle);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    throw new LaunchError(`bind mount source ${path} does not exist`, 'mount', { cause: err });
  }
}

/** The namespaces of pid that differ from ours, in the order they must be joined. */
function containerNamespaces(pid: number): { type: NamespaceType; path: string }[] {
  const out: { type: NamespaceType; path: string }[] = [];
  for (const type of SETNS_ORDER) {
    const name = NS_PROC_NAME[type];
    const path = `/proc/${pid}/ns/${name}`;
    try {
      if (statSync(path).ino !== statSync(`/proc/self/ns/${name}`).ino) out.push({ type, path });
    } catch {
      /* a namespace type this kernel lacks */
    }
  }
  return out;
}

/** The container process a failed create left waiting for start, if it is still the one recorded. */
function killCreated(rec: StateRecord): void {
  if (rec.pid === undefined || rec.pidStartTime === undefined || !isLiveProcess(rec.pid, rec.pidStartTime)) return;
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    // it ended meanwhile
  }
}
