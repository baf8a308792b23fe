// The addon's threads: the native spawn of the helper (src/native/spawn.c) with
// the status pipe and the exit learned on threads, and the cgroup lock warmer.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_EX, LOCK_NB, native } from '../../src/native/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-spawn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exitOf(pid: number): Promise<[number | null, number | null]> {
  return new Promise((res) => native().waitPid(pid, (code, signal) => res([code, signal])));
}

function readAll(fd: number): Promise<string> {
  return new Promise((res) => {
    let text = '';
    native().watchFd(fd, (chunk) => (chunk ? (text += chunk.toString()) : res(text)));
  });
}

describe('native spawn', () => {
  it('puts each given descriptor at its index, /dev/null for -1, and nothing else open', async () => {
    const out = join(dir, 'fds');
    const outFd = openSync(out, 'w');
    const [r, w] = native().makePipe();
    // Swapped on purpose: the child's 3 is our w and its 4 is our outFd.
    const pid = native().spawnProcess('/bin/sh', ['sh', '-c', 'echo to-pipe >&3; ls /proc/self/fd >&4; cat <&0'], [-1, 1, 2, w, outFd]);
    closeSync(w);
    closeSync(outFd);
    const [text, exit] = await Promise.all([readAll(r), exitOf(pid)]);
    expect(text).toBe('to-pipe\n');
    expect(exit).toEqual([0, null]);
    // 0-4, plus the directory ls itself opened: nothing of ours or vitest's leaks in.
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number).filter((n) => n > 4).length).toBeLessThanOrEqual(1);
  });

  it('reports exit codes and signals, and starts with default signal handling', async () => {
    expect(await exitOf(native().spawnProcess('/bin/sh', ['sh', '-c', 'exit 7'], [-1, -1, -1]))).toEqual([7, null]);
    // SIGPIPE is ignored in Node; the child must get the default back (death by signal 13).
    const [r, w] = native().makePipe();
    closeSync(r);
    const pid = native().spawnProcess('/bin/sh', ['sh', '-c', 'kill -PIPE $$'], [-1, w, -1]);
    closeSync(w);
    expect(await exitOf(pid)).toEqual([null, 13]);
  });

  it('throws with the errno of a program that cannot be started', () => {
    expect(() => native().spawnProcess(join(dir, 'missing'), ['x'], [])).toThrow(/ENOENT/);
  });

  it('waitPid takes one child, never 0 or -1 (which would reap anyone\'s children)', () => {
    expect(() => native().waitPid(0, () => {})).toThrow(/pid/);
    expect(() => native().waitPid(-1, () => {})).toThrow(/pid/);
  });

  it('unwatchFd stops the callbacks of a pipe whose writer stays open, and closes the read end', async () => {
    const [r, w] = native().makePipe();
    const got: Array<string | null> = [];
    const watch = native().watchFd(r, (chunk) => got.push(chunk ? chunk.toString() : null));
    writeSync(w, 'one');
    await new Promise((res) => setTimeout(res, 50));
    native().unwatchFd(watch);
    await new Promise((res) => setTimeout(res, 50));
    expect(() => writeSync(w, 'two')).toThrow(/EPIPE/);
    closeSync(w);
    await new Promise((res) => setTimeout(res, 20));
    expect(got).toEqual(['one']);
  });

  it('an unref\'d wait does not hold the process; a ref\'d one delivers', async () => {
    const pid = native().spawnProcess('/bin/sh', ['sh', '-c', 'exit 0'], [-1, -1, -1]);
    const wait = native().waitPid(pid, () => {});
    native().refHandle(wait, false);
    expect(await exitOf(native().spawnProcess('/bin/true', ['true'], [-1, -1, -1]))).toEqual([0, null]);
  });
});

describe('cgroup lock warmer', () => {
  it('writes "0" to the file at once and again until cooled, then stops', async () => {
    const f = join(dir, 'procs');
    closeSync(openSync(f, 'w'));
    expect(native().cgroupLockWarming()).toBe(false);
    expect(native().warmCgroupLock(f, '', 1000)).toBe(true);
    await new Promise((res) => setTimeout(res, 30));
    expect(readFileSync(f, 'utf8')).toBe('0');
    expect(native().cgroupLockWarming()).toBe(true); // what the launcher asks before warming again
    native().coolCgroupLock();
    expect(native().cgroupLockWarming()).toBe(false);
    await new Promise((res) => setTimeout(res, 10));
    closeSync(openSync(f, 'w')); // truncate: a write after cooling would show again
    await new Promise((res) => setTimeout(res, 30));
    expect(readFileSync(f, 'utf8')).toBe('');
  });

  it('writes only while it holds the shared lock file, and takes over when it is released', async () => {
    const f = join(dir, 'procs2');
    const lock = join(dir, 'warm.lock');
    closeSync(openSync(f, 'w'));
    const holder = openSync(lock, 'w');
    expect(native().flock(holder, LOCK_EX | LOCK_NB)).toBe(true); // another warmer is writing
    expect(native().warmCgroupLock(f, lock, 1000)).toBe(true);
    await new Promise((res) => setTimeout(res, 30));
    expect(readFileSync(f, 'utf8')).toBe('');
    closeSync(holder); // that warmer stops
    await new Promise((res) => setTimeout(res, 30));
    expect(readFileSync(f, 'utf8')).toBe('0');
    native().coolCgroupLock();
  });
});
