// The client side of a monitor's attach socket (protocol: src/helper/PLAN.md,
// "The attach socket"). A unix stream socket carrying frames both ways: an
// 8-byte header [type, 0, 0, 0, payload length as big-endian u32] (Docker's
// stdcopy header) and the payload. This module knows the frames, the detach
// keys and how to pump streams through a connection; the terminal (raw mode,
// window size, signals) is the caller's.
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { UsageError } from '../errors.js';

export const FRAME = {
  /** client -> monitor: bytes for the container's stdin */
  STDIN: 0,
  /** monitor -> client */
  STDOUT: 1,
  /** monitor -> client */
  STDERR: 2,
  /** monitor -> client: the exit code in decimal; the monitor closes the connection next */
  EXIT: 3,
  /** client -> monitor: rows and cols as big-endian u16 each */
  RESIZE: 4,
  /** client -> monitor, no payload: the end of this client's input (EOF, detach, disconnect) ends the container's stdin (Docker's StdinOnce) */
  STDIN_ONCE: 5,
} as const;

export interface Frame {
  type: number;
  payload: Buffer;
}

export function encodeFrame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head[0] = type;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export function resizeFrame(rows: number, cols: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(Math.max(0, Math.min(65535, rows)), 0);
  p.writeUInt16BE(Math.max(0, Math.min(65535, cols)), 2);
  return encodeFrame(FRAME.RESIZE, p);
}

/** Cuts a byte stream into frames, whatever the chunking. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      out.push({ type: this.buf[0]!, payload: this.buf.subarray(8, 8 + len) });
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }
}

/**
 * Docker's --detach-keys: comma-separated keys, each a single character or
 * "ctrl-X" (X a letter, or one of @ [ \ ] ^ _). "" turns detaching off (as
 * Podman does; Docker then uses its default).
 */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === '') return Buffer.alloc(0);
  const specials: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };
  const codes: number[] = [];
  for (const key of spec.split(',')) {
    const m = /^ctrl-(.)$/i.exec(key);
    const c = m?.[1]!.toLowerCase();
    if (key.length === 1 && key.charCodeAt(0) < 128) codes.push(key.charCodeAt(0));
    else if (key === 'DEL') codes.push(127);
    else if (c && c >= 'a' && c <= 'z') codes.push(c.charCodeAt(0) - 0x60);
    else if (c && c in specials) codes.push(specials[c]!);
    else throw new UsageError(`invalid detach keys "${spec}": unknown key "${key}" (use a character, ctrl-<a-z, @, [, \\, ], ^ or _> or DEL, comma-separated)`);
  }
  return Buffer.from(codes);
}

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Finds the detach sequence in what the user types: bytes that may start it are
 * held back until it is complete (detach) or broken (they are passed on), as
 * Docker's escape proxy does.
 */
export class DetachKeyMatcher {
  private matched = 0;

  constructor(private readonly keys: Buffer) {}

  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        if (++this.matched === this.keys.length) return { forward: Buffer.from(out), detached: true };
        continue;
      }
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = 0;
      if (b === this.keys[0]) this.matched = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detached: false };
  }

  /** At the end of the input: what was held back as a possible start of the keys. */
  flush(): Buffer {
    const held = this.keys.subarray(0, this.matched);
    this.matched = 0;
    return Buffer.from(held);
  }
}

/** Connects to an attach socket, through its directory's fd when the path is too long for sun_path. */
export async function connectAttachSocket(path: string): Promise<Socket> {
  let dirFd: number | undefined;
  let target = path;
  if (Buffer.byteLength(path) > 107) {
    dirFd = openSync(dirname(path), fsc.O_RDONLY | fsc.O_DIRECTORY);
    target = `/proc/self/fd/${dirFd}/${basename(path)}`;
  }
  try {
    return await new Promise<Socket>((resolve, reject) => {
      const sock = connect(target);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(sock);
      });
      sock.once('error', reject);
    });
  } finally {
    if (dirFd !== undefined) closeSync(dirFd);
  }
}

export type AttachResult =
  | { kind: 'exited'; exitCode: number }
  /** The user typed the detach keys: the container runs on. */
  | { kind: 'detached' }
  /** The monitor closed the connection without an exit code (killed, or this client could not keep up). */
  | { kind: 'closed' };

export interface AttachStreams {
  /** What the user types; undefined: stdin is not attached. */
  stdin?: Readable;
  stdout: Writable;
  /** With a terminal the container has one output stream: everything arrives as stdout. */
  stderr: Writable;
  /** Detach keys (parseDetachKeys); empty: no detaching. Only looked for when stdin is attached. */
  detachKeys?: Buffer;
  /**
   * Docker's StdinOnce: when our stdin ends (EOF, detach, or we go away) the
   * container's stdin is closed. Otherwise it stays open for the next client.
   */
  stdinOnce?: boolean;
}

/**
 * Pumps a connected attach socket: stdin to the container, its output to the
 * streams, until it exits, the user detaches, or the monitor closes.
 */
export class AttachConnection {
  private readonly decoder = new FrameDecoder();
  private exitCode: number | undefined;

  constructor(private readonly sock: Socket) {}

  resize(rows: number, cols: number): void {
    if (rows > 0 && cols > 0 && !this.sock.destroyed) this.sock.write(resizeFrame(rows, cols));
  }

  run(streams: AttachStreams): Promise<AttachResult> {
    const { sock } = this;
    return new Promise<AttachResult>((resolve) => {
      let done = false;
      const finish = (r: AttachResult) => {
        if (done) return;
        done = true;
        if (streams.stdin) {
          streams.stdin.off('data', onInput);
          streams.stdin.pause();
        }
        sock.destroy();
        resolve(r);
      };
      const write = (out: Writable, data: Buffer) => {
        if (!out.write(data)) {
          sock.pause();
          out.once('drain', () => sock.resume());
        }
      };
      sock.on('data', (chunk: Buffer) => {
        for (const f of this.decoder.push(chunk)) {
          if (f.type === FRAME.STDOUT) write(streams.stdout, f.payload);
          else if (f.type === FRAME.STDERR) write(streams.stderr, f.payload);
          else if (f.type === FRAME.EXIT) this.exitCode = Number(f.payload.toString());
        }
      });
      sock.on('error', () => undefined); // 'close' follows
      sock.on('close', () => finish(this.exitCode !== undefined && Number.isInteger(this.exitCode) ? { kind: 'exited', exitCode: this.exitCode } : { kind: 'closed' }));
      const matcher = new DetachKeyMatcher(streams.detachKeys ?? Buffer.alloc(0));
      let detaching = false;
      const onInput = (chunk: Buffer | string) => {
        if (detaching) return;
        const { forward, detached } = matcher.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        if (forward.length && !sock.destroyed) sock.write(encodeFrame(FRAME.STDIN, forward));
        if (detached) {
          // What was typed before the keys goes out first; the container's stdin stays open (without STDIN_ONCE).
          detaching = true;
          sock.end(() => finish({ kind: 'detached' }));
          setTimeout(() => finish({ kind: 'detached' }), 1000).unref();
        }
      };
      if (streams.stdin) {
        if (streams.stdinOnce) sock.write(encodeFrame(FRAME.STDIN_ONCE));
        streams.stdin.on('data', onInput);
        // End of our stdin: shut down our writing side and keep reading the output. The
        // monitor closes the container's stdin if we sent STDIN_ONCE, else it stays open.
        const onEnd = () => {
          if (done || detaching || sock.destroyed) return;
          const held = matcher.flush();
          if (held.length) sock.write(encodeFrame(FRAME.STDIN, held));
          sock.end();
        };
        streams.stdin.once('end', onEnd);
        streams.stdin.once('error', onEnd); // e.g. EIO from a terminal that went away: the same as its end
      }
    });
  }
}
