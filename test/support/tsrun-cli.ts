// Runs the built tsrun CLI against a private --root/--runroot, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class TsrunCli {
  readonly root: string;
  readonly runroot: string;

  constructor(readonly bin = 'tsrun', base = mkdtempSync('/tmp/tsrun-it-')) {
    this.root = join(base, 'root');
    this.runroot = join(base, 'run');
  }

  /** Node's argv for this CLI: the bundle itself (bin/* link to build/<cli>, the launcher that starts it). */
  args(args: string[]): string[] {
    // "--" as bin/tsrun passes it: Node 20 would take an --env-file among the arguments as its own.
    return [join(REPO, 'dist', `${this.bin}.cjs`), '--', '--root', this.root, '--runroot', this.runroot, ...args];
  }

  run(args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliResult {
    const r = spawnSync(process.execPath, this.args(args), {
      encoding: 'utf8',
      input: opts.input ?? '',
      timeout: opts.timeoutMs ?? 60_000,
      env: { ...process.env, ...opts.env },
    });
    return { code: r.status ?? (r.signal ? 128 : -1), stdout: r.stdout, stderr: r.stderr };
  }

  /** run() that must succeed: its stdout, or an Error with the exit code and stderr. */
  ok(args: string[]): string {
    const r = this.run(args);
    if (r.code !== 0) throw new Error(`${this.bin} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** run() without blocking this process (needed when a server the CLI talks to lives in it). */
  async runAsync(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
    return new Promise((resolveResult, reject) => {
      const child = spawn(process.execPath, this.args(args), {
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: { ...process.env, ...opts.env },
      });
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolveResult({ code: code ?? (signal ? 128 : -1), stdout, stderr });
      });
    });
  }

  /** Removes every container (forcefully) and the state dirs. */
  destroy(): void {
    const ids = this.run(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (ids.length) this.run(['rm', '-f', ...ids]);
    const base = join(this.root, '..');
    // Never recurse into a mount that a failed test left behind.
    for (const m of mountsUnder(base).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(base, { recursive: true, force: true });
  }
}

export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + '/')));
}
