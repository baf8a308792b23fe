// What an attached `run`/`start`/`attach` does in the user's terminal: forwards
// signals to the container (Docker's --sig-proxy), relays the terminal through
// a monitor's attach socket (raw mode, window size, detach keys), and shows pull
// progress.
import { closeSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import type { Containers } from '../../engine/containers.js';
import type { ContainerRecord } from '../../engine/container-store.js';
import type { PullEvent } from '../../engine/pull.js';
import { StateError } from '../../errors.js';
import { defaultDockerConfigPath } from '../../registry/credentials.js';
import { native } from '../../native/index.js';
import { AttachConnection, DEFAULT_DETACH_KEYS, parseDetachKeys, type AttachedSession, type AttachResult } from '../../runtime/index.js';
import { familiarOrSame } from './names.js';
import { printWarning } from './engine-access.js';
import { PullProgress } from './pull-progress.js';
import { makeTerminalRaw } from '../terminal.js';

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Forwards the signals tsrun receives to the container; returns the function that stops it. */
export function attachSignalProxy(containers: Containers, record: ContainerRecord): () => void {
  const handlers = PROXIED.map((sig) => {
    const handler = () => void containers.kill(record, sig).catch(() => undefined);
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
}

/**
 * How a foreground container starts (`run`, `start -a`): its monitor in a session of its own,
 * as a container of Docker's daemon is, so a terminal's Ctrl-C or a kill of our process group
 * (even kill -9: --rm then still happens at its exit) reaches us only; we forward each signal
 * once (sig-proxy) or none. Our stdin, if the container reads it and it is a terminal, goes
 * through a pipe we feed (outside the terminal's foreground group the monitor should not read
 * it); any other stdin is passed as it is. With a tty (`run -t` without -i) Docker has no
 * signal proxy: we pass on only what the terminal sends (Ctrl-C and Ctrl-\, which end us too,
 * and its resizes, which the monitor reads from the terminal).
 * Either way the container's output reaches our stdout/stderr only while we live: killed, we
 * leave it to the log (`tsrun logs`), as Docker's output, which goes through its CLI, stops
 * with it, and a reader of our stdout gets its end at once.
 * `end()` once the container is done with our stdin (it has exited).
 */
export function foregroundSession(o: { tty: boolean; interactive: boolean; sigProxy: boolean }): { session: AttachedSession; end: () => void } {
  if (o.tty) return { session: { ownSession: true, forwardSignals: 'terminal', stdioEndsWithCaller: true }, end: () => undefined };
  const session: AttachedSession = { ownSession: true, forwardSignals: o.sigProxy, stdioEndsWithCaller: true };
  if (!o.interactive || !isatty(0)) return { session, end: () => undefined };
  const relay = relayStdinThroughPipe();
  return { session: { ...session, stdio: [relay.readFd, 'inherit', 'inherit'] }, end: relay.end };
}

/** Copies our stdin into a new pipe until its end (which closes the pipe); `end()` stops and closes everything. */
function relayStdinThroughPipe(): { readFd: number; end: () => void } {
  const [readFd, writeFd] = native().makePipe();
  const sink = new Socket({ fd: writeFd, readable: false, writable: true });
  sink.on('error', () => undefined); // the monitor is gone: the container no longer needs our input
  process.stdin.pipe(sink);
  return {
    readFd,
    end: () => {
      process.stdin.unpipe(sink);
      process.stdin.destroy();
      sink.destroy();
      closeSync(readFd);
    },
  };
}

/**
 * The detach keys: --detach-keys if given ("" turns detaching off), else the
 * Docker config's "detachKeys", else ctrl-p,ctrl-q. A bad config value is
 * warned about and replaced by the default, as Docker does.
 */
export function detachKeysFor(flag: string | undefined): Buffer {
  if (flag !== undefined) return parseDetachKeys(flag);
  let configured: unknown;
  try {
    configured = (JSON.parse(readFileSync(defaultDockerConfigPath(), 'utf8')) as { detachKeys?: unknown }).detachKeys;
  } catch {
    configured = undefined; // no config (or not JSON): the default
  }
  if (typeof configured === 'string' && configured !== '') {
    try {
      return parseDetachKeys(configured);
    } catch (err) {
      printWarning(`invalid detachKeys in ${defaultDockerConfigPath()}, using the default: ${(err as Error).message}`);
    }
  }
  return parseDetachKeys(DEFAULT_DETACH_KEYS);
}

export interface RelayOptions {
  /** The container has a pty: our terminal goes raw and its size follows ours. */
  tty: boolean;
  /** Our stdin goes to the container. */
  withStdin: boolean;
  detachKeys: Buffer;
  /** Docker's StdinOnce: the end of our stdin (EOF, detach) ends the container's. */
  stdinOnce?: boolean;
  /**
   * Send a size one off first: a program already waiting for input (a shell
   * at its prompt) redraws on the change, as Docker's attach does.
   */
  nudgeSize?: boolean;
}

/** Relays our stdio through an attach connection until the container exits, we detach, or the monitor closes. */
export async function relayTerminal(conn: AttachConnection, o: RelayOptions): Promise<AttachResult> {
  const stdin = process.stdin;
  const out = process.stdout;
  // Docker's raw mode only when our terminal types into the container's pty (not for -t alone).
  const restoreTerminal = o.tty && o.withStdin && stdin.isTTY ? makeTerminalRaw(stdin.fd) : undefined;
  const onResize = () => conn.resize(out.rows, out.columns);
  if (o.tty && out.isTTY) {
    if (o.nudgeSize) conn.resize(out.rows + 1, out.columns + 1);
    onResize();
    out.on('resize', onResize);
  }
  try {
    return await conn.run({
      stdin: o.withStdin ? stdin : undefined,
      stdout: out,
      stderr: process.stderr,
      detachKeys: o.detachKeys,
      stdinOnce: o.stdinOnce,
    });
  } finally {
    restoreTerminal?.();
    out.off('resize', onResize);
    if (o.withStdin) stdin.destroy();
  }
}

/**
 * The exit code once the monitor closed the connection without one (it was
 * killed, or dropped this client for not keeping up with the output).
 */
export async function exitCodeAfterClose(containers: Containers, record: ContainerRecord): Promise<number> {
  const end = Date.now() + 2000;
  while (containers.isRunning(record)) {
    if (Date.now() > end) {
      throw new StateError(`the monitor of container ${record.name} closed the attach connection (this client did not keep up with its output)`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return containers.state(record).exitCode ?? 0;
}

/**
 * `run -it` and `start -ai`: the container starts as a detached one with us as
 * its first attach client, so the detach keys leave it running (Docker's
 * ctrl-p ctrl-q) and `attach` takes it back. Returns the container's exit code,
 * or 0 once detached (docker/cli's run and start return quietly on the escape
 * sequence). With --rm, the container is removed before we return.
 * `start -a [-i]` of a container whose stdin outlives its client (no StdinOnce)
 * comes here too: the monitor holds that stdin, so our stdin's end does not close it.
 */
export async function startAndAttach(
  containers: Containers,
  record: ContainerRecord,
  o: { detachKeys: Buffer; sigProxy: boolean; withStdin?: boolean },
): Promise<number> {
  const out = process.stdout;
  const consoleSize = record.config.tty && out.isTTY && out.rows > 0 && out.columns > 0 ? { height: out.rows, width: out.columns } : undefined;
  const sock = await containers.startAttached(record, { consoleSize });
  const conn = new AttachConnection(sock);
  // Signals reach the container (in raw mode the terminal's keys arrive as bytes, not signals).
  const undoProxy = o.sigProxy ? attachSignalProxy(containers, record) : () => undefined;
  let result: AttachResult;
  try {
    result = await relayTerminal(conn, {
      tty: record.config.tty,
      withStdin: record.config.openStdin && (o.withStdin ?? true),
      detachKeys: o.detachKeys,
      stdinOnce: Boolean(record.config.stdinOnce) && !record.config.tty,
    });
  } finally {
    undoProxy();
  }
  if (result.kind === 'detached') return 0;
  const code = result.kind === 'exited' ? result.exitCode : await exitCodeAfterClose(containers, record);
  await containers.finishAttached(record);
  return code;
}

/** `run` and `create` pull a missing image with Docker's output, on stderr so stdout stays the container's. */
export function pullReporter(quiet: boolean) {
  // Made on the first event: reading process.stderr builds a stream (~2 ms, more on a
  // terminal), which a run of an image that is already here never needs.
  let progress: PullProgress | undefined;
  return {
    onPull: (name: string) => {
      if (!quiet) process.stderr.write(`Unable to find image '${familiarOrSame(name)}' locally\n`);
    },
    onEvent: quiet ? undefined : (event: unknown) => (progress ??= new PullProgress(process.stderr, Boolean(process.stderr.isTTY), false)).handle(event as PullEvent),
  };
}

/** `run` and `create`: a container from the image and flags, pulling the image as --pull says. */
export function createFromFlags(containers: Containers, image: string, command: string[], flags: Record<string, unknown>): Promise<ContainerRecord> {
  const reporter = pullReporter(Boolean(flags.quiet));
  return containers.create({
    image,
    command,
    flags,
    pull: flags.pull as 'missing' | 'always' | 'never',
    platform: flags.platform as string | undefined,
    onPull: reporter.onPull,
    onPullEvent: reporter.onEvent,
  });
}
