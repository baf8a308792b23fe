// Encodes tar entries (POSIX ustar, with PAX extended headers for what ustar
// cannot hold: long names and link targets, large ids and sizes, xattrs), the
// counterpart of tar.ts's parser: what TarParser reads back is what was written.
// Names are UTF-8; directories get a trailing "/"; times are whole seconds.
import { ArchiveError } from '../errors.js';
import type { TarEntry } from './tar.js';

const BLOCK = 512;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

const TYPEFLAG: Record<TarEntry['type'], string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

/** What the writer needs of an entry; atime and the device numbers are optional. */
export type WritableEntry = Pick<TarEntry, 'name' | 'type' | 'size' | 'mode' | 'uid' | 'gid' | 'mtime' | 'linkname' | 'xattrs'> &
  Partial<Pick<TarEntry, 'devmajor' | 'devminor'>>;

function octal(h: Buffer, off: number, len: number, value: number): void {
  h.write(`${value.toString(8).padStart(len - 1, '0')}\0`, off, len, 'ascii');
}

/** One PAX record: "<length> <key>=<value>\n", the length counting itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

/** Splits a long name into ustar's prefix (<= 155 bytes) and name (<= 100 bytes) at a slash, if it can. */
function ustarSplit(name: string): [string, string] | undefined {
  const bytes = Buffer.from(name);
  if (bytes.length <= 100) return ['', name];
  if (bytes.length > 256) return undefined;
  for (let i = Math.min(bytes.length - 1, 155); i > 0; i--) {
    if (bytes[i] !== 0x2f) continue;
    if (bytes.length - i - 1 > 100) return undefined;
    if (bytes.length - i - 1 === 0) continue;
    return [bytes.subarray(0, i).toString(), bytes.subarray(i + 1).toString()];
  }
  return undefined;
}

function header(name: string, prefix: string, typeflag: string, e: { size: number; mode: number; uid: number; gid: number; mtime: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, e.mode & 0o7777);
  octal(h, 108, 8, e.uid);
  octal(h, 116, 8, e.gid);
  octal(h, 124, 12, e.size);
  octal(h, 136, 12, e.mtime);
  h.fill(' ', 148, 156);
  h.write(typeflag, 156, 1, 'ascii');
  h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\x0000', 257, 8, 'latin1');
  octal(h, 329, 8, e.devmajor);
  octal(h, 337, 8, e.devminor);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** A stand-in for a name that a PAX record carries in full: printable ASCII, at most `max` bytes. */
function asciiFallback(name: string, max: number): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

/** Zero bytes that complete `size` bytes of content to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The end-of-archive marker: two zero blocks. */
export function tarTrailer(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/**
 * The header block(s) of one entry: a PAX extended header first when needed.
 * Its content (entry.size bytes, for files) and tarPadding(size) follow.
 */
export function encodeTarHeader(entry: WritableEntry): Buffer {
  if (entry.name.includes('\0') || entry.linkname.includes('\0')) throw new ArchiveError(`tar entry name contains a NUL byte: ${JSON.stringify(entry.name)}`);
  const size = entry.type === 'file' ? entry.size : 0;
  if (!Number.isSafeInteger(size) || size < 0) throw new ArchiveError(`tar entry "${entry.name}": bad size ${size}`);
  let name = entry.name;
  if (entry.type === 'dir' && !name.endsWith('/')) name += '/';
  const pax: Buffer[] = [];
  const fields = {
    size,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    mtime: Math.max(0, Math.floor(entry.mtime)),
    linkname: entry.linkname,
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0,
  };
  let split = ustarSplit(name);
  if (!split) {
    pax.push(paxRecord('path', Buffer.from(name)));
    split = ['', asciiFallback(name, 100)];
  }
  if (Buffer.byteLength(fields.linkname) > 100) {
    pax.push(paxRecord('linkpath', Buffer.from(fields.linkname)));
    fields.linkname = '';
  }
  for (const key of ['uid', 'gid'] as const) {
    if (fields[key] > MAX_OCTAL_7 || fields[key] < 0) {
      pax.push(paxRecord(key, Buffer.from(String(fields[key]))));
      fields[key] = 0;
    }
  }
  if (fields.size > MAX_OCTAL_11) {
    pax.push(paxRecord('size', Buffer.from(String(fields.size))));
    fields.size = 0;
  }
  if (fields.mtime > MAX_OCTAL_11) {
    pax.push(paxRecord('mtime', Buffer.from(String(fields.mtime))));
    fields.mtime = 0;
  }
  for (const key of ['devmajor', 'devminor'] as const) {
    if (fields[key] > MAX_OCTAL_7) {
      pax.push(paxRecord(`SCHILY.${key}`, Buffer.from(String(fields[key]))));
      fields[key] = 0;
    }
  }
  for (const [key, value] of entry.xattrs) pax.push(paxRecord(`SCHILY.xattr.${key}`, value));
  const main = header(split[1], split[0], TYPEFLAG[entry.type], { ...fields, size: entry.type === 'file' ? fields.size : 0 });
  if (pax.length === 0) return main;
  const body = Buffer.concat(pax);
  const base = name.replace(/\/+$/, '');
  const paxName = `PaxHeaders.0/${base.slice(base.lastIndexOf('/') + 1)}`;
  const paxHeader = header(asciiFallback(paxName, 100), '', 'x', {
    size: body.length,
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: fields.mtime,
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, body, tarPadding(body.length), main]);
}
