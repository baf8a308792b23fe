// The tar writer, checked by reading its output back with the project's parser
// and with GNU tar.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TarParser, type TarEntry } from '../../../src/unpack/tar.js';
import { encodeTarHeader, tarPadding, tarTrailer, type WritableEntry } from '../../../src/unpack/tar-writer.js';

function entry(over: Partial<WritableEntry>): WritableEntry {
  return { name: 'f', type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, linkname: '', xattrs: new Map(), ...over };
}

function archive(items: { e: WritableEntry; content?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { e, content } of items) {
    const data = content ?? Buffer.alloc(0);
    parts.push(encodeTarHeader({ ...e, size: data.length }), data, tarPadding(data.length));
  }
  parts.push(tarTrailer());
  return Buffer.concat(parts);
}

function parse(buf: Buffer, chunk = 333): { entries: TarEntry[]; contents: Map<string, string> } {
  const entries: TarEntry[] = [];
  const contents = new Map<string, string>();
  let current = '';
  const parser = new TarParser({
    entry(e) {
      entries.push(e);
      current = e.name;
      contents.set(current, '');
    },
    data(c) {
      contents.set(current, contents.get(current)! + c.toString());
    },
    endEntry() {},
  });
  for (let i = 0; i < buf.length; i += chunk) parser.write(buf.subarray(i, i + chunk));
  parser.end();
  expect(parser.ended).toBe(true);
  return { entries, contents };
}

describe('encodeTarHeader', () => {
  it('round-trips files, directories, symlinks, hard links and devices with their metadata', () => {
    const buf = archive([
      { e: entry({ name: 'd', type: 'dir', mode: 0o755, uid: 1000, gid: 100 }) },
      { e: entry({ name: 'd/file', mode: 0o4755, mtime: 1_600_000_000 }), content: Buffer.from('hello') },
      { e: entry({ name: 'd/link', type: 'symlink', linkname: '/etc/passwd', mode: 0o777 }) },
      { e: entry({ name: 'd/hard', type: 'link', linkname: 'd/file' }) },
      { e: entry({ name: 'd/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }) },
      { e: entry({ name: 'd/fifo', type: 'fifo', mode: 0o600 }) },
    ]);
    const { entries, contents } = parse(buf);
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['d/', 'dir'],
      ['d/file', 'file'],
      ['d/link', 'symlink'],
      ['d/hard', 'link'],
      ['d/null', 'char'],
      ['d/fifo', 'fifo'],
    ]);
    expect(entries[0]).toMatchObject({ mode: 0o755, uid: 1000, gid: 100 });
    expect(entries[1]).toMatchObject({ mode: 0o4755, mtime: 1_600_000_000, size: 5 });
    expect(contents.get('d/file')).toBe('hello');
    expect(entries[2]!.linkname).toBe('/etc/passwd');
    expect(entries[3]!.linkname).toBe('d/file');
    expect(entries[4]).toMatchObject({ devmajor: 1, devminor: 3 });
  });

  it('uses the ustar prefix for names up to 256 bytes and PAX beyond, for names and link targets', () => {
    const mid = `${'a'.repeat(120)}/${'b'.repeat(90)}`;
    const long = `${'x'.repeat(200)}/${'y'.repeat(200)}/é-${'z'.repeat(150)}`;
    const target = `/${'t'.repeat(300)}`;
    const buf = archive([{ e: entry({ name: mid }), content: Buffer.from('1') }, { e: entry({ name: long }), content: Buffer.from('2') }, { e: entry({ name: 'l', type: 'symlink', linkname: target }) }]);
    const { entries, contents } = parse(buf, 512);
    expect(entries.map((e) => e.name)).toEqual([mid, long, 'l']);
    expect(contents.get(long)).toBe('2');
    expect(entries[2]!.linkname).toBe(target);
  });

  it('puts ids too large for ustar and xattrs (binary values too) in PAX records', () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00]);
    const buf = archive([{ e: entry({ name: 'big', uid: 100_000_000, gid: 3_000_000, xattrs: new Map([['security.capability', cap], ['user.note', Buffer.from('x=y\n')]]) }), content: Buffer.from('c') }]);
    const { entries } = parse(buf);
    expect(entries[0]).toMatchObject({ uid: 100_000_000, gid: 3_000_000 });
    expect(entries[0]!.xattrs.get('security.capability')).toEqual(cap);
    expect(entries[0]!.xattrs.get('user.note')!.toString()).toBe('x=y\n');
  });

  it('writes what GNU tar lists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-writer-'));
    try {
      const long = `${'n'.repeat(150)}/${'m'.repeat(150)}`;
      const file = join(dir, 'a.tar');
      writeFileSync(file, archive([{ e: entry({ name: 'top', type: 'dir', mode: 0o755 }) }, { e: entry({ name: `top/${long}` }), content: Buffer.from('data') }, { e: entry({ name: 'top/s', type: 'symlink', linkname: '../x' }) }]));
      const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
      expect(listed).toEqual(['top/', `top/${long}`, 'top/s']);
      expect(execFileSync('tar', ['-xOf', file, `top/${long}`], { encoding: 'utf8' })).toBe('data');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses NUL bytes in names', () => {
    expect(() => encodeTarHeader(entry({ name: 'a\0b' }))).toThrow(/NUL/);
  });
});
