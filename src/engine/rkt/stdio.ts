// rkt's per-app stdio modes (--stdin, --stdout, --stderr; rkt's
// devel/log-attach-design.md) on the engine's stdio: an app's streams are a
// pipe or a pty owned by its monitor, which logs all output and serves attach
// clients. Pure.
//
//   --stdin   null (default)  /dev/null
//             stream          a pipe kept open for `tsrkt attach`      -> engine -i
//             tty             the app's pty, input from `tsrkt attach`  -> engine -i -t
//   --stdout/--stderr
//             log (default)   the app's log; `tsrkt run` prints it with rkt's console prefix
//             stream          for `tsrkt attach` (still kept in the log; `tsrkt run` does not print it)
//             tty             the app's pty, for `tsrkt attach`        -> engine -t
//             null            refused: the monitor always keeps an app's output
//
// A pty carries stdout and stderr together, so tty is all or nothing for the
// two outputs, and a tty stdin needs tty outputs. --interactive (the pod's one
// app on this terminal) stands apart and takes no stdio flags.
import { UsageError } from '../../errors.js';

export type RktStdinMode = 'null' | 'stream' | 'tty';
export type RktOutputMode = 'log' | 'stream' | 'tty' | 'null';

export interface RktStdio {
  stdin: RktStdinMode;
  stdout: RktOutputMode;
  stderr: RktOutputMode;
}

export const DEFAULT_STDIO: Readonly<RktStdio> = { stdin: 'null', stdout: 'log', stderr: 'log' };

export function parseStdinMode(value: string): RktStdinMode {
  if (value === 'null' || value === 'stream' || value === 'tty') return value;
  throw new UsageError(`invalid stdin mode "${value}": use null, stream or tty`);
}

export function parseOutputMode(flag: 'stdout' | 'stderr', value: string): RktOutputMode {
  if (value === 'log' || value === 'stream' || value === 'tty' || value === 'null') return value;
  throw new UsageError(`invalid ${flag} mode "${value}": use log, stream, tty or null`);
}

/** The engine's -i/-t for an app's modes; UsageError for what the engine cannot do. */
export function engineStdio(s: RktStdio, app: string): { tty: boolean; interactive: boolean } {
  for (const stream of ['stdout', 'stderr'] as const) {
    if (s[stream] === 'null') {
      throw new UsageError(`--${stream}=null is not supported by tsrkt (app ${app}): an app's output always goes to its log; use log, stream or tty`);
    }
  }
  const ttyOut = s.stdout === 'tty' || s.stderr === 'tty';
  if (ttyOut && (s.stdout !== 'tty' || s.stderr !== 'tty')) {
    throw new UsageError(`app ${app}: tsrkt gives an app one terminal for both outputs: use --stdout=tty and --stderr=tty together`);
  }
  if (s.stdin === 'tty' && !ttyOut) {
    throw new UsageError(`app ${app}: --stdin=tty needs --stdout=tty and --stderr=tty (the app's terminal carries all three streams)`);
  }
  if (s.stdin === 'stream' && ttyOut) {
    throw new UsageError(`app ${app}: --stdin=stream cannot be combined with a terminal: use --stdin=tty or --stdin=null with --stdout=tty`);
  }
  return { tty: ttyOut, interactive: s.stdin !== 'null' };
}

/** The streams `tsrkt run` prints on its console (rkt's "journal+console"): those in log mode. */
export function consoleStreams(s: RktStdio): { stdout: boolean; stderr: boolean } {
  return { stdout: s.stdout === 'log', stderr: s.stderr === 'log' };
}

/** What `tsrkt attach` can reach: the app's tty, or its streams in stream mode. */
export function attachEndpoints(s: RktStdio): string[] {
  if (s.stdout === 'tty') return s.stdin === 'tty' ? ['tty-in', 'tty-out'] : ['tty-out'];
  const out: string[] = [];
  if (s.stdin === 'stream') out.push('stdin');
  if (s.stdout === 'stream') out.push('stdout');
  if (s.stderr === 'stream') out.push('stderr');
  return out;
}

/**
 * rkt attach's --mode: "auto" (every endpoint), "list", or endpoints joined by
 * commas (stdin, stdout, stderr, tty = tty-in + tty-out). Returns the chosen
 * endpoints, checked against the app's; tty and streams do not mix.
 */
export function attachSelection(mode: string, available: readonly string[], app: string): Set<string> {
  if (mode === 'auto' || mode === '') return new Set(available);
  const chosen = new Set<string>();
  for (const e of mode.split(',').map((x) => x.trim())) {
    if (e === 'tty') chosen.add('tty-in').add('tty-out');
    else if (['stdin', 'stdout', 'stderr', 'tty-in', 'tty-out'].includes(e)) chosen.add(e);
    else throw new UsageError(`invalid attach mode: unknown endpoint "${e}" (use auto, list, or stdin, stdout, stderr, tty, tty-in, tty-out)`);
  }
  const tty = chosen.has('tty-in') || chosen.has('tty-out');
  if (tty && (chosen.has('stdin') || chosen.has('stdout') || chosen.has('stderr'))) {
    throw new UsageError(`incompatible endpoints "${mode}": cannot attach a terminal and streams at once`);
  }
  for (const e of chosen) {
    if (!available.includes(e)) throw new UsageError(`app ${app} has no ${e} endpoint (it has: ${available.join(', ') || 'none'})`);
  }
  return chosen;
}

/** rkt's app annotations for the modes (what `cat-manifest` shows). */
export function stdioAnnotations(s: RktStdio, interactive: boolean): { name: string; value: string }[] {
  return (['stdin', 'stdout', 'stderr'] as const).map((k) => ({ name: `coreos.com/rkt/stage2/${k}`, value: interactive ? 'interactive' : s[k] }));
}
