// What the helper reports: status messages on the status fd and the exit
// file, and how its failures become tsrun's typed errors.
import { constants } from 'node:os';
import { CannotInvokeError, CommandNotFoundError, LaunchError, type TsrunError } from '../errors.js';

export interface StepFailure {
  step: string;
  errno: number;
  path: string;
  message?: string;
}

export type StatusMessage =
  | { kind: 'created'; pid: number; monitorPid: number }
  | { kind: 'started' }
  | ({ kind: 'error' } & StepFailure);

let errnoNames: Map<number, string> | undefined; // made on first use: not at every start

export function errnoName(n: number): string {
  errnoNames ??= new Map<number, string>(Object.entries(constants.errno).map(([name, errno]) => [errno as number, name]));
  return errnoNames.get(n) ?? `errno ${n}`;
}

/** Steps whose failure means the command itself could not be run. */
const EXEC_STEPS = new Set(['lookup-command', 'exec']);

/** Docker's convention: 127 when the command is missing, 126 when it cannot be invoked. */
export function execFailureExitCode(errno: number): number {
  return errno === constants.errno.ENOENT ? 127 : 126;
}

export function isExecFailure(f: StepFailure): boolean {
  return EXEC_STEPS.has(f.step);
}

/** The typed error for a failed step, naming the step, the path and the errno. */
export function errorForFailure(f: StepFailure): TsrunError {
  const why = `${f.message ?? errnoName(f.errno)} (${errnoName(f.errno)})`;
  if (isExecFailure(f)) {
    if (f.errno === constants.errno.ENOENT) {
      return new CommandNotFoundError(`exec: "${f.path}": executable file not found in $PATH or no such file or directory`);
    }
    return new CannotInvokeError(`exec: "${f.path}": cannot run: ${why}`);
  }
  return new LaunchError(`container set-up failed at step ${f.step}${f.path ? ` (${f.path})` : ''}: ${why}`, f.step);
}

/** Incremental decoder of the status stream: netstring fields, each message ended by an empty one. */
export class StatusDecoder {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): StatusMessage[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: StatusMessage[] = [];
    for (;;) {
      const fields: string[] = [];
      let pos = 0;
      let complete = false;
      for (;;) {
        const colon = this.buf.indexOf(0x3a, pos);
        if (colon < 0) break;
        const len = Number(this.buf.subarray(pos, colon).toString());
        if (!Number.isInteger(len) || colon + 1 + len >= this.buf.length) break;
        if (len === 0) {
          pos = colon + 2;
          complete = true;
          break;
        }
        fields.push(this.buf.subarray(colon + 1, colon + 1 + len).toString());
        pos = colon + 1 + len + 1;
      }
      if (!complete) break;
      this.buf = this.buf.subarray(pos);
      const msg = toMessage(fields);
      if (msg) out.push(msg);
    }
    return out;
  }
}

function toMessage(f: string[]): StatusMessage | undefined {
  switch (f[0]) {
    case 'created':
      return { kind: 'created', pid: Number(f[1]), monitorPid: Number(f[2]) };
    case 'started':
      return { kind: 'started' };
    case 'error':
      return { kind: 'error', step: f[1] ?? '?', errno: Number(f[2]), path: f[3] ?? '', message: f[4] };
    default:
      return undefined;
  }
}

/** The exit file the monitor writes atomically when the container ends. */
export interface ExitFile {
  exitCode: number;
  signal?: string;
  finishedAt: string;
  error?: { step: string; errno: number; path: string };
}
