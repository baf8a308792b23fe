// Running iproute2, nft and friends: one place that turns a failed command
// into a NetworkError carrying its stderr, and feeds batches on stdin.
import { execFile } from 'node:child_process';
import { NetworkError } from '../errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export class CommandFailed extends NetworkError {
  constructor(readonly argv: string[], readonly stderr: string, readonly exitCode: number | undefined, step: string, options?: { cause?: unknown }) {
    super(`${argv.join(' ')} failed${exitCode !== undefined ? ` (exit ${exitCode})` : ''}: ${stderr.trim() || 'no output'}`, step, options);
  }
}

/** Run `argv`, optionally with `input` on stdin; NetworkError (CommandFailed) on a non-zero exit. */
export function run(argv: string[], opts: { input?: string; step: string }): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : undefined;
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
          reject(new NetworkError(`${argv[0]} is not installed or not in PATH`, opts.step, { cause: err }));
        else reject(new CommandFailed(argv, stderr || err.message, code, opts.step, { cause: err }));
        return;
      }
      resolve({ stdout, stderr });
    });
    child.stdin?.on('error', () => {}); // a command that exits early closes stdin; its exit status tells what happened
    child.stdin?.end(opts.input ?? '');
  });
}

/** True when `argv[0]` can be found in PATH (or is an existing absolute path). */
export function commandExists(name: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', 'command -v "$1"', 'sh', name], (err) => resolve(!err));
  });
}
