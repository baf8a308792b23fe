import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_EX, LOCK_NB, LOCK_UN, native } from '../../src/native/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('native addon', () => {
  it('flock: exclusive locks conflict across open file descriptions', () => {
    const p = join(dir, 'lock');
    writeFileSync(p, '');
    const a = openSync(p, 'r');
    const b = openSync(p, 'r');
    expect(native().flock(a, LOCK_EX | LOCK_NB)).toBe(true);
    expect(native().flock(b, LOCK_EX | LOCK_NB)).toBe(false);
    native().flock(a, LOCK_UN);
    expect(native().flock(b, LOCK_EX | LOCK_NB)).toBe(true);
    closeSync(a);
    closeSync(b);
  });

  it('xattrs round-trip binary values', () => {
    const p = join(dir, 'x');
    writeFileSync(p, '');
    const value = Buffer.from([0, 1, 2, 255, 0, 128]);
    native().lsetxattr(p, 'user.tsrun', value);
    expect(native().lgetxattr(p, 'user.tsrun')).toEqual(value);
    expect(native().llistxattr(p)).toContain('user.tsrun');
    expect(native().lgetxattr(p, 'user.absent')).toBeNull();
  });

  it('errors carry the errno code and path', () => {
    expect(() => native().mknod(join(dir, 'no/such/dir/x'), 0o10644, 0, 0)).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'mknod' }),
    );
  });
});
