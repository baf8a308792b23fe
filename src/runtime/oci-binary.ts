// The same lifecycle driven through an OCI runtime binary (runc, crun, runsc), so a reference
// runtime can stand in for ours and tests can compare the two. tsrun's own monitor (the C helper)
// stays in front of the runtime's container, as Podman's conmon does: it runs the runtime's
// `create`, keeps the container's stdio (the log), reaps it, records its exit and runs the
// engine's exit command (--rm, restart policies, unmount). With a terminal, the runtime sends the
// pty's master to the monitor (--console-socket), which then serves attach clients as ours does.
// The runtime's own commands start, signal and delete it. A caller that takes the stdio or the
// pty itself (the OCI CLI's inherited stdio, console socket, no monitor) gets the runtime alone.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, LaunchError, NotFoundError, StateError } from '../errors.js';
import { removeTree } from '../native/index.js';
import type { Process, Spec, State } from '../oci/runtime.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { helperPath } from '../util/paths.js';
import { parseSignal, signalName } from '../util/signals.js';
import { abandonHelper, monitorBasics, monitorEnded, monitorGone, recordCreated, spawnHelper, type Spawned } from './helper-process.js';
import { readSpec, toExitStatus, type ContainerLauncher, type ExitStatus, type LaunchOptions } from './launcher.js';
import { compileRuntimePlan, type MonitorConfig } from './plan.js';
import { errorForFailure, type StepFailure } from './report.js';
import { ContainerDir, validateContainerId, type StateRecord } from './state-dir.js';

export class OciBinaryLauncher implements ContainerLauncher {
  constructor(readonly binary: string, readonly stateRoot: string, private readonly opts: { helperPath?: string } = {}) {}

  private args(...rest: string[]): string[] {
    return ['--root', this.stateRoot, ...rest];
  }

  /** The monitor's files of a container (lock, exit file, pids), beside the runtime's root: its `list` reads every directory there. */
  private monitorDir(id: string): ContainerDir {
    return new ContainerDir(`${this.stateRoot}.monitors`, id);
  }

  /** Whether our monitor keeps the container: not when a caller of the OCI CLI takes its stdio or its pty (console socket) itself. */
  private monitored(opts: LaunchOptions): boolean {
    return !opts.consoleSocket && !opts.inheritStdio && !opts.noMonitor;
  }

  private runSync(args: string[], what: string): string {
    const r = spawnSync(this.binary, this.args(...args), { encoding: 'utf8' });
    if (r.error) throw new LaunchError(`${this.binary} ${what}: ${r.error.message}`, what, { cause: r.error });
    if (r.status !== 0) {
      const msg = (r.stderr || r.stdout).trim();
      if (/does not exist|not found/i.test(msg)) throw new NotFoundError('container', args[args.length - 1] ?? '');
      throw new LaunchError(`${this.binary} ${what} failed: ${msg}`, what);
    }
    return r.stdout;
  }

  private async runAsync(args: string[], stdio: Array<'inherit' | 'ignore' | 'pipe' | number>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const child = spawn(this.binary, this.args(...args), { stdio });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((res, rej) => {
      child.on('error', rej);
      child.on('close', (code, signal) => res({ code, signal, stderr }));
    });
  }

  /** Runs a command whose stdio the container inherits: stderr goes to a file, not a pipe the container would hold open. */
  private async runDetached(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'tsrun-oci-'));
    const errPath = join(dir, 'stderr');
    const fd = openSync(errPath, 'w+');
    try {
      const child = spawn(this.binary, this.args(...args), { stdio: ['ignore', 'ignore', fd] });
      const code = await new Promise<number | null>((res, rej) => {
        child.on('error', rej);
        child.on('exit', (c) => res(c));
      });
      return { code, stderr: readFileSync(errPath, 'utf8') };
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The exit status of an attached `run` the runtime ran alone (with a terminal). */
  private exitFile(id: string): string {
    return join(this.stateRoot, `${id}.exit.json`);
  }

  /** A failed step of the monitor: the runtime's create failing reports its output (errno 0). */
  private failure(id: string, msg: StepFailure): Error {
    if (msg.step === 'runtime-create' && msg.errno === 0) return new LaunchError(`${this.binary} create ${id} failed: ${msg.path}`, 'create');
    return errorForFailure(msg);
  }

  /**
   * The monitor runs the runtime's `create` and reports the container's pid; it waits for
   * `start`. On failure nothing is left: neither the monitor's directory nor the runtime's state.
   */
  private async createMonitored(id: string, bundle: string, opts: LaunchOptions): Promise<Spawned> {
    validateContainerId(id);
    ensureDir(this.stateRoot, 0o700);
    const dir = this.monitorDir(id);
    ensureDir(dir.root, 0o700);
    if (existsSync(dir.dir)) {
      if (dir.monitorAlive()) throw new ConflictError(`container "${id}" already exists`);
      removeTree(dir.dir); // what an earlier run left
    }
    mkdirSync(dir.dir, { mode: 0o700 });
    let spawned: Spawned | undefined;
    let consoleDir: string | undefined;
    try {
      const bundleDir = resolve(bundle);
      const spec = readSpec(bundleDir);
      const rec: StateRecord = { ociVersion: spec.ociVersion, id, bundle: bundleDir, created: new Date().toISOString() };
      dir.write(rec);
      // A terminal: the runtime sends its pty to a socket the monitor listens on during the create.
      // The runtime connects to it by name, and our state dir's path may be too long for a socket
      // address: a private directory in the temporary one, gone once the create is reported.
      if (spec.process?.terminal) consoleDir = mkdtempSync(join(tmpdir(), 'tsrun-tty-'));
      const consoleSocket = consoleDir && join(consoleDir, 'console');
      // With a terminal, clients attach through the monitor's socket (tsrun attach, run -it). Without
      // one (no attach), no one could ever write to a detached container's stdin pipe: it reads
      // the end of its input at once, as before.
      const attachable = !!opts.attachSocket && !!consoleSocket;
      const monitor: MonitorConfig = {
        ...monitorBasics(dir, opts),
        detach: !!opts.detach,
        terminal: false, // the runtime's pty, not one of ours (console-receive)
        consoleSize: opts.consoleSize,
        attachSocket: attachable ? dir.attachSocket : undefined,
        ...(opts.detach && !attachable ? { stdin: false } : {}),
      };
      const runtimePidFile = join(dir.dir, 'runtime.pid');
      const consoleArgs = consoleSocket ? ['--console-socket', consoleSocket] : [];
      const argv = [this.binary, ...this.args('create', '--bundle', bundleDir, '--pid-file', runtimePidFile, ...consoleArgs, id)];
      spawned = spawnHelper(this.opts.helperPath ?? helperPath(), compileRuntimePlan(monitor, { argv, pidFile: runtimePidFile, consoleSocket }), opts, dir.dir);
      const msg = await spawned.reader.next();
      if (msg?.kind === 'error') throw this.failure(id, msg);
      if (msg?.kind !== 'created') throw new LaunchError(`the monitor of container ${id} ended before ${this.binary} created it`, 'create');
      recordCreated(dir, rec, msg, opts);
      return spawned;
    } catch (err) {
      // The runtime's container first, if it made one (it waits for `start`, and its monitor with
      // it): then the monitor ends and we can wait for it.
      spawnSync(this.binary, this.args('delete', '--force', id), { stdio: 'ignore' });
      if (spawned) await abandonHelper(spawned, dir); // a detached monitor outlives the helper we spawned
      removeTree(dir.dir);
      throw err;
    } finally {
      // The monitor has the master (or failed): its socket is gone, its directory goes too.
      if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
    }
  }

  async create(id: string, bundle: string, opts: LaunchOptions): Promise<void> {
    if (this.monitored(opts)) {
      const spawned = await this.createMonitored(id, bundle, { ...opts, detach: true });
      spawned.reader.close();
      spawned.stopForwarding();
      return;
    }
    validateContainerId(id);
    ensureDir(this.stateRoot, 0o700);
    const extra = opts.pidFile ? ['--pid-file', opts.pidFile] : [];
    if (opts.consoleSocket) extra.push('--console-socket', opts.consoleSocket);
    // The runtime hands its own stdio to the container: no log.
    const r = await this.runDetached(['create', '--bundle', bundle, ...extra, id]);
    if (r.code !== 0) throw new LaunchError(`${this.binary} create ${id} failed: ${r.stderr.trim()}`, 'create');
  }

  async start(id: string): Promise<void> {
    this.runSync(['start', id], 'start');
  }

  async run(id: string, bundle: string, opts: LaunchOptions): Promise<ExitStatus | undefined> {
    validateContainerId(id);
    ensureDir(this.stateRoot, 0o700);
    if (this.monitored(opts)) return this.runMonitored(id, bundle, opts);
    if (opts.detach) {
      const r = await this.runDetached(['run', '--detach', '--bundle', bundle, id]);
      if (r.code !== 0) throw new LaunchError(`${this.binary} run ${id} failed: ${r.stderr.trim()}`, 'run');
      return undefined;
    }
    const stdio = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
    const r = await this.runAsync(['run', '--bundle', bundle, id], stdio);
    const status: ExitStatus = { exitCode: r.code ?? 128, finishedAt: new Date().toISOString() };
    if (r.signal) {
      status.exitCode = 128 + parseSignal(r.signal);
      status.signal = r.signal;
    } else if (status.exitCode > 128) status.signal = signalName(status.exitCode - 128);
    writeJsonAtomic(this.exitFile(id), status);
    return status;
  }

  /** create through the monitor, then the runtime's start; attached, until the monitor has recorded the exit. */
  private async runMonitored(id: string, bundle: string, opts: LaunchOptions): Promise<ExitStatus | undefined> {
    const spawned = await this.createMonitored(id, bundle, opts);
    // Attached, the status pipe stays open until the monitor ends: its closing tells the monitor we are gone (caller-stdio).
    if (opts.detach) {
      spawned.reader.close();
      spawned.stopForwarding();
    }
    try {
      await this.start(id);
    } catch (err) {
      spawned.reader.close();
      spawned.stopForwarding();
      await this.delete(id, true).catch(() => {});
      throw err;
    }
    if (opts.detach) return undefined;
    await monitorEnded(spawned);
    const status = this.exitStatus(id);
    if (!status) throw new StateError(`container ${id} ended without an exit status (its monitor was killed)`);
    return status;
  }

  /**
   * The runtime's state, except that a container under our monitor is stopped once the monitor
   * recorded its exit, and not before (as our own launcher's): whoever sees it stopped finds its
   * exit status.
   */
  state(id: string): State {
    const dir = this.monitorDir(id);
    let s: State;
    try {
      s = JSON.parse(this.runSync(['state', id], 'state')) as State;
    } catch (err) {
      // The runtime knows it only once its create has written its state: until then it is ours, being made.
      if (!(err instanceof NotFoundError) || !dir.exists() || !dir.monitorAlive() || existsSync(dir.exitFile)) throw err;
      const rec = dir.read();
      return { ociVersion: rec.ociVersion, id, status: 'creating', bundle: rec.bundle };
    }
    if (!dir.exists()) return s;
    if (existsSync(dir.exitFile)) {
      const stopped: State = { ...s, status: 'stopped' };
      delete stopped.pid;
      return stopped;
    }
    if (s.status === 'stopped' && dir.monitorAlive()) return { ...s, status: 'running' };
    return s;
  }

  exitStatus(id: string): ExitStatus | undefined {
    const recorded = this.monitorDir(id).readExit();
    if (recorded) return toExitStatus(recorded);
    if (!existsSync(this.exitFile(id))) return undefined;
    return JSON.parse(readFileSync(this.exitFile(id), 'utf8')) as ExitStatus;
  }

  /** The monitor's attach socket, if the container has one (a terminal) and runs. */
  attachSocket(id: string): string | undefined {
    const path = this.monitorDir(id).attachSocket;
    return existsSync(path) ? path : undefined;
  }

  /** Whether the monitor's process (after the exit: the exit command it became) still runs. */
  monitorProcessRuns(id: string): boolean {
    return this.monitorDir(id).monitorProcessRuns();
  }

  /** The monitor records the exit status; a container the runtime ran alone (detached) has none. */
  async wait(id: string): Promise<ExitStatus> {
    for (;;) {
      const known = this.exitStatus(id);
      if (known) return known;
      if (this.state(id).status === 'stopped') {
        const late = this.exitStatus(id);
        if (late) return late;
        throw new StateError(`${this.binary} does not record the exit status of detached container ${id}`);
      }
      await sleep(20);
    }
  }

  async kill(id: string, signal: string | number, all = false): Promise<void> {
    this.runSync(['kill', ...(all ? ['--all'] : []), id, String(parseSignal(signal))], 'kill');
  }

  async exec(id: string, process: Process, opts: LaunchOptions): Promise<ExitStatus | undefined> {
    const dir = mkdtempSync(join(tmpdir(), 'tsrun-exec-'));
    try {
      const procFile = join(dir, 'process.json');
      writeJsonAtomic(procFile, process);
      const args = ['exec', '--process', procFile, ...(opts.detach ? ['--detach'] : []), id];
      if (opts.detach) {
        const r = await this.runDetached(args);
        if (r.code !== 0) throw new LaunchError(`${this.binary} exec failed: ${r.stderr.trim()}`, 'exec');
        return undefined;
      }
      const r = await this.runAsync(args, opts.stdio ?? ['inherit', 'inherit', 'inherit']);
      return { exitCode: r.code ?? 128, finishedAt: new Date().toISOString() };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The runtime's delete, then the monitor's directory once the monitor (which records a forced kill) has ended. */
  async delete(id: string, force = false): Promise<void> {
    let unknown: NotFoundError | undefined;
    let cannotRun = false;
    try {
      this.runSync(['delete', ...(force ? ['--force'] : []), id], 'delete');
    } catch (err) {
      // A runtime binary that cannot be run (gone, not executable) has nothing of ours left to delete.
      cannotRun = ['ENOENT', 'EACCES'].includes(((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? '');
      if (!(err instanceof NotFoundError) && !cannotRun) throw err;
      unknown = err instanceof NotFoundError ? err : new NotFoundError('container', id, { cause: err });
    }
    rmSync(this.exitFile(id), { force: true });
    const dir = this.monitorDir(id);
    if (existsSync(dir.dir)) {
      // Unless the monitor has ended: then the container it kept did too.
      if (cannotRun && dir.monitorAlive()) throw new LaunchError(`cannot delete container ${id}: ${this.binary} cannot be run, and the container's monitor still runs`, 'delete', { cause: unknown });
      await monitorGone(dir);
      removeTree(dir.dir);
    } else if (unknown) {
      throw unknown;
    }
  }

  list(): State[] {
    const out = this.runSync(['list', '--format', 'json'], 'list').trim();
    const list = (out ? JSON.parse(out) : []) as (State & { pid?: number })[] | null;
    return (list ?? []).map((s) => ({ ociVersion: s.ociVersion, id: s.id, status: s.status, pid: s.pid, bundle: s.bundle }));
  }
}
