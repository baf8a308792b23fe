import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { CannotInvokeError, CommandNotFoundError, LaunchError } from '../../../src/errors.js';
import { errorForFailure, execFailureExitCode, StatusDecoder } from '../../../src/runtime/report.js';
import { validateContainerId } from '../../../src/runtime/state-dir.js';

const E = constants.errno;

describe('exec failures', () => {
  it('maps ENOENT to 127 and the other exec errors to 126', () => {
    expect(execFailureExitCode(E.ENOENT)).toBe(127);
    for (const e of [E.EACCES, E.EISDIR, E.ENOEXEC]) expect(execFailureExitCode(e)).toBe(126);
  });
  it('maps failures to typed errors naming the command or step', () => {
    const nf = errorForFailure({ step: 'lookup-command', errno: E.ENOENT, path: 'nope' });
    expect(nf).toBeInstanceOf(CommandNotFoundError);
    expect(nf.message).toContain('"nope"');
    expect(nf.exitKind).toBe('not-found');
    const ci = errorForFailure({ step: 'exec', errno: E.ENOEXEC, path: '/bin/x', message: 'Exec format error' });
    expect(ci).toBeInstanceOf(CannotInvokeError);
    expect(ci.message).toMatch(/\/bin\/x.*Exec format error \(ENOEXEC\)/);
    const le = errorForFailure({ step: 'mount', errno: E.EPERM, path: '/sys', message: 'Operation not permitted' });
    expect(le).toBeInstanceOf(LaunchError);
    expect((le as LaunchError).step).toBe('mount');
    expect(le.message).toBe('container set-up failed at step mount (/sys): Operation not permitted (EPERM)');
  });
});

describe('StatusDecoder', () => {
  it('decodes messages split across chunks', () => {
    const d = new StatusDecoder();
    const wire = '7:created,3:123,3:456,0:,5:error,5:mount,1:1,4:/s,y,5:EPERM,0:,7:started,0:,';
    const got = [...wire].flatMap((ch) => d.push(Buffer.from(ch)));
    expect(got).toEqual([
      { kind: 'created', pid: 123, monitorPid: 456 },
      { kind: 'error', step: 'mount', errno: 1, path: '/s,y', message: 'EPERM' },
      { kind: 'started' },
    ]);
  });
});

describe('validateContainerId', () => {
  it('accepts ordinary ids and refuses paths', () => {
    for (const ok of ['a', 'web-1', 'x.y_z', 'A'.repeat(128)]) expect(() => validateContainerId(ok)).not.toThrow();
    for (const bad of ['', '..', 'a/b', '../x', '.hidden', 'a..b', 'sp ace', 'A'.repeat(129), 'é']) {
      expect(() => validateContainerId(bad), bad).toThrow(/invalid container id/);
    }
  });
});
