import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  AttachConnection, connectAttachSocket, DetachKeyMatcher, encodeFrame, FRAME, FrameDecoder, parseDetachKeys,
} from '../../../src/runtime/attach.js';

describe('attach frames', () => {
  it('have an 8-byte header [type, 0, 0, 0, big-endian length] and survive any chunking', () => {
    const a = encodeFrame(FRAME.STDOUT, Buffer.from('hello'));
    expect([...a.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0, 0, 0, 5]);
    const big = encodeFrame(FRAME.STDERR, Buffer.alloc(70000, 0x61));
    expect(big.readUInt32BE(4)).toBe(70000);
    const all = Buffer.concat([a, encodeFrame(FRAME.EXIT, Buffer.from('137')), big]);
    for (const size of [1, 3, 8, 9, 4096, all.length]) {
      const dec = new FrameDecoder();
      const frames = [];
      for (let i = 0; i < all.length; i += size) frames.push(...dec.push(all.subarray(i, i + size)));
      expect(frames.map((f) => [f.type, f.payload.length])).toEqual([[1, 5], [3, 3], [2, 70000]]);
      expect(frames[0]!.payload.toString()).toBe('hello');
    }
  });
});

describe('detach keys', () => {
  it('parse Docker\'s notation', () => {
    expect([...parseDetachKeys('ctrl-p,ctrl-q')]).toEqual([16, 17]);
    expect([...parseDetachKeys('ctrl-a,x,ctrl-[,ctrl-@,ctrl-_,DEL')]).toEqual([1, 120, 27, 0, 31, 127]);
    expect(parseDetachKeys('').length).toBe(0);
    for (const bad of ['ctrl-', 'ctrl-1', 'alt-x', 'ab', 'ctrl-p,,ctrl-q']) expect(() => parseDetachKeys(bad)).toThrow(UsageError);
  });

  it('are held back until complete, and passed on when the sequence breaks', () => {
    const m = new DetachKeyMatcher(Buffer.from([16, 17]));
    expect(m.push(Buffer.from('ab\x10'))).toEqual({ forward: Buffer.from('ab'), detached: false });
    expect(m.push(Buffer.from('c'))).toEqual({ forward: Buffer.from('\x10c'), detached: false });
    expect(m.push(Buffer.from('\x10\x10'))).toEqual({ forward: Buffer.from('\x10'), detached: false });
    expect(m.push(Buffer.from('\x11rest'))).toEqual({ forward: Buffer.alloc(0), detached: true });
    const typed = new DetachKeyMatcher(Buffer.from([16, 17]));
    expect(typed.push(Buffer.from('ls\r\x10\x11'))).toEqual({ forward: Buffer.from('ls\r'), detached: true });
    expect(new DetachKeyMatcher(Buffer.alloc(0)).push(Buffer.from('\x10\x11'))).toEqual({ forward: Buffer.from('\x10\x11'), detached: false });
  });
});

describe('AttachConnection against a fake monitor', () => {
  let server: Server | undefined;
  let dir: string | undefined;
  afterEach(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function monitor(path: string, onClient: (s: Socket, received: FrameDecoder) => void): Promise<void> {
    server = createServer((s) => onClient(s, new FrameDecoder()));
    await new Promise<void>((res) => server!.listen(path, res));
  }

  it('sends stdin and resizes as frames, writes output by stream and returns the exit code', async () => {
    dir = mkdtempSync('/tmp/tsrun-attach-unit-');
    const path = join(dir, 'attach');
    const got: { type: number; payload: string }[] = [];
    await monitor(path, (s, dec) => {
      s.on('data', (chunk: Buffer) => {
        for (const f of dec.push(chunk)) {
          got.push({ type: f.type, payload: f.type === FRAME.RESIZE ? [...f.payload].join(',') : f.payload.toString() });
          if (f.type === FRAME.STDIN) {
            s.write(encodeFrame(FRAME.STDOUT, Buffer.from(`out:${f.payload}`)));
            s.write(encodeFrame(FRAME.STDERR, Buffer.from('err')));
            s.end(encodeFrame(FRAME.EXIT, Buffer.from('42')));
          }
        }
      });
    });
    const conn = new AttachConnection(await connectAttachSocket(path));
    conn.resize(33, 300);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const result = conn.run({ stdin, stdout, stderr, detachKeys: parseDetachKeys('ctrl-p,ctrl-q') });
    stdin.write('hi\n');
    expect(await result).toEqual({ kind: 'exited', exitCode: 42 });
    expect(stdout.read()?.toString()).toBe('out:hi\n');
    expect(stderr.read()?.toString()).toBe('err');
    expect(got).toEqual([{ type: FRAME.RESIZE, payload: '0,33,1,44' }, { type: FRAME.STDIN, payload: 'hi\n' }]);
  });

  it('detaches on the keys after sending what came before them, and reports a close without an exit code', async () => {
    dir = mkdtempSync('/tmp/tsrun-attach-unit-');
    const path = join(dir, 'attach');
    const stdinSeen: string[] = [];
    let clients = 0;
    await monitor(path, (s, dec) => {
      if (++clients === 2) s.destroy(); // the second client: the monitor goes away without an exit code
      s.on('data', (chunk: Buffer) => {
        for (const f of dec.push(chunk)) if (f.type === FRAME.STDIN) stdinSeen.push(f.payload.toString());
      });
    });
    const conn = new AttachConnection(await connectAttachSocket(path));
    const stdin = new PassThrough();
    const result = conn.run({ stdin, stdout: new PassThrough(), stderr: new PassThrough(), detachKeys: parseDetachKeys('ctrl-x') });
    stdin.write('before\x18after');
    expect(await result).toEqual({ kind: 'detached' });
    await new Promise((r) => setTimeout(r, 50));
    expect(stdinSeen.join('')).toBe('before');

    const second = new AttachConnection(await connectAttachSocket(path));
    expect(await second.run({ stdout: new PassThrough(), stderr: new PassThrough() })).toEqual({ kind: 'closed' });
  });

  it('with stdinOnce announces it first; at the end of stdin passes on held-back key bytes, shuts down its writing side and still takes the output', async () => {
    dir = mkdtempSync('/tmp/tsrun-attach-unit-');
    const path = join(dir, 'attach');
    const got: { type: number; payload: string }[] = [];
    // allowHalfOpen: the fake monitor answers after the client's end, as the real one does.
    server = createServer({ allowHalfOpen: true }, (s) => {
      const dec = new FrameDecoder();
      s.on('data', (chunk: Buffer) => {
        for (const f of dec.push(chunk)) got.push({ type: f.type, payload: f.payload.toString() });
      });
      s.on('end', () => {
        s.write(encodeFrame(FRAME.STDOUT, Buffer.from('after-eof')));
        s.end(encodeFrame(FRAME.EXIT, Buffer.from('0')));
      });
    });
    await new Promise<void>((res) => server!.listen(path, res));
    const conn = new AttachConnection(await connectAttachSocket(path));
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const result = conn.run({ stdin, stdout, stderr: new PassThrough(), detachKeys: parseDetachKeys('ctrl-p,ctrl-q'), stdinOnce: true });
    stdin.end('data\x10');
    expect(await result).toEqual({ kind: 'exited', exitCode: 0 });
    expect(stdout.read()?.toString()).toBe('after-eof');
    expect(got).toEqual([
      { type: FRAME.STDIN_ONCE, payload: '' },
      { type: FRAME.STDIN, payload: 'data' },
      { type: FRAME.STDIN, payload: '\x10' },
    ]);
  });

  it('without stdinOnce sends no STDIN_ONCE frame', async () => {
    dir = mkdtempSync('/tmp/tsrun-attach-unit-');
    const path = join(dir, 'attach');
    const types: number[] = [];
    await monitor(path, (s, dec) => {
      s.on('data', (chunk: Buffer) => {
        for (const f of dec.push(chunk)) types.push(f.type);
        s.end(encodeFrame(FRAME.EXIT, Buffer.from('0')));
      });
    });
    const conn = new AttachConnection(await connectAttachSocket(path));
    const stdin = new PassThrough();
    const result = conn.run({ stdin, stdout: new PassThrough(), stderr: new PassThrough() });
    stdin.write('x');
    expect(await result).toEqual({ kind: 'exited', exitCode: 0 });
    expect(types).toEqual([FRAME.STDIN]);
  });

  it('connects through the directory when the path is too long for a unix socket address', async () => {
    dir = mkdtempSync('/tmp/tsrun-attach-unit-');
    const deep = join(dir, 'd'.repeat(60), 'e'.repeat(60));
    mkdirSync(deep, { recursive: true });
    const path = join(deep, 'attach');
    expect(Buffer.byteLength(path)).toBeGreaterThan(107);
    // The server binds through /proc/self/fd too (what the monitor does).
    const fd = openSync(deep, 'r');
    await monitor(`/proc/self/fd/${fd}/attach`, (s) => s.end(encodeFrame(FRAME.EXIT, Buffer.from('0'))));
    closeSync(fd);
    const conn = new AttachConnection(await connectAttachSocket(path));
    expect(await conn.run({ stdout: new PassThrough(), stderr: new PassThrough() })).toEqual({ kind: 'exited', exitCode: 0 });
  });
});
