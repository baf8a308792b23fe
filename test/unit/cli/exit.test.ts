// The one error-to-message place: reportError's line, hint and exit code, and the volume verbs'
// naming of the volume in an error (volumeError), which goes through it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportError } from '../../../src/cli/exit.js';
import { volumeError } from '../../../src/cli/docker/volume-access.js';
import { CommandNotFoundError, ConflictError, describeError, NotFoundError, StateError } from '../../../src/errors.js';

function stderrOf(fn: () => unknown): { text: string; result: unknown } {
  let text = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    return { result: fn(), text };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('reportError', () => {
  it('prints "prog: message" and the hint, and returns the exit code without exiting', () => {
    const { text, result } = stderrOf(() => reportError('tsrun', new NotFoundError('container', 'nope', { hint: 'see tsrun ps -a' })));
    expect(text).toBe('tsrun: no such container: nope\nhint: see tsrun ps -a\n');
    expect(result).toBe(125);
  });

  it('keeps the 126/127 mapping and a front end\'s own code', () => {
    expect(stderrOf(() => reportError('tsrun', new CommandNotFoundError('exec: "x": not found'))).result).toBe(127);
    expect(stderrOf(() => reportError('tsrkt', new Error('boom'), 254))).toEqual({ text: 'tsrkt: boom\n', result: 254 });
  });
});

describe('volumeError', () => {
  it('leaves a missing volume as "no such volume: NAME" and a message that names the volume alone', () => {
    const missing = new NotFoundError('volume', 'v1');
    expect(volumeError('remove', 'v1', missing)).toBe(missing);
    const inUse = new ConflictError('remove v1: volume is in use - [abc]');
    expect(volumeError('remove', 'v1', inUse)).toBe(inUse);
  });

  it('names the verb and volume for any other error, keeping its text and hint', () => {
    const err = volumeError('create', 'v2', new StateError('VolumeDriver.Create: quota', { hint: 'ask the admin' }));
    expect(describeError(err)).toBe('create v2: VolumeDriver.Create: quota');
    expect((err as StateError).hint).toBe('ask the admin');
    // An anonymous volume has no name to give.
    const anonymous = new StateError('boom');
    expect(volumeError('create', '', anonymous)).toBe(anonymous);
  });
});
