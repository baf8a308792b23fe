// The native node writer: files and symlinks made on its threads with their
// metadata, and failures kept and thrown with the path that failed.
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../../src/native/index.js';
import { LayerExtractor } from '../../../src/unpack/extract.js';
import { NodeWriter } from '../../../src/unpack/node-writer.js';
import { TarParser } from '../../../src/unpack/tar.js';
import { TarWriter } from '../../../images/lib/tar-writer.mjs';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-node-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const meta = (over: Partial<{ uid: number; gid: number; atime: number; mtime: number; xattrs: [string, Buffer][] }> = {}) => ({
  uid: 1234,
  gid: 5678,
  atime: 1_600_000_000.25,
  mtime: 1_500_000_000.5,
  xattrs: [] as [string, Buffer][],
  ...over,
});

describe('NodeWriter', () => {
  it('creates files with content, owner, mode (setuid kept), times and xattrs', () => {
    const w = new NodeWriter();
    try {
      const cap = Buffer.from([1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      for (let i = 0; i < 200; i++) {
        w.file(join(dir, `f${i}`), [Buffer.from('hello '), Buffer.from(String(i))], 0o4755, meta({ xattrs: [['user.n', Buffer.from([i & 255, 0])]] }));
      }
      w.file(join(dir, 'cap'), [], 0o755, meta({ uid: 0, gid: 0, xattrs: [['security.capability', cap]] }));
      w.drain();
      for (let i = 0; i < 200; i++) {
        const p = join(dir, `f${i}`);
        const st = lstatSync(p); // before reading, which moves atime
        expect(readFileSync(p, 'utf8')).toBe(`hello ${i}`);
        expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1234, 5678, 0o4755]);
        expect(st.mtimeMs).toBe(1_500_000_000_500);
        expect(st.atimeMs).toBe(1_600_000_000_250);
        expect(native().lgetxattr(p, 'user.n')).toEqual(Buffer.from([i & 255, 0]));
      }
      expect(native().lgetxattr(join(dir, 'cap'), 'security.capability')).toEqual(cap);
    } finally {
      w.close();
    }
  });

  it("gives files of the creator's own uid the exact owner and mode: umask bits, setuid, a setgid parent's group", () => {
    // Such files skip fchown/fchmod when the new file already matches, so each way of not matching is checked.
    const sgid = join(dir, 'sgid');
    mkdirSync(sgid);
    chownSync(sgid, 0, 4321);
    chmodSync(sgid, 0o2775);
    const w = new NodeWriter();
    try {
      w.file(join(dir, 'plain'), [Buffer.from('x')], 0o644, meta({ uid: 0, gid: 0 }));
      w.file(join(dir, 'umasked'), [], 0o666, meta({ uid: 0, gid: 0 }));
      w.file(join(dir, 'private'), [], 0o600, meta({ uid: 0, gid: 0 }));
      w.file(join(dir, 'suid'), [], 0o4755, meta({ uid: 0, gid: 0 }));
      w.file(join(sgid, 'root-group'), [], 0o644, meta({ uid: 0, gid: 0 }));
      w.file(join(sgid, 'dir-group'), [], 0o2755, meta({ uid: 0, gid: 4321 }));
      w.drain();
      const owner = (p: string) => {
        const st = lstatSync(p);
        return [st.uid, st.gid, st.mode & 0o7777];
      };
      expect(owner(join(dir, 'plain'))).toEqual([0, 0, 0o644]);
      expect(owner(join(dir, 'umasked'))).toEqual([0, 0, 0o666]);
      expect(owner(join(dir, 'private'))).toEqual([0, 0, 0o600]);
      expect(owner(join(dir, 'suid'))).toEqual([0, 0, 0o4755]);
      expect(owner(join(sgid, 'root-group'))).toEqual([0, 0, 0o644]);
      expect(owner(join(sgid, 'dir-group'))).toEqual([0, 4321, 0o2755]);
    } finally {
      w.close();
    }
  });

  it('creates symlinks with their target verbatim, owner and times, never following them', () => {
    const w = new NodeWriter();
    try {
      w.symlink('/etc/passwd', join(dir, 'abs-link'), meta());
      w.symlink('../../outside', join(dir, 'rel-link'), meta());
      w.drain();
      expect(readlinkSync(join(dir, 'abs-link'))).toBe('/etc/passwd');
      expect(readlinkSync(join(dir, 'rel-link'))).toBe('../../outside');
      const st = lstatSync(join(dir, 'abs-link'));
      expect([st.isSymbolicLink(), st.uid, st.gid, st.mtimeMs]).toEqual([true, 1234, 5678, 1_500_000_000_500]);
    } finally {
      w.close();
    }
  });

  it('makes directories in order with what goes in them: implicit ones 0755, entries with their owner and mode', () => {
    const w = new NodeWriter();
    try {
      const top = join(dir, 'dirs');
      w.dir(top, 0o755);
      w.dir(join(top, 'private'), 0o700, { mode: 0o1750, uid: 42, gid: 43, xattrs: [['user.d', Buffer.from('v')]] });
      w.file(join(top, 'private', 'f'), [Buffer.from('x')], 0o644, meta());
      w.dir(top, undefined, { mode: 0o711, uid: 7, gid: 8, xattrs: [] }); // an entry for a directory made earlier
      w.drain();
      const st = lstatSync(join(top, 'private'));
      expect([st.isDirectory(), st.mode & 0o7777, st.uid, st.gid]).toEqual([true, 0o1750, 42, 43]);
      expect(native().lgetxattr(join(top, 'private'), 'user.d')).toEqual(Buffer.from('v'));
      expect(readFileSync(join(top, 'private', 'f'), 'utf8')).toBe('x');
      const t = lstatSync(top);
      expect([t.mode & 0o7777, t.uid, t.gid]).toEqual([0o711, 7, 8]);
    } finally {
      w.close();
    }
  });

  it('keeps the first failure, throws it with the path, and refuses later requests', () => {
    const w = new NodeWriter();
    try {
      writeFileSync(join(dir, 'taken'), 'x');
      w.file(join(dir, 'taken'), [Buffer.from('y')], 0o644, meta()); // O_EXCL: EEXIST
      let thrown: NodeJS.ErrnoException | undefined;
      try {
        w.drain();
      } catch (err) {
        thrown = err as NodeJS.ErrnoException;
      }
      expect(thrown?.code).toBe('EEXIST');
      expect(thrown?.syscall).toBe('open');
      expect(thrown?.path).toBe(join(dir, 'taken'));
      expect(readFileSync(join(dir, 'taken'), 'utf8')).toBe('x');
      expect(() => w.file(join(dir, 'later'), [], 0o644, meta())).toThrow(/EEXIST/);
    } finally {
      w.close();
    }
    expect(() => lstatSync(join(dir, 'later'))).toThrow();
  });

  it('an extraction names the entry whose file the writer failed to create', () => {
    const root = join(dir, 'tree');
    mkdirSync(root);
    writeFileSync(join(root, 'in-the-way'), 'x'); // not in the extractor's index, so O_EXCL fails
    const tar = new TarWriter();
    tar.add({ name: 'a.txt', data: 'a' });
    tar.add({ name: 'in-the-way', data: 'b' });
    tar.add({ name: 'c.txt', data: 'c' });
    const w = new NodeWriter();
    const extractor = new LayerExtractor(root, w);
    try {
      const parser = new TarParser(extractor);
      // The failure surfaces at the next request or at the final drain, whichever comes first.
      expect(() => {
        parser.write(tar.finish());
        parser.end();
        extractor.finish();
      }).toThrow(/"in-the-way"/);
    } finally {
      w.close();
    }
  });
});
