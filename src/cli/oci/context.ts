// What every tsrun-oci command gets: the global options and the launcher.
import { appendFileSync } from 'node:fs';
import type { Launcher } from '../../runtime/launcher.js';
import type { Parsed } from './args.js';

export interface OciGlobals {
  /** State root (runc's --root). */
  root: string;
  /** Where errors and warnings go as well as stderr (runc's --log). */
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
}

export class OciContext {
  private launcherInstance: Launcher | undefined;

  constructor(readonly globals: OciGlobals, private readonly makeLauncher: (ctx: OciContext) => Launcher) {}

  get launcher(): Launcher {
    return (this.launcherInstance ??= this.makeLauncher(this));
  }

  /** A log line as runc writes it: JSON {"level","msg","time"} or logfmt text. */
  logLine(level: 'error' | 'warning' | 'debug', msg: string): void {
    if (!this.globals.log) return;
    const time = new Date().toISOString();
    const line =
      this.globals.logFormat === 'json'
        ? JSON.stringify({ level, msg, time })
        : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      appendFileSync(this.globals.log, line + '\n');
    } catch {
      /* the log is a courtesy; stderr still has the message */
    }
  }

  /** Warnings go to the log file when there is one (stderr may be the container's pipe), else stderr. */
  warn(msg: string): void {
    if (this.globals.log) this.logLine('warning', msg);
    else process.stderr.write(`tsrun-oci: warning: ${msg}\n`);
  }
}

export interface OciCommand {
  /** Usage line for --help. */
  usage: string;
  options: import('./args.js').OptionSpecs;
  /** exec takes a command line after the id: stop option parsing there. */
  stopAtPositional?: boolean;
  run(ctx: OciContext, args: Parsed): Promise<number>;
}
