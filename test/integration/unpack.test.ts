// unpackLayer against crafted layers, as root on the real kernel: every kind
// of entry is checked with lstat/xattrs, and hostile layers must be refused
// with nothing left behind (run under the integration lock).
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, DigestMismatchError, StoreError, UnsafeArchiveError } from '../../src/errors.js';
import { native } from '../../src/native/index.js';
import { unpackLayer, type UnpackResult } from '../../src/unpack/index.js';
import { layoutLayers, writeOciLayout } from '../../images/lib/oci-layout.mjs';
import { TarWriter } from '../../images/lib/tar-writer.mjs';
import { HOSTILE, hostileTar } from '../../images/recipes/hostile.mjs';
import { BINARY_XATTR, CAP_NET_BIND_SERVICE, trickyLayers } from '../../images/recipes/tricky.mjs';

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const TAR = 'application/vnd.oci.image.layer.v1.tar';

const work = mkdtempSync(join(tmpdir(), 'tsrun-unpack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const major = (s: Stats) => Math.floor(s.rdev / 256) & 0xfff;
const minor = (s: Stats) => (s.rdev & 0xff) | ((s.rdev >> 12) & 0xfff00);
const isWhiteout = (s: Stats) => s.isCharacterDevice() && s.rdev === 0;

let n = 0;
function blob(data: Buffer): string {
  const p = join(work, `blob-${n++}`);
  writeFileSync(p, data);
  return p;
}
function freshDest(): string {
  return join(work, 'parent', `dest-${n++}`);
}

describe('unpackLayer on the tricky image', () => {
  const layers: { path: string; mediaType: string; diffId: string }[] = [];
  const dirs: string[] = [];
  const results: UnpackResult[] = [];

  beforeAll(async () => {
    const layout = join(work, 'tricky');
    writeOciLayout(layout, { layers: trickyLayers() });
    layers.push(...layoutLayers(layout));
    for (const [i, l] of layers.entries()) {
      const dest = join(work, 'tricky-layers', String(i));
      dirs.push(dest);
      results.push(await unpackLayer(l.path, l.mediaType, dest, { expectedDiffId: l.diffId }));
    }
  });

  it('used gzip, zstd and plain tar, and computed the diffIds and sizes', () => {
    expect(layers.map((l) => l.mediaType)).toEqual([GZIP, ZSTD, TAR]);
    expect(results.map((r) => r.diffId)).toEqual(layers.map((l) => l.diffId));
    expect(results.map((r) => r.size)).toEqual(trickyLayers().map((l) => l.tar.length));
  });

  it('layer 1: files, owners, modes incl. setuid/setgid/sticky, hardlinks', () => {
    const d = dirs[0]!;
    const f1 = lstatSync(join(d, 'a/file1'));
    expect([f1.uid, f1.gid, f1.mode & 0o7777, f1.nlink]).toEqual([1000, 1000, 0o640, 3]);
    expect(lstatSync(join(d, 'c/hardlink-to-file1')).ino).toBe(f1.ino);
    expect(lstatSync(join(d, 'a/b/link2')).ino).toBe(f1.ino);
    const mode = (p: string) => lstatSync(join(d, p)).mode & 0o7777;
    expect(mode('perms/setuid')).toBe(0o4755);
    expect(mode('perms/setuid-user')).toBe(0o4750);
    expect(lstatSync(join(d, 'perms/setuid-user')).uid).toBe(1000);
    expect(mode('perms/setgid')).toBe(0o2755);
    expect(lstatSync(join(d, 'perms/setgid')).gid).toBe(50);
    expect(mode('perms/all-bits')).toBe(0o7777);
    expect(mode('perms/sticky')).toBe(0o1777);
    expect(mode('perms/setgid-dir')).toBe(0o2775);
    expect(readFileSync(join(d, 'a/big')).length).toBe(1_500_000);
    expect(lstatSync(join(d, 'a/empty')).size).toBe(0);
  });

  it('layer 1: devices, fifo, symlinks verbatim, long names and paths', () => {
    const d = dirs[0]!;
    const nul = lstatSync(join(d, 'dev/null'));
    expect([nul.isCharacterDevice(), major(nul), minor(nul), nul.mode & 0o7777]).toEqual([true, 1, 3, 0o666]);
    const loop = lstatSync(join(d, 'dev/loop0'));
    expect([loop.isBlockDevice(), major(loop), minor(loop), loop.gid]).toEqual([true, 7, 0, 6]);
    expect(lstatSync(join(d, 'dev/fifo')).isFIFO()).toBe(true);
    expect(lstatSync(join(d, 'dev/fifo')).mode & 0o7777).toBe(0o620);
    expect(readlinkSync(join(d, 'links/abs'))).toBe('/etc/passwd');
    expect(readlinkSync(join(d, 'links/rel'))).toBe('../a/file1');
    expect(readlinkSync(join(d, 'links/todir'))).toBe('/a');
    expect(readlinkSync(join(d, 'links/long-target'))).toBe(`/${'t'.repeat(120)}/${'u'.repeat(60)}`);
    expect(lstatSync(join(d, 'links/owned')).uid).toBe(1000);
    expect(readFileSync(join(d, `long/${'n'.repeat(150)}`), 'utf8')).toBe('long name\n');
    expect(readFileSync(join(d, `long/${'d'.repeat(100)}/${'e'.repeat(100)}/${'f'.repeat(80)}.txt`), 'utf8')).toBe('long path\n');
  });

  it('layer 1: binary xattrs survive byte for byte', () => {
    const d = dirs[0]!;
    expect(native().lgetxattr(join(d, 'xattr/cap'), 'security.capability')).toEqual(CAP_NET_BIND_SERVICE);
    expect(native().lgetxattr(join(d, 'xattr/user'), 'user.bin')).toEqual(BINARY_XATTR);
    expect(native().lgetxattr(join(d, 'xattr/user'), 'user.text')?.toString()).toBe('héllo wörld');
    expect(native().lgetxattr(join(d, 'xattr/dir'), 'user.dirattr')).toEqual(Buffer.from([1, 2, 3, 0]));
    // The capability is really there for the kernel (getcap would show it).
    expect(execFileSync('getcap', [join(d, 'xattr/cap')]).toString()).toMatch(/cap_net_bind_service[=+]ep/);
  });

  it('layer 1: times, in-layer replacement, dir-over-dir merge, implicit parents', () => {
    const d = dirs[0]!;
    expect(lstatSync(join(d, 'a')).mtimeMs).toBe(1700000000_000); // set after its children were created
    expect(lstatSync(join(d, 'links/abs')).mtimeMs).toBe(1700000000_000);
    expect(lstatSync(join(d, 'a/fractional')).mtimeMs).toBeCloseTo(1700000000_123.456, 2);
    expect(readFileSync(join(d, 'dup'), 'utf8')).toBe('second');
    expect(lstatSync(join(d, 'dup')).mode & 0o7777).toBe(0o600);
    const merge = lstatSync(join(d, 'merge'));
    expect([merge.mode & 0o7777, merge.uid]).toEqual([0o750, 1000]);
    expect(readFileSync(join(d, 'merge/child'), 'utf8')).toBe('c');
    expect(readlinkSync(join(d, 'same'))).toBe('/then/a/symlink');
    const implicit = lstatSync(join(d, 'implicit/parent'));
    expect([implicit.isDirectory(), implicit.mode & 0o7777, implicit.uid]).toEqual([true, 0o755, 0]);
  });

  it('layer 2: whiteouts as char 0/0, opaque dir as trusted.overlay.opaque=y', () => {
    const d = dirs[1]!;
    for (let i = 0; i < 300; i++) expect(isWhiteout(lstatSync(join(d, `wh/f${String(i).padStart(3, '0')}`)))).toBe(true);
    expect(existsSync(join(d, 'wh/.wh.f000'))).toBe(false);
    expect(isWhiteout(lstatSync(join(d, 'gone')))).toBe(true);
    expect(native().lgetxattr(join(d, 'opq'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(existsSync(join(d, 'opq/.wh..wh..opq'))).toBe(false);
    expect(readFileSync(join(d, 'opq/new'), 'utf8')).toBe('new');
    expect(lstatSync(join(d, 'repl/file2dir')).isDirectory()).toBe(true);
  });

  it('layer 3: GNU long names and base-256 owners', () => {
    const d = dirs[2]!;
    const ids = lstatSync(join(d, 'gnu/big-ids'));
    expect([ids.uid, ids.gid]).toEqual([3_000_000, 4_000_000]);
    expect(readFileSync(join(d, `gnu/${'g'.repeat(130)}`), 'utf8')).toBe('gnu long name');
    expect(readlinkSync(join(d, `gnu/link-${'k'.repeat(100)}`))).toBe(`/${'l'.repeat(150)}`);
    expect(lstatSync(join(d, 'perms/setuid')).mode & 0o7777).toBe(0o4711);
  });
});

describe('unpackLayer safety', () => {
  for (const name of Object.keys(HOSTILE)) {
    it(`${name}: refused, nothing left`, async () => {
      const dest = join(work, 'hostile', name, 'x', 'dest');
      const p = blob(gzipSync(hostileTar(name)));
      const escapes = HOSTILE[name]!.escapes.map((e) => resolve(dest, e));
      for (const e of escapes) rmSync(e, { force: true });
      const err = await unpackLayer(p, GZIP, dest).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeArchiveError);
      expect((err as UnsafeArchiveError).entry).toBe(HOSTILE[name]!.refuses);
      expect(existsSync(dest)).toBe(false);
      for (const e of escapes) expect(existsSync(e), e).toBe(false);
    });
  }

  it('hostile-absolute: the message names the entry and says the path is absolute', async () => {
    const err = await unpackLayer(blob(gzipSync(hostileTar('hostile-absolute'))), GZIP, freshDest()).catch((e: unknown) => e);
    expect((err as Error).message).toBe('refusing layer entry "/tmp/tsrun-evil-absolute": the path is absolute');
  });

  it('refuses a bare "/" entry as absolute, and takes "./" as the layer root', async () => {
    const root = new TarWriter();
    root.add({ name: '/', type: 'dir' });
    const dest = freshDest();
    const err = await unpackLayer(blob(root.finish()), TAR, dest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeArchiveError);
    expect((err as UnsafeArchiveError).entry).toBe('/');
    expect(existsSync(dest)).toBe(false);
    const t = new TarWriter();
    t.add({ name: './', type: 'dir', mode: 0o750 });
    t.add({ name: './f', data: 'x' });
    const ok = freshDest();
    await unpackLayer(blob(t.finish()), TAR, ok);
    expect(lstatSync(ok).mode & 0o777).toBe(0o750);
    expect(readFileSync(join(ok, 'f'), 'utf8')).toBe('x');
  });

  it('never lets an archive set trusted.overlay.* xattrs of its own', async () => {
    const t = new TarWriter();
    t.add({ name: 'd', type: 'dir', xattrs: { 'trusted.overlay.redirect': '/etc', 'trusted.overlay.opaque': 'y', 'user.ok': 'ok' } });
    const dest = freshDest();
    await unpackLayer(blob(t.finish()), TAR, dest);
    expect(native().llistxattr(join(dest, 'd')).sort()).toEqual(['user.ok']);
  });

  it('removes destDir on a diffId mismatch', async () => {
    const t = new TarWriter();
    t.add({ name: 'f', data: 'x' });
    const dest = freshDest();
    const err = await unpackLayer(blob(gzipSync(t.finish())), GZIP, dest, { expectedDiffId: `sha256:${'0'.repeat(64)}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses corrupt gzip, corrupt zstd, truncated tar and mislabelled data; removes destDir', async () => {
    const t = new TarWriter();
    t.add({ name: 'f', data: Buffer.alloc(100_000, 7) });
    t.add({ name: 'g', data: 'x' });
    const tar = t.finish();
    const gz = gzipSync(tar);
    const badGz = Buffer.from(gz);
    badGz.fill(0x55, 20, 60);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    const cases: [Buffer, string, RegExp][] = [
      [badGz, GZIP, /gzip/],
      [zst.subarray(0, zst.length - 10), ZSTD, /zstd -dc failed/],
      [tar.subarray(0, 5000), TAR, /truncated/],
      [tar, GZIP, /says gzip, but the data is not gzip/],
    ];
    for (const [data, mt, msg] of cases) {
      const dest = freshDest();
      const err = await unpackLayer(blob(data), mt, dest).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArchiveError);
      expect((err as Error).message).toMatch(msg);
      expect(existsSync(dest)).toBe(false);
    }
  });

  it('sniffs the magic bytes when the media type is wrong, and reports progress', async () => {
    const t = new TarWriter();
    t.add({ name: 'f', data: 'hi' });
    const gz = gzipSync(t.finish());
    const seen: [number, number][] = [];
    const dest = freshDest();
    await unpackLayer(blob(gz), TAR, dest, { onProgress: (a, b) => seen.push([a, b]) });
    expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('hi');
    expect(seen.at(-1)).toEqual([gz.length, gz.length]);
  });

  it('refuses an existing destDir and leaves it alone', async () => {
    const dest = freshDest();
    mkdirSync(dest, { recursive: true });
    writeFileSync(join(dest, 'keep'), 'k');
    const t = new TarWriter();
    t.add({ name: 'f' });
    await expect(unpackLayer(blob(t.finish()), TAR, dest)).rejects.toBeInstanceOf(StoreError);
    expect(readFileSync(join(dest, 'keep'), 'utf8')).toBe('k');
  });

  it('refuses a hardlink to an entry that comes later and a non-directory root entry', async () => {
    const t = new TarWriter();
    t.add({ name: 'early', type: 'link', linkname: 'late' });
    t.add({ name: 'late', data: 'x' });
    const dest = freshDest();
    await expect(unpackLayer(blob(t.finish()), TAR, dest)).rejects.toThrow(/"early".*not in this layer/);
    expect(existsSync(dest)).toBe(false);
    const r = new TarWriter();
    r.add({ name: './', type: 'symlink', linkname: '/' });
    await expect(unpackLayer(blob(r.finish()), TAR, freshDest())).rejects.toBeInstanceOf(UnsafeArchiveError);
  });
});
