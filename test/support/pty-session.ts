// A command run in a real terminal, as a user types into it: `script` gives it a pty of
// 33 rows by 91 columns; we read what the terminal shows and type into it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TsrunCli } from './tsrun-cli.js';

export const CTRL_P_Q = '\x10\x11';

export class PtySession {
  out = '';
  readonly exited: Promise<number>;
  private readonly child: ChildProcessWithoutNullStreams;

  /** A shell command line in the pty (tsrunLine() quotes a tsrun command for it). */
  constructor(line: string) {
    this.child = spawn('script', ['-qfec', `stty cols 91 rows 33; ${line}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((res) => this.child.on('close', (code, signal) => res(code ?? (signal ? 128 : -1))));
  }

  write(s: string): void {
    this.child.stdin.write(s);
  }

  async waitFor(re: RegExp, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; the terminal shows: ${JSON.stringify(this.out)}`);
      await sleep(25);
    }
  }

  async exitCode(ms = 20_000): Promise<number> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A tsrun command quoted for a shell line. */
export function tsrunLine(cli: TsrunCli, args: string[]): string {
  return [process.execPath, ...cli.args(args)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}
