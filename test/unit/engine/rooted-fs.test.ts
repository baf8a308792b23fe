// Paths resolved inside a root (rooted-fs.ts), and the walker and extractor
// that cp builds on, against temp directories standing in for a container.
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, linkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TreeExtractor } from '../../../src/engine/fs-extract.js';
import { TreeWalker } from '../../../src/engine/fs-walk.js';
import { RootedFs } from '../../../src/engine/rooted-fs.js';
import { UnsafeArchiveError } from '../../../src/errors.js';
import { TarParser } from '../../../src/unpack/tar.js';
import { encodeTarHeader, tarPadding, tarTrailer, type WritableEntry } from '../../../src/unpack/tar-writer.js';

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'rooted-fs-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'etc/passwd'), 'inside\n');
  writeFileSync(join(outside, 'secret'), 'outside\n');
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

const read = (path: string) => readFileSync(path, 'utf8');

describe('RootedFs.resolve', () => {
  it('resolves an absolute symlink inside the root, never on the host', () => {
    symlinkSync('/etc/passwd', join(root, 'pw'));
    symlinkSync(join(outside, 'secret'), join(root, 'escape'));
    const fs = new RootedFs(root, { followSymlinks: true });
    try {
      const pw = fs.resolve('/pw', { followFinal: true });
      expect(pw.cpath).toBe('/etc/passwd');
      expect(read(pw.path)).toBe('inside\n');
      // The host path in the link means nothing inside the root: it does not exist there.
      const esc = fs.resolve('/escape', { followFinal: true });
      expect(esc.cpath).toBe(`${outside}/secret`);
      expect(esc.stat).toBeUndefined();
      // Not followed at the end: the link itself.
      expect(fs.resolve('/pw', { followFinal: false }).stat!.isSymbolicLink()).toBe(true);
    } finally {
      fs.close();
    }
  });

  it('stops ".." at the root, in paths and in link targets', () => {
    symlinkSync('../../../../../../etc/passwd', join(root, 'etc/up'));
    symlinkSync('/../../etc', join(root, 'etcdir'));
    const fs = new RootedFs(root, { followSymlinks: true });
    try {
      expect(read(fs.resolve('/etc/up', { followFinal: true }).path)).toBe('inside\n');
      expect(read(fs.resolve('/etcdir/passwd', { followFinal: false }).path)).toBe('inside\n');
      expect(fs.resolve('/../../../etc/passwd', { followFinal: false }).cpath).toBe('/etc/passwd');
    } finally {
      fs.close();
    }
  });

  it('gives up on a symlink loop', () => {
    symlinkSync('/b', join(root, 'a'));
    symlinkSync('/a', join(root, 'b'));
    const fs = new RootedFs(root, { followSymlinks: true });
    try {
      expect(() => fs.resolve('/a/x', { followFinal: false })).toThrow(/too many levels of symbolic links/);
    } finally {
      fs.close();
    }
  });

  it('goes to a mount source under its destination, also through a symlink', () => {
    const vol = join(base, 'vol');
    mkdirSync(vol);
    writeFileSync(join(vol, 'f'), 'volume\n');
    mkdirSync(join(root, 'data'));
    writeFileSync(join(root, 'data/f'), 'hidden by the mount\n');
    symlinkSync('/data/f', join(root, 'tovol'));
    const fs = new RootedFs(root, { followSymlinks: true, mounts: [{ destination: '/data', source: vol, readonly: true }] });
    try {
      const f = fs.resolve('/data/f', { followFinal: false });
      expect(read(f.path)).toBe('volume\n');
      expect(f.mount?.source).toBe(vol);
      expect(read(fs.resolve('/tovol', { followFinal: true }).path)).toBe('volume\n');
      const top = fs.resolve('/data', { followFinal: false });
      expect(top.fixed).toBe(true);
      expect(top.path).toBe(vol);
    } finally {
      fs.close();
    }
  });

  it('takes a path below a missing directory lexically, and refuses a file in the middle', () => {
    writeFileSync(join(root, 'file'), '');
    const fs = new RootedFs(root, { followSymlinks: true });
    try {
      const n = fs.resolve('/no/such/dir', { followFinal: false });
      expect(n.cpath).toBe('/no/such/dir');
      expect(n.stat).toBeUndefined();
      expect(() => fs.resolve('/file/x', { followFinal: false })).toThrow(/not a directory/);
    } finally {
      fs.close();
    }
  });

  it('refuses to go through a symlink when symlinks are not to be followed (a host directory)', () => {
    symlinkSync(outside, join(root, 'out'));
    const fs = new RootedFs(root, { followSymlinks: false });
    try {
      expect(() => fs.resolve('out/secret', { followFinal: false })).toThrow(UnsafeArchiveError);
    } finally {
      fs.close();
    }
  });
});

function tarOf(items: { e: Partial<WritableEntry> & { name: string }; content?: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { e, content } of items) {
    const data = Buffer.from(content ?? '');
    parts.push(encodeTarHeader({ type: 'file', size: data.length, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, linkname: '', xattrs: new Map(), ...e }), data, tarPadding(data.length));
  }
  parts.push(tarTrailer());
  return Buffer.concat(parts);
}

function extract(fs: RootedFs, tar: Buffer, baseParts: string[] = []): void {
  const x = new TreeExtractor(fs, { base: baseParts, owner: { kind: 'none' } });
  const p = new TarParser(x);
  p.write(tar);
  p.end();
  x.finish();
}

describe('TreeExtractor', () => {
  it('never writes through a symlink the archive planted: refused in a host directory', () => {
    const fs = new RootedFs(root, { followSymlinks: false });
    try {
      const tar = tarOf([{ e: { name: 'evil', type: 'symlink', linkname: outside } }, { e: { name: 'evil/secret' }, content: 'overwritten' }]);
      expect(() => extract(fs, tar)).toThrow(UnsafeArchiveError);
      expect(read(join(outside, 'secret'))).toBe('outside\n');
    } finally {
      fs.close();
    }
  });

  it('follows a planted symlink only inside the root in a container', () => {
    const fs = new RootedFs(root, { followSymlinks: true });
    try {
      const tar = tarOf([{ e: { name: 'evil', type: 'symlink', linkname: outside } }, { e: { name: 'evil/secret' }, content: 'landed inside' }]);
      extract(fs, tar);
      expect(read(join(outside, 'secret'))).toBe('outside\n');
      expect(read(join(root, outside, 'secret'))).toBe('landed inside');
    } finally {
      fs.close();
    }
  });

  it('refuses ".." in names and replacing a directory with a file or the reverse', () => {
    const fs = new RootedFs(root, { followSymlinks: true });
    try {
      expect(() => extract(fs, tarOf([{ e: { name: '../x' }, content: 'no' }]))).toThrow(/\.\./);
      expect(existsSync(join(base, 'x'))).toBe(false);
      expect(() => extract(fs, tarOf([{ e: { name: 'etc' }, content: 'no' }]))).toThrow(/cannot overwrite directory "\/etc" with non-directory/);
      expect(() => extract(fs, tarOf([{ e: { name: 'etc/passwd', type: 'dir', mode: 0o755 } }]))).toThrow(/cannot overwrite non-directory "\/etc\/passwd" with directory/);
    } finally {
      fs.close();
    }
  });

  it('replaces a file or symlink, merges directories, makes missing parents and keeps modes and times', () => {
    symlinkSync('/etc/passwd', join(root, 'etc/link'));
    const fs = new RootedFs(root, { followSymlinks: true });
    try {
      extract(
        fs,
        tarOf([
          { e: { name: 'etc/passwd', mode: 0o600 }, content: 'new' },
          { e: { name: 'etc/link' }, content: 'was a link' },
          { e: { name: 'a/b/c', mode: 0o750, mtime: 1_500_000_000 }, content: 'deep' },
          { e: { name: 'etc', type: 'dir', mode: 0o700, mtime: 1_400_000_000 } },
          { e: { name: 'fifo', type: 'fifo', mode: 0o666 } },
        ]),
      );
      // Made with its mode, whatever the umask (no chmod that could follow a swapped-in symlink).
      expect(lstatSync(join(root, 'fifo')).isFIFO()).toBe(true);
      expect(lstatSync(join(root, 'fifo')).mode & 0o777).toBe(0o666);
      expect(read(join(root, 'etc/passwd'))).toBe('new');
      expect(statSync(join(root, 'etc/passwd')).mode & 0o777).toBe(0o600);
      expect(lstatSync(join(root, 'etc/link')).isFile()).toBe(true);
      expect(statSync(join(root, 'a/b')).mode & 0o777).toBe(0o755);
      expect(statSync(join(root, 'a/b/c')).mtimeMs).toBe(1_500_000_000_000);
      expect(statSync(join(root, 'etc')).mode & 0o777).toBe(0o700);
      expect(statSync(join(root, 'etc')).mtimeMs).toBe(1_400_000_000_000);
    } finally {
      fs.close();
    }
  });

  it('writes under a read-only mount only if the check allows it', () => {
    const vol = join(base, 'vol');
    mkdirSync(vol);
    mkdirSync(join(root, 'data'));
    const fs = new RootedFs(root, { followSymlinks: true, mounts: [{ destination: '/data', source: vol, readonly: true }] });
    try {
      const x = new TreeExtractor(fs, {
        base: [],
        owner: { kind: 'none' },
        checkWritable: (_c, m) => {
          if (m?.readonly) throw new Error('mounted volume is marked read-only');
        },
      });
      const p = new TarParser(x);
      expect(() => p.write(tarOf([{ e: { name: 'data/f' }, content: 'x' }]))).toThrow(/read-only/);
      expect(existsSync(join(vol, 'f'))).toBe(false);
    } finally {
      fs.close();
    }
  });
});

describe('TreeWalker into TreeExtractor (a copy)', () => {
  it('copies a tree with its symlinks, hard links and modes, and the volume under its mount point', async () => {
    mkdirSync(join(root, 'src/sub'), { recursive: true });
    writeFileSync(join(root, 'src/sub/f'), 'content');
    linkSync(join(root, 'src/sub/f'), join(root, 'src/hard'));
    symlinkSync('/etc/passwd', join(root, 'src/abs'));
    mkdirSync(join(root, 'src/vol'));
    const vol = join(base, 'vol');
    mkdirSync(vol);
    writeFileSync(join(vol, 'v'), 'from the volume');
    const fs = new RootedFs(root, { followSymlinks: true, mounts: [{ destination: '/src/vol', source: vol, readonly: false }] });
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const out = new RootedFs(dest, { followSymlinks: false });
    try {
      const node = fs.resolve('/src', { followFinal: false });
      const x = new TreeExtractor(out, { base: [], owner: { kind: 'none' } });
      const walker = new TreeWalker(x, (c) => fs.mountAt(c));
      await walker.walk({ path: node.path, cpath: node.cpath, trusted: node.fixed }, 'copy');
      x.finish();
      expect(read(join(dest, 'copy/sub/f'))).toBe('content');
      expect(statSync(join(dest, 'copy/hard')).ino).toBe(statSync(join(dest, 'copy/sub/f')).ino);
      expect(readlinkSync(join(dest, 'copy/abs'))).toBe('/etc/passwd');
      expect(read(join(dest, 'copy/vol/v'))).toBe('from the volume');
      // The second name of the hard-linked file is a link entry: its content travels once.
      expect(walker.stats.bytes).toBe('content'.length + 'from the volume'.length);
    } finally {
      fs.close();
      out.close();
    }
  });
});
