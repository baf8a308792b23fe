// A small tar writer for test images: ustar headers, PAX extended headers
// (long names, xattrs as raw bytes, big numbers, fractional mtimes) or GNU
// long-name records and base-256 numbers when asked. It can also write the
// malformed archives the hostile images need, since it checks nothing.

const BLOCK = 512;
const TYPEFLAG = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function octal(buf, off, len, value) {
  const s = Math.trunc(value).toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) return false;
  buf.write(s, off, len - 1, 'latin1');
  buf[off + len - 1] = 0;
  return true;
}

/** GNU base-256: high bit set on the first byte, big-endian two's complement. */
export function base256(buf, off, len, value) {
  let v = BigInt(Math.trunc(value));
  if (v < 0n) v += 1n << BigInt(8 * len);
  for (let i = len - 1; i >= 0; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[off] |= 0x80;
}

function paxRecord(key, value) {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(String(value)), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function pad(n) {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/**
 * @typedef {object} TarEntryInput
 * @property {string} name
 * @property {'file'|'link'|'symlink'|'char'|'block'|'dir'|'fifo'} [type]  default 'file'
 * @property {number} [mode]  permission bits, default 0644 (0755 for dirs)
 * @property {number} [uid] @property {number} [gid]
 * @property {number} [mtime] seconds, may be fractional
 * @property {Buffer|string} [data]
 * @property {string} [linkname]
 * @property {number} [devmajor] @property {number} [devminor]
 * @property {Record<string, Buffer|string>} [xattrs]  written as SCHILY.xattr.* (raw bytes)
 * @property {Record<string, Buffer|string>} [pax]  extra PAX records
 * @property {Buffer} [rawHeader]  a prebuilt 512-byte header (for crafted tests)
 */

export class TarWriter {
  /** @param {{ longNames?: 'pax'|'gnu', bigNumbers?: 'pax'|'base256' }} [opts] */
  constructor(opts = {}) {
    this.longNames = opts.longNames ?? 'pax';
    this.bigNumbers = opts.bigNumbers ?? 'pax';
    /** @type {Buffer[]} */
    this.chunks = [];
  }

  /** @param {TarEntryInput} e */
  add(e) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? (typeof e.data === 'string' ? Buffer.from(e.data) : e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const pax = [];
    let name = type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
    let linkname = e.linkname ?? '';

    if (Buffer.byteLength(name) > 100) {
      if (this.longNames === 'gnu') this.gnuRecord('L', name);
      else pax.push(paxRecord('path', name));
      name = name.slice(0, 99);
    }
    if (Buffer.byteLength(linkname) > 100) {
      if (this.longNames === 'gnu') this.gnuRecord('K', linkname);
      else pax.push(paxRecord('linkpath', linkname));
      linkname = linkname.slice(0, 99);
    }
    const mtime = e.mtime ?? 1700000000;
    if (!Number.isInteger(mtime)) pax.push(paxRecord('mtime', mtime.toFixed(9)));
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.isBuffer(v) ? v : Buffer.from(v)));
    for (const [k, v] of Object.entries(e.pax ?? {})) pax.push(paxRecord(k, v));

    const h = Buffer.alloc(BLOCK);
    h.write(name, 0, 100, 'utf8');
    const num = (off, len, value, key) => {
      if (octal(h, off, len, value)) return;
      if (this.bigNumbers === 'base256') base256(h, off, len, value);
      else {
        pax.push(paxRecord(key, value));
        octal(h, off, len, 0);
      }
    };
    num(100, 8, e.mode ?? (type === 'dir' ? 0o755 : 0o644), 'mode');
    num(108, 8, e.uid ?? 0, 'uid');
    num(116, 8, e.gid ?? 0, 'gid');
    num(124, 12, data.length, 'size');
    num(136, 12, Math.floor(mtime), 'mtime');
    h[156] = TYPEFLAG[type].charCodeAt(0);
    h.write(linkname, 157, 100, 'utf8');
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
    num(329, 8, e.devmajor ?? 0, 'SCHILY.devmajor');
    num(337, 8, e.devminor ?? 0, 'SCHILY.devminor');

    if (pax.length > 0) {
      const body = Buffer.concat(pax);
      this.chunks.push(headerBlock({ name: `PaxHeaders/${name.slice(0, 80)}`, typeflag: 'x', size: body.length }), body, Buffer.alloc(pad(body.length)));
    }
    this.chunks.push(e.rawHeader ?? finishHeader(h), data, Buffer.alloc(pad(data.length)));
  }

  /** Appends bytes verbatim (crafted headers in tests). */
  raw(buf) {
    this.chunks.push(buf);
  }

  gnuRecord(typeflag, value) {
    const body = Buffer.from(value + '\0');
    const h = headerBlock({ name: '././@LongLink', typeflag, size: body.length, gnu: true });
    this.chunks.push(h, body, Buffer.alloc(pad(body.length)));
  }

  /** The archive with its two zero blocks. */
  finish() {
    return Buffer.concat([...this.chunks, Buffer.alloc(BLOCK * 2)]);
  }
}

/** A header block for metadata records (PAX 'x', GNU 'L'/'K'). */
function headerBlock({ name, typeflag, size, gnu = false }) {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0);
  h[156] = typeflag.charCodeAt(0);
  if (gnu) h.write('ustar  \0', 257, 'latin1');
  else {
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
  }
  return finishHeader(h);
}

/** Fills in the checksum field (sum of the bytes with the field as spaces). */
export function finishHeader(h) {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}
