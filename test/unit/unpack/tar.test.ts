import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../../src/errors.js';
import { parseNumeric, parsePaxRecords, TarParser, type TarEntry, type TarSink } from '../../../src/unpack/tar.js';
import { base256, finishHeader, TarWriter } from '../../../images/lib/tar-writer.mjs';

interface Got { entry: TarEntry; content: Buffer }

/** Parses `tar`, feeding it in chunks of `chunk` bytes (exercises every boundary). */
function parse(tar: Buffer, chunk = tar.length): Got[] {
  const got: Got[] = [];
  let parts: Buffer[] = [];
  const sink: TarSink = {
    entry: (e) => {
      parts = [];
      got.push({ entry: e, content: Buffer.alloc(0) });
    },
    data: (c) => parts.push(Buffer.from(c)),
    endEntry: () => {
      got[got.length - 1]!.content = Buffer.concat(parts);
    },
  };
  const p = new TarParser(sink);
  for (let i = 0; i < tar.length; i += chunk) p.write(tar.subarray(i, i + chunk));
  p.end();
  return got;
}

function header(fields: { name: string; typeflag?: string; size?: number; prefix?: string; magic?: string; linkname?: string }): Buffer {
  const h = Buffer.alloc(512);
  h.write(fields.name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write((fields.size ?? 0).toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  h.write('14533403400\0', 136, 'latin1');
  h[156] = (fields.typeflag ?? '0').charCodeAt(0);
  if (fields.linkname) h.write(fields.linkname, 157, 100, 'utf8');
  h.write(fields.magic ?? 'ustar\x0000', 257, 'latin1');
  if (fields.prefix) h.write(fields.prefix, 345, 155, 'utf8');
  return finishHeader(h);
}

const END = Buffer.alloc(1024);

describe('TarParser', () => {
  it('reads files, dirs, links and devices with their metadata, across any chunking', () => {
    const t = new TarWriter();
    t.add({ name: 'dir', type: 'dir', mode: 0o1777, uid: 5, gid: 6, mtime: 1234 });
    t.add({ name: 'dir/file', data: 'x'.repeat(1000), mode: 0o4755, uid: 1000, gid: 1001 });
    t.add({ name: 'sym', type: 'symlink', linkname: '/abs/target' });
    t.add({ name: 'hard', type: 'link', linkname: 'dir/file' });
    t.add({ name: 'null', type: 'char', devmajor: 1, devminor: 3 });
    t.add({ name: 'loop', type: 'block', devmajor: 7, devminor: 12 });
    t.add({ name: 'fifo', type: 'fifo' });
    const tar = t.finish();
    for (const chunk of [1, 7, 511, 512, 513, 4096, tar.length]) {
      const got = parse(tar, chunk);
      expect(got.map((g) => [g.entry.name, g.entry.type])).toEqual([
        ['dir/', 'dir'], ['dir/file', 'file'], ['sym', 'symlink'], ['hard', 'link'], ['null', 'char'], ['loop', 'block'], ['fifo', 'fifo'],
      ]);
      expect(got[0]!.entry).toMatchObject({ mode: 0o1777, uid: 5, gid: 6, mtime: 1234 });
      expect(got[1]!.entry).toMatchObject({ mode: 0o4755, uid: 1000, gid: 1001, size: 1000 });
      expect(got[1]!.content.toString()).toBe('x'.repeat(1000));
      expect(got[2]!.entry.linkname).toBe('/abs/target');
      expect(got[3]!.entry.linkname).toBe('dir/file');
      expect(got[5]!.entry).toMatchObject({ devmajor: 7, devminor: 12 });
    }
  });

  it('keeps binary PAX xattr values byte for byte (SCHILY.xattr)', () => {
    const cap = Buffer.from([0x01, 0, 0, 0x02, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const nasty = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x3d, 0x20, 0xc3, 0x28]); // NUL, invalid UTF-8, "\n", "=", " "
    const t = new TarWriter();
    t.add({ name: 'f', data: 'x', xattrs: { 'security.capability': cap, 'user.nasty': nasty, 'user.utf8': 'héllo' } });
    const [got] = parse(t.finish(), 100);
    expect(got!.entry.xattrs.get('security.capability')).toEqual(cap);
    expect(got!.entry.xattrs.get('user.nasty')).toEqual(nasty);
    expect(got!.entry.xattrs.get('user.utf8')!.toString()).toBe('héllo');
  });

  it('decodes LIBARCHIVE.xattr (URL-encoded name, base64 value)', () => {
    const t = new TarWriter();
    const value = Buffer.from([0, 1, 2, 250]);
    t.add({ name: 'f', pax: { 'LIBARCHIVE.xattr.user.a%3Db': value.toString('base64') } });
    expect(parse(t.finish())[0]!.entry.xattrs.get('user.a=b')).toEqual(value);
  });

  it('applies PAX path, linkpath, size, uid, gid and fractional mtime', () => {
    const t = new TarWriter();
    const long = `${'a'.repeat(120)}/${'b'.repeat(200)}`;
    t.add({ name: long, data: 'abc', uid: 2 ** 30, gid: 2 ** 31, mtime: 1700000000.25 });
    t.add({ name: 's', type: 'symlink', linkname: `/${'t'.repeat(300)}` });
    const got = parse(t.finish(), 3);
    expect(got[0]!.entry).toMatchObject({ name: long, uid: 2 ** 30, gid: 2 ** 31, mtime: 1700000000.25, size: 3 });
    expect(got[0]!.content.toString()).toBe('abc');
    expect(got[1]!.entry.linkname).toBe(`/${'t'.repeat(300)}`);
  });

  it('applies a global PAX header to the entries after it; local records override it', () => {
    const body = Buffer.from('15 uid=4242424\n');
    const g = header({ name: 'global', typeflag: 'g', size: body.length });
    const t = new TarWriter();
    t.raw(Buffer.concat([g, body, Buffer.alloc(512 - body.length)]));
    t.add({ name: 'a' });
    t.add({ name: 'b', pax: { uid: '7' } });
    const got = parse(t.finish());
    expect(got.map((x) => x.entry.uid)).toEqual([4242424, 7]);
  });

  it('reads GNU long names and long link names', () => {
    const t = new TarWriter({ longNames: 'gnu' });
    const name = `x/${'n'.repeat(250)}`;
    const link = `/${'l'.repeat(180)}`;
    t.add({ name, data: 'gnu' });
    t.add({ name: `${name}-link`, type: 'symlink', linkname: link });
    t.add({ name: 'short' });
    const got = parse(t.finish(), 200);
    expect(got.map((g) => g.entry.name)).toEqual([name, `${name}-link`, 'short']);
    expect(got[0]!.content.toString()).toBe('gnu');
    expect(got[1]!.entry.linkname).toBe(link);
  });

  it('reads GNU base-256 numbers (uid, gid, size, negative mtime)', () => {
    const t = new TarWriter({ bigNumbers: 'base256' });
    t.add({ name: 'f', uid: 3_000_000, gid: 2 ** 40, data: 'z' });
    const got = parse(t.finish());
    expect(got[0]!.entry).toMatchObject({ uid: 3_000_000, gid: 2 ** 40, size: 1 });
    const b = Buffer.alloc(12);
    base256(b, 0, 12, -1);
    expect(parseNumeric(b, 0, 12, 'mtime')).toBe(-1);
    base256(b, 0, 12, 8 ** 11 + 5);
    expect(parseNumeric(b, 0, 12, 'size')).toBe(8 ** 11 + 5);
  });

  it('parses octal fields padded with spaces and NULs', () => {
    expect(parseNumeric(Buffer.from(' 0000755 '), 0, 9, 'mode')).toBe(0o755);
    expect(parseNumeric(Buffer.from('0000755\0'), 0, 8, 'mode')).toBe(0o755);
    expect(parseNumeric(Buffer.alloc(8), 0, 8, 'mode')).toBe(0);
    expect(() => parseNumeric(Buffer.from('00009\0'), 0, 6, 'mode')).toThrow(ArchiveError);
  });

  it('joins the ustar prefix field, but not in GNU headers (they use it for other things)', () => {
    const ustar = header({ name: 'file', prefix: 'some/deep/dir' });
    const gnu = header({ name: 'file', prefix: 'ignored', magic: 'ustar  \0' });
    expect(parse(Buffer.concat([ustar, gnu, END])).map((g) => g.entry.name)).toEqual(['some/deep/dir/file', 'file']);
  });

  it('gives header-only types no content even when their size field is set', () => {
    const sym = header({ name: 'sym', typeflag: '2', size: 600, linkname: 'x' });
    const after = header({ name: 'after' });
    expect(parse(Buffer.concat([sym, after, END])).map((g) => g.entry.name)).toEqual(['sym', 'after']);
  });

  it('rejects a bad checksum, truncation, unknown types, sparse files and non-UTF-8 names', () => {
    const good = new TarWriter();
    good.add({ name: 'f', data: 'hello' });
    const tar = good.finish();
    const corrupt = Buffer.from(tar);
    corrupt[0] = 'g'.charCodeAt(0);
    expect(() => parse(corrupt)).toThrow(/checksum mismatch/);
    expect(() => parse(tar.subarray(0, 520))).toThrow(/truncated/);
    expect(() => parse(Buffer.concat([header({ name: 'x', typeflag: 'Z' }), END]))).toThrow(/unsupported type flag "Z"/);
    expect(() => parse(Buffer.concat([header({ name: 'x', typeflag: 'S' }), END]))).toThrow(/sparse/);
    const bad = header({ name: 'x' });
    bad[0] = 0xff;
    finishHeader(bad);
    expect(() => parse(Buffer.concat([bad, END]))).toThrow(/not valid UTF-8/);
  });

  it('stops at the end-of-archive marker and ignores what follows', () => {
    const t = new TarWriter();
    t.add({ name: 'a' });
    const got = parse(Buffer.concat([t.finish(), Buffer.from('trailing garbage')]));
    expect(got.map((g) => g.entry.name)).toEqual(['a']);
  });

  it('parsePaxRecords rejects records whose length does not fit', () => {
    expect(() => parsePaxRecords(Buffer.from('99 path=x\n'))).toThrow(ArchiveError);
    expect(() => parsePaxRecords(Buffer.from('x path=x\n'))).toThrow(ArchiveError);
    expect(parsePaxRecords(Buffer.from('11 path=é\n')).get('path')!.toString()).toBe('é');
  });
});
