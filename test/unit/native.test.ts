import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_EX, LOCK_NB, LOCK_UN, MNT_DETACH, MS_BIND, native, removeTree } from '../../src/native/index.js';

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

  it('maps a file as a Latin-1 string and as a Buffer, byte for byte', () => {
    const p = join(dir, 'mapped');
    const bytes = Buffer.from([...Buffer.from('(function () { return "ascii"; })\n'), 0xb5, 0x00, 0xff]);
    writeFileSync(p, bytes);
    expect(native().mapLatin1File!(p)).toBe(bytes.toString('latin1'));
    expect(Buffer.compare(native().mapFile(p), bytes)).toBe(0);
    expect(() => native().mapFile(join(dir, 'absent'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open', path: join(dir, 'absent') }));
    writeFileSync(join(dir, 'empty'), '');
    expect(() => native().mapLatin1File!(join(dir, 'empty'))).toThrow(expect.objectContaining({ code: 'ENODATA' }));
  });

  it('errors carry the errno code and path', () => {
    expect(() => native().mknod(join(dir, 'no/such/dir/x'), 0o10644, 0, 0)).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'mknod' }),
    );
  });
});

describe('removeTree', () => {
  it('removes a whole tree without following symlinks out of it; a missing path is fine', () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'kept');
    const top = join(dir, 'tree');
    mkdirSync(join(top, 'a/b/c'), { recursive: true });
    for (let i = 0; i < 300; i++) writeFileSync(join(top, 'a', `f${i}`), String(i));
    writeFileSync(join(top, 'a/b/c/deep'), 'x');
    symlinkSync(outside, join(top, 'a/link-to-dir'));
    symlinkSync(join(outside, 'keep'), join(top, 'link-to-file'));
    removeTree(top);
    expect(existsSync(top)).toBe(false);
    expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('kept');
    expect(() => removeTree(top)).not.toThrow();
  });

  it('removes a plain file given as the path', () => {
    const f = join(dir, 'plain');
    writeFileSync(f, '');
    removeTree(f);
    expect(existsSync(f)).toBe(false);
  });

  it('stops with EXDEV at a mount inside instead of emptying it', () => {
    const top = join(dir, 'with-mount');
    const mnt = join(top, 'sub/mnt');
    mkdirSync(mnt, { recursive: true });
    native().mount('tmpfs', mnt, 'tmpfs', 0, 'size=1m');
    try {
      writeFileSync(join(mnt, 'precious'), 'data');
      expect(() => removeTree(top)).toThrow(expect.objectContaining({ code: 'EXDEV', path: mnt }));
      expect(readFileSync(join(mnt, 'precious'), 'utf8')).toBe('data');
    } finally {
      native().umount2(mnt, MNT_DETACH);
    }
    removeTree(top);
    expect(existsSync(top)).toBe(false);
  });

  it('stops at a bind of a directory of the same filesystem too (same st_dev, another mount)', () => {
    const hostDir = join(dir, 'host-data');
    mkdirSync(hostDir);
    writeFileSync(join(hostDir, 'precious'), 'data');
    const top = join(dir, 'with-bind');
    const mnt = join(top, 'volume/_data');
    mkdirSync(mnt, { recursive: true });
    native().mount(hostDir, mnt, '', MS_BIND, null);
    try {
      expect(() => removeTree(top)).toThrow(expect.objectContaining({ code: 'EXDEV', path: mnt }));
      expect(readFileSync(join(hostDir, 'precious'), 'utf8')).toBe('data');
    } finally {
      native().umount2(mnt, MNT_DETACH);
    }
    removeTree(top);
    expect(existsSync(top)).toBe(false);
    expect(readFileSync(join(hostDir, 'precious'), 'utf8')).toBe('data');
  });
});
