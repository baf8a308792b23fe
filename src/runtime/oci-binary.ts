// The same lifecycle driven through an OCI runtime binary (runc, crun), so a
// reference runtime can stand in for ours and tests can compare the two.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LaunchError, NotFoundError, StateError } from '../errors.js';
import type { Process, State } from '../oci/runtime.js';
import { writeJsonAtomic, ensureDir } from '../util/fs.js';
import { tmpdir } from 'node:os';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { signalName, parseSignal } from '../util/signals.js';
import type { ContainerLauncher, ExitStatus, LaunchOptions } from './launcher.js';
import { validateContainerId } from './state-dir.js';

export class OciBinaryLauncher implements ContainerLauncher {
  constructor(readonly binary: string, readonly stateRoot: string) {}

  private args(...rest: string[]): string[] {
    return ['--root', this.stateRoot, ...rest];
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

  private exitFile(id: string): string {
    return join(this.stateRoot, `${id}.exit.json`);
  }

  async create(id: string, bundle: string, opts: LaunchOptions): Promise<void> {
    validateContainerId(id);
    ensureDir(this.stateRoot, 0o700);
    const extra = opts.pidFile ? ['--pid-file', opts.pidFile] : [];
    if (opts.consoleSocket) extra.push('--console-socket', opts.consoleSocket);
    // runc hands its own stdio to the container; this class keeps no logs (logPath is not supported).
    const r = await this.runDetached(['create', '--bundle', bundle, ...extra, id]);
    if (r.code !== 0) throw new LaunchError(`${this.binary} create ${id} failed: ${r.stderr.trim()}`, 'create');
  }

  async start(id: string): Promise<void> {
    this.runSync(['start', id], 'start');
  }

  async run(id: string, bundle: string, opts: LaunchOptions): Promise<ExitStatus | undefined> {
    validateContainerId(id);
    ensureDir(this.stateRoot, 0o700);
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

  state(id: string): State {
    return JSON.parse(this.runSync(['state', id], 'state')) as State;
  }

  exitStatus(id: string): ExitStatus | undefined {
    if (!existsSync(this.exitFile(id))) return undefined;
    return JSON.parse(readFileSync(this.exitFile(id), 'utf8')) as ExitStatus;
  }

  /** runc keeps no exit status of detached containers: this can only tell that it stopped. */
  async wait(id: string): Promise<ExitStatus> {
    for (;;) {
      const known = this.exitStatus(id);
      if (known) return known;
      const s = this.state(id);
      if (s.status === 'stopped') throw new StateError(`${this.binary} does not record the exit status of detached container ${id}`);
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

  async delete(id: string, force = false): Promise<void> {
    this.runSync(['delete', ...(force ? ['--force'] : []), id], 'delete');
    rmSync(this.exitFile(id), { force: true });
  }

  list(): State[] {
    const out = this.runSync(['list', '--format', 'json'], 'list').trim();
    const list = (out ? JSON.parse(out) : []) as (State & { pid?: number })[] | null;
    return (list ?? []).map((s) => ({ ociVersion: s.ociVersion, id: s.id, status: s.status, pid: s.pid, bundle: s.bundle }));
  }
}
