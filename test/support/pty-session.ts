// A client process as a user drives it: its output, which we wait for, and its stdin, which we
// type into; in a real terminal through `script` (33 rows by 91 columns) or with pipes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TsrunCli } from './tsrun-cli.js';

/** Docker's default detach keys. */
export const CTRL_P_Q = '\x10\x11';

export class Session {
  out = '';
  err = '';
  readonly exited: Promise<number>;
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((res) => this.child.on('close', (code, signal) => res(code ?? (signal ? 128 : -1))));
  }

  /** A shell command line in a pty of `script` (33 rows by 91 columns); tsrunLine() quotes a tsrun command for it. */
  static shellInPty<T extends Session>(this: new (cmd: string, args: string[]) => T, line: string): T {
    return new this('script', ['-qfec', `stty cols 91 rows 33; ${line}`, '/dev/null']);
  }

  get pid(): number {
    return this.child.pid!;
  }

  write(s: string): void {
    this.child.stdin.write(s);
  }

  /** EOF on the client's stdin. */
  end(): void {
    this.child.stdin.end();
  }

  async waitFor(re: RegExp, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; stdout: ${JSON.stringify(this.out)} stderr: ${JSON.stringify(this.err)}`);
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
