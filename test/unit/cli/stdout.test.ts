// stdout.write hands fd 1 all of its text: partial writes go on, a full non-blocking pipe is
// waited for, and a reader that went away ends the command with 141.
import { afterEach, describe, expect, it, vi } from 'vitest';

const writes: Buffer[] = [];
const written = () => writes.map((w) => w.toString('utf8'));
let script: Array<number | string> = []; // per call: bytes to take, or an errno code to throw

vi.mock('node:fs', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:fs')>()),
  writeSync: (fd: number, bytes: Buffer) => {
    expect(fd).toBe(1);
    const next = script.shift() ?? bytes.length;
    if (typeof next === 'string') throw Object.assign(new Error(next), { code: next });
    writes.push(Buffer.from(bytes.subarray(0, next)));
    return next;
  },
}));

const { stdout } = await import('../../../src/cli/stdout.js');

afterEach(() => {
  writes.length = 0;
  script = [];
  vi.restoreAllMocks();
});

describe('stdout.write', () => {
  it('writes the whole text, going on after partial writes', () => {
    script = [3, 2];
    expect(stdout.write('hello world\n')).toBe(true);
    expect(written()).toEqual(['hel', 'lo', ' world\n']);
  });

  it('counts bytes, not characters: a write may end inside one', () => {
    script = [1];
    stdout.write('\u00b5s\n');
    expect(writes.length).toBe(2);
    expect(Buffer.concat(writes).toString('utf8')).toBe('\u00b5s\n');
  });

  it('waits for a full non-blocking pipe and retries an interrupted write', () => {
    script = ['EAGAIN', 'EINTR', 'EAGAIN'];
    stdout.write('after a wait\n');
    expect(written()).toEqual(['after a wait\n']);
  });

  it('ends with 141 when the reader went away', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    script = ['EPIPE'];
    expect(() => stdout.write('nobody reads this\n')).toThrow('exit 141');
    expect(exit).toHaveBeenCalledWith(141);
  });

  it('throws any other error', () => {
    script = ['EBADF'];
    expect(() => stdout.write('x\n')).toThrow('EBADF');
  });
});
