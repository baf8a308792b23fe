import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileLock } from '../../../src/util/lock.js';

// The races need another party to act between an acquirer's open and its flock, which a single
// process cannot time: the addon's flock is wrapped so a test can run a step right before it.
const hooks = vi.hoisted(() => ({ beforeFlock: undefined as undefined | ((fd: number, op: number) => void) }));

vi.mock('../../../src/native/index.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/native/index.js')>();
  const wrapped = {
    flock(fd: number, op: number): boolean {
      const step = hooks.beforeFlock;
      hooks.beforeFlock = undefined; // once
      step?.(fd, op);
      return real.native().flock(fd, op);
    },
    namesFile: (p: string, fd: number): boolean => real.native().namesFile(p, fd),
  };
  return { ...real, native: () => wrapped };
});

const root = mkdtempSync(join(tmpdir(), 'tsrun-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let path: string;
let held: FileLock[];
beforeEach(() => {
  dir = mkdtempSync(join(root, 'case-'));
  path = join(dir, 'x.lock');
  held = [];
});
afterEach(() => {
  hooks.beforeFlock = undefined;
  for (const l of held) l.release();
});

/** Starts an acquire of `path` and returns, once it waits (the lock is held), the promise of its lock (wrapped: an async function's result would wait for it). */
async function waitingAcquire(): Promise<{ done: Promise<FileLock> }> {
  let waiting!: () => void;
  const waits = new Promise<void>((resolve) => (waiting = resolve));
  const done = FileLock.acquire(path, { pollMs: 5, onWait: () => waiting() });
  await waits;
  return { done };
}

/** Keeps track of what a test acquired, so a failing test leaves no lock behind for the next. */
function kept<T extends FileLock | undefined>(lock: T): T {
  if (lock) held.push(lock);
  return lock;
}

/** Inode numbers of the flock(2) locks this process holds, from /proc/locks. */
function inodesLockedByUs(): number[] {
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .map((line) => line.split(/\s+/))
    .filter((f) => f[1] === 'FLOCK' && f[4] === String(process.pid))
    .map((f) => Number(f[5]!.split(':')[2]));
}

describe('FileLock', () => {
  it('excludes a second holder and creates the file', () => {
    const a = kept(FileLock.tryAcquire(path));
    expect(a).toBeDefined();
    expect(existsSync(path)).toBe(true);
    expect(FileLock.tryAcquire(path)).toBeUndefined();
    expect(FileLock.isHeld(path)).toBe(true);
    a!.release();
    expect(FileLock.isHeld(path)).toBe(false);
    expect(existsSync(path)).toBe(true); // a plain release keeps the file
  });

  it('releaseAndRemove deletes the file and frees the lock', () => {
    const a = kept(FileLock.tryAcquire(path))!;
    a.releaseAndRemove();
    expect(existsSync(path)).toBe(false);
    expect(FileLock.isHeld(path)).toBe(false);
    const b = kept(FileLock.tryAcquire(path));
    expect(b).toBeDefined();
    expect(statSync(path).ino).toBeGreaterThan(0);
  });

  it('only an exclusive holder may remove the file', () => {
    const s = kept(FileLock.tryAcquire(path, true))!;
    expect(() => s.releaseAndRemove()).toThrow(/shared/);
    expect(existsSync(path)).toBe(true);
    expect(FileLock.isHeld(path)).toBe(true); // still held: the refusal let go of nothing
  });

  it('a waiter that opened the file before its removal ends up holding the new file, alone', async () => {
    const a = kept(FileLock.tryAcquire(path))!;
    const { done: bDone } = await waitingAcquire();
    // B's next attempt has opened the file (A's inode) and is about to flock it: A removes it now.
    hooks.beforeFlock = () => a.releaseAndRemove();
    const b = kept(await bDone);
    expect(hooks.beforeFlock).toBeUndefined(); // the removal did run in that window
    expect(existsSync(path)).toBe(true); // B made a fresh file at the path
    // B's lock is on the file at the path, not the deleted one (whose inode number, still open,
    // the fresh file cannot have; once freed, tmpfs may well give the same number again).
    expect(inodesLockedByUs()).toEqual([statSync(path).ino]);
    expect(kept(FileLock.tryAcquire(path))).toBeUndefined(); // so C cannot get it too
    expect(FileLock.isHeld(path)).toBe(true);
    b.release();
    expect(kept(FileLock.tryAcquire(path))).toBeDefined();
  });

  it('a plain releaseAndRemove while another waits hands it over to that one', async () => {
    const a = kept(FileLock.tryAcquire(path))!;
    const { done: bDone } = await waitingAcquire();
    a.releaseAndRemove();
    kept(await bDone);
    expect(inodesLockedByUs()).toEqual([statSync(path).ino]);
    expect(kept(FileLock.tryAcquire(path))).toBeUndefined();
  });

  it('tryAcquire retries on the file now at the path when its opened one was replaced before the flock', () => {
    kept(FileLock.tryAcquire(path))!.release();
    const replacement = join(dir, 'replacement');
    hooks.beforeFlock = () => {
      kept(FileLock.tryAcquire(replacement))!.release(); // a free file, put in place by rename
      renameSync(replacement, path);
    };
    const got = kept(FileLock.tryAcquire(path));
    expect(hooks.beforeFlock).toBeUndefined();
    expect(got).toBeDefined();
    expect(inodesLockedByUs()).toEqual([statSync(path).ino]); // the lock is on the file at the path
    expect(kept(FileLock.tryAcquire(path))).toBeUndefined();
  });

  it('tryAcquire fails when its opened file was replaced by one that someone holds', () => {
    kept(FileLock.tryAcquire(path))!.release();
    const replacement = join(dir, 'replacement');
    hooks.beforeFlock = () => {
      kept(FileLock.tryAcquire(replacement)); // C holds the file that then takes the path
      renameSync(replacement, path);
    };
    expect(kept(FileLock.tryAcquire(path))).toBeUndefined();
    expect(hooks.beforeFlock).toBeUndefined();
    expect(inodesLockedByUs()).toEqual([statSync(path).ino]); // C's, and nothing left on the old file
  });

  it('tryAcquire retries when its opened file was removed before the flock', () => {
    kept(FileLock.tryAcquire(path))!.release();
    hooks.beforeFlock = () => rmSync(path);
    const got = kept(FileLock.tryAcquire(path));
    expect(got).toBeDefined();
    expect(existsSync(path)).toBe(true);
    expect(inodesLockedByUs()).toEqual([statSync(path).ino]);
  });

  it('isHeld is false for a missing file and does not create it', () => {
    expect(FileLock.isHeld(path)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  it('isHeld asks the file now at the path when the one it opened was removed before its check', () => {
    const a = kept(FileLock.tryAcquire(path))!;
    hooks.beforeFlock = () => {
      // A removes its file; C makes and holds a new one before isHeld's flock on the old file.
      a.releaseAndRemove();
      kept(FileLock.tryAcquire(path));
    };
    expect(FileLock.isHeld(path)).toBe(true);
    expect(hooks.beforeFlock).toBeUndefined();
  });
});
