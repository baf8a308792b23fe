// tricky: three layers (gzip, zstd, uncompressed) full of the cases an
// unpacker gets wrong: hundreds of whiteouts, an opaque dir, hardlinks across
// dirs, devices, a fifo, setuid/setgid/sticky, binary xattrs, long names and
// paths (PAX and GNU), base-256 owners, absolute symlinks, replacements within
// and across layers, a dir replaced by a file and a file by a dir.
import { fingerprint } from '../lib/fingerprint.mjs';
import { writeOciLayout } from '../lib/oci-layout.mjs';
import { TarWriter } from '../lib/tar-writer.mjs';

const M = 1700000000;

/** cap_net_bind_service+ep as a VFS_CAP_REVISION_2 security.capability value. */
export const CAP_NET_BIND_SERVICE = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
/** Bytes that break UTF-8 decoding and PAX record parsing done as text. */
export const BINARY_XATTR = Buffer.from([0x00, 0xff, 0x80, 0xfe, 0x0a, 0x3d, 0x20, 0xc3, 0x28, 0x00]);

/** Deterministic pseudo-random bytes. */
function noise(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const LONG_NAME = `long/${'n'.repeat(150)}`;
const LONG_PATH = `long/${'d'.repeat(100)}/${'e'.repeat(100)}/${'f'.repeat(80)}.txt`;

function layer1() {
  const t = new TarWriter();
  const dir = (name, o = {}) => t.add({ name, type: 'dir', mtime: M, ...o });
  dir('./');
  for (const d of ['a', 'a/b', 'c', 'dev', 'perms', 'xattr', 'long', 'links', 'repl', 'wh', 'opq', 'opq/sub', 'gone', 'gone/y']) dir(d);
  t.add({ name: 'a/file1', data: 'hello\n', uid: 1000, gid: 1000, mode: 0o640, mtime: M });
  t.add({ name: 'a/empty', data: '', mtime: M });
  t.add({ name: 'a/big', data: noise(1_500_000, 7), mtime: M });
  t.add({ name: 'a/fractional', data: 'f\n', mtime: M + 0.123456789 });
  t.add({ name: 'c/hardlink-to-file1', type: 'link', linkname: 'a/file1', mtime: M });
  t.add({ name: 'a/b/link2', type: 'link', linkname: 'a/file1', mtime: M });
  t.add({ name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666, mtime: M });
  t.add({ name: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6, mtime: M });
  t.add({ name: 'dev/fifo', type: 'fifo', mode: 0o620, mtime: M });
  t.add({ name: 'perms/setuid', data: '#!/bin/sh\n', mode: 0o4755, mtime: M });
  t.add({ name: 'perms/setuid-user', data: 'x', mode: 0o4750, uid: 1000, gid: 1000, mtime: M });
  t.add({ name: 'perms/setgid', data: 'x', mode: 0o2755, gid: 50, mtime: M });
  t.add({ name: 'perms/all-bits', data: 'x', mode: 0o7777, uid: 1000, gid: 1000, mtime: M });
  dir('perms/sticky', { mode: 0o1777 });
  dir('perms/setgid-dir', { mode: 0o2775, gid: 1000 });
  t.add({ name: 'xattr/cap', data: 'cap', mode: 0o755, xattrs: { 'security.capability': CAP_NET_BIND_SERVICE }, mtime: M });
  t.add({ name: 'xattr/user', data: 'u', xattrs: { 'user.bin': BINARY_XATTR, 'user.text': 'héllo wörld' }, mtime: M });
  dir('xattr/dir', { xattrs: { 'user.dirattr': Buffer.from([1, 2, 3, 0]) } });
  t.add({ name: LONG_NAME, data: 'long name\n', mtime: M });
  t.add({ name: LONG_PATH, data: 'long path\n', mtime: M });
  t.add({ name: 'links/abs', type: 'symlink', linkname: '/etc/passwd', mtime: M });
  t.add({ name: 'links/rel', type: 'symlink', linkname: '../a/file1', mtime: M });
  t.add({ name: 'links/dangling', type: 'symlink', linkname: '/nonexistent/x', mtime: M });
  t.add({ name: 'links/todir', type: 'symlink', linkname: '/a', mtime: M });
  t.add({ name: 'links/long-target', type: 'symlink', linkname: `/${'t'.repeat(120)}/${'u'.repeat(60)}`, mtime: M });
  t.add({ name: 'links/owned', type: 'symlink', linkname: 'x', uid: 1000, gid: 1000, mtime: M });
  t.add({ name: 'repl/file', data: 'v1\n', mtime: M });
  dir('repl/dir2file');
  t.add({ name: 'repl/dir2file/x', data: 'x', mtime: M });
  t.add({ name: 'repl/file2dir', data: 'file', mtime: M });
  for (let i = 0; i < 300; i++) t.add({ name: `wh/f${String(i).padStart(3, '0')}`, data: `${i}\n`, mtime: M });
  t.add({ name: 'wh/keep', data: 'keep\n', mtime: M });
  t.add({ name: 'opq/old1', data: '1', mtime: M });
  t.add({ name: 'opq/sub/old2', data: '2', mtime: M });
  t.add({ name: 'gone/x', data: 'x', mtime: M });
  t.add({ name: 'gone/y/z', data: 'z', mtime: M });
  // Replacements inside one layer: the later entry wins; dir over dir merges.
  t.add({ name: 'dup', data: 'first', mtime: M });
  t.add({ name: 'dup', data: 'second', mode: 0o600, mtime: M });
  dir('merge', { mode: 0o700 });
  t.add({ name: 'merge/child', data: 'c', mtime: M });
  dir('merge', { mode: 0o750, uid: 1000, gid: 1000 });
  t.add({ name: 'same', data: 'file first', mtime: M });
  t.add({ name: 'same', type: 'symlink', linkname: '/then/a/symlink', mtime: M });
  // An entry whose parent has no entry of its own.
  t.add({ name: 'implicit/parent/file', data: 'p', mtime: M });
  return t.finish();
}

function layer2() {
  const t = new TarWriter();
  for (let i = 0; i < 300; i++) t.add({ name: `wh/.wh.f${String(i).padStart(3, '0')}`, mtime: M });
  t.add({ name: 'opq/', type: 'dir', mtime: M });
  t.add({ name: 'opq/.wh..wh..opq', mtime: M });
  t.add({ name: 'opq/new', data: 'new', mtime: M });
  t.add({ name: 'repl/file', data: 'v2\n', mode: 0o600, mtime: M + 10 });
  t.add({ name: 'repl/dir2file', data: 'now a file', mtime: M });
  t.add({ name: 'repl/file2dir', type: 'dir', mode: 0o711, mtime: M });
  t.add({ name: 'repl/file2dir/child', data: 'child', mtime: M });
  t.add({ name: '.wh.gone', mtime: M });
  t.add({ name: 'a/b/link2', data: 'broken away from file1\n', mtime: M });
  t.add({ name: 'links/abs', type: 'symlink', linkname: '/etc/group', mtime: M });
  return t.finish();
}

function layer3() {
  // GNU long-name records and base-256 numbers instead of PAX.
  const t = new TarWriter({ longNames: 'gnu', bigNumbers: 'base256' });
  t.add({ name: 'wh/f005', data: 'back again\n', mtime: M });
  t.add({ name: 'repl/file', data: 'v3\n', mode: 0o644, mtime: M + 20 });
  t.add({ name: `gnu/${'g'.repeat(130)}`, data: 'gnu long name', mtime: M });
  t.add({ name: `gnu/link-${'k'.repeat(100)}`, type: 'symlink', linkname: `/${'l'.repeat(150)}`, mtime: M });
  t.add({ name: 'gnu/big-ids', data: 'ids', uid: 3_000_000, gid: 4_000_000, mtime: M });
  t.add({ name: 'perms/setuid', data: '#!/bin/sh\necho v2\n', mode: 0o4711, uid: 0, gid: 0, mtime: M });
  return t.finish();
}

export function trickyLayers() {
  return [
    { tar: layer1(), compression: 'gzip', createdBy: 'tricky layer 1 (gzip)' },
    { tar: layer2(), compression: 'zstd', createdBy: 'tricky layer 2 (zstd)' },
    { tar: layer3(), compression: 'none', createdBy: 'tricky layer 3 (uncompressed, GNU long names, base-256)' },
  ];
}

export function trickyImages() {
  return [{
    name: 'tricky',
    fingerprint: () => fingerprint(import.meta.url),
    build: (outDir) => writeOciLayout(outDir, { layers: trickyLayers(), config: { Cmd: ['/bin/sh'] } }),
  }];
}
