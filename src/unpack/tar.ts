// A streaming tar reader (POSIX ustar, GNU and PAX), fed with chunks of any
// size and emitting entries to a synchronous sink. PAX records are kept as
// raw bytes so binary xattr values (security.capability) survive intact.
import { ArchiveError } from '../errors.js';

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** The name as stored (PAX path / GNU longname / ustar prefix+name); not yet sanitised. */
  name: string;
  type: EntryType;
  /** Bytes of content that follow (0 for every type but 'file'). */
  size: number;
  /** Permission bits incl. setuid/setgid/sticky (no file type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, fractional when PAX gave one. */
  mtime: number;
  atime: number | undefined;
  /** Symlink target or hardlink target, verbatim. */
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

/** Receives entries in order: entry(), then data() for each chunk of content, then endEntry(). */
export interface TarSink {
  entry(entry: TarEntry): void;
  data(chunk: Buffer): void;
  endEntry(): void;
}

const BLOCK = 512;
/** PAX and GNU long-name records are held in memory: cap them against memory bombs. */
const MAX_META_SIZE = 16 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    // Names are handled as JS strings; a lossy decode would create the wrong file.
    throw new ArchiveError(`tar ${what} is not valid UTF-8: ${Buffer.from(bytes).toString('hex')}`);
  }
}

/** A NUL-terminated string field. */
function field(block: Buffer, off: number, len: number): Buffer {
  const end = block.indexOf(0, off);
  return block.subarray(off, end === -1 || end > off + len ? off + len : end);
}

/** A numeric field: octal text (NUL/space padded), or GNU base-256 when the high bit is set. */
export function parseNumeric(block: Buffer, off: number, len: number, what: string): number {
  const first = block[off]!;
  if (first & 0x80) {
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(block[off + i]!);
    // 0xff lead byte: a negative number in two's complement.
    if (first === 0xff) v -= 1n << BigInt(8 * len - 1);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new ArchiveError(`tar header ${what} out of range`);
    return Number(v);
  }
  let i = off;
  const end = off + len;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) {
    if (block[i] === 0 && i === off) return 0; // empty field
    i++;
  }
  let v = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw new ArchiveError(`tar header ${what} is not an octal number: ${JSON.stringify(block.subarray(off, end).toString('latin1'))}`);
    v = v * 8 + (c - 0x30);
  }
  return v;
}

/** True when the header checksum matches (unsigned sum, or the signed sum some old tars wrote). */
export function verifyChecksum(block: Buffer): boolean {
  const stored = parseNumeric(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses a PAX extended header body ("<len> <key>=<value>\n" records), values as raw bytes. */
export function parsePaxRecords(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // NUL padding after the last record
    const space = body.indexOf(0x20, pos);
    if (space === -1) throw new ArchiveError('PAX header: record without a length');
    const lenText = body.subarray(pos, space).toString('latin1');
    if (!/^[0-9]+$/.test(lenText)) throw new ArchiveError(`PAX header: bad record length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = pos + len;
    if (len <= space - pos + 1 || end > body.length || body[end - 1] !== 0x0a)
      throw new ArchiveError(`PAX header: record length ${len} does not fit the header`);
    const eq = body.indexOf(0x3d, space + 1);
    if (eq === -1 || eq >= end) throw new ArchiveError('PAX header: record without "="');
    const key = decodeName(body.subarray(space + 1, eq), 'PAX key');
    out.set(key, Buffer.from(body.subarray(eq + 1, end - 1)));
    pos = end;
  }
  return out;
}

function paxNumber(v: Buffer, key: string): number {
  const s = v.toString('latin1');
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(s)) throw new ArchiveError(`PAX header: ${key}=${JSON.stringify(s)} is not a number`);
  return Number(s);
}

function paxInteger(v: Buffer, key: string): number {
  const n = paxNumber(v, key);
  if (!Number.isSafeInteger(n) || n < 0) throw new ArchiveError(`PAX header: ${key}=${v.toString('latin1')} is not a valid integer`);
  return n;
}

/** LIBARCHIVE.xattr.<name> uses URL-encoded names and base64 values. */
function libarchiveXattr(name: string, value: Buffer): [string, Buffer] {
  let decoded: string;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    throw new ArchiveError(`PAX header: bad LIBARCHIVE.xattr name ${JSON.stringify(name)}`);
  }
  return [decoded, Buffer.from(value.toString('latin1'), 'base64')];
}

const TYPES: Record<string, EntryType> = {
  '0': 'file', '\0': 'file', '7': 'file',
  '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

const enum State { Header, Data, Meta, Skip, End }

export class TarParser {
  private state = State.Header;
  /** Partial header block carried between chunks. */
  private pending = Buffer.alloc(BLOCK);
  private pendingLen = 0;
  private remaining = 0; // content bytes left in the current entry
  private padding = 0; // bytes of padding after the content
  private meta: Buffer[] = [];
  private metaType = '';
  private sawZeroBlock = false;
  private globalPax = new Map<string, Buffer>();
  private localPax: Map<string, Buffer> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private entries = 0;

  constructor(private readonly sink: TarSink) {}

  /** Number of entries emitted so far. */
  get entryCount(): number {
    return this.entries;
  }

  get ended(): boolean {
    return this.state === State.End;
  }

  write(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      switch (this.state) {
        case State.End:
          return; // bytes after the end-of-archive marker are ignored (but still hashed by the caller)
        case State.Header: {
          let block: Buffer;
          if (this.pendingLen === 0 && n - pos >= BLOCK) {
            block = chunk.subarray(pos, pos + BLOCK);
            pos += BLOCK;
          } else {
            const take = Math.min(BLOCK - this.pendingLen, n - pos);
            chunk.copy(this.pending, this.pendingLen, pos, pos + take);
            this.pendingLen += take;
            pos += take;
            if (this.pendingLen < BLOCK) return;
            block = this.pending;
            this.pendingLen = 0;
          }
          this.header(block);
          break;
        }
        case State.Data:
        case State.Meta:
        case State.Skip: {
          if (this.remaining > 0) {
            const take = Math.min(this.remaining, n - pos);
            const part = chunk.subarray(pos, pos + take);
            if (this.state === State.Data) this.sink.data(part);
            else if (this.state === State.Meta) this.meta.push(Buffer.from(part));
            this.remaining -= take;
            pos += take;
            if (this.remaining > 0) return;
          }
          const skip = Math.min(this.padding, n - pos);
          this.padding -= skip;
          pos += skip;
          if (this.padding === 0) this.finishEntry();
          break;
        }
      }
    }
  }

  /** The stream is over: fail if it stopped inside an entry. */
  end(): void {
    if (this.state === State.End) return;
    if (this.state !== State.Header || this.pendingLen !== 0)
      throw new ArchiveError('tar stream is truncated (ends inside an entry)');
    if (this.localPax || this.longName !== undefined || this.longLink !== undefined)
      throw new ArchiveError('tar stream is truncated (extended header without its entry)');
    // A stream that ends without the two zero blocks is accepted, as GNU tar does.
  }

  private finishEntry(): void {
    const was = this.state;
    this.state = State.Header;
    if (was === State.Data) this.sink.endEntry();
    else if (was === State.Meta) this.finishMeta();
  }

  private finishMeta(): void {
    const body = Buffer.concat(this.meta);
    this.meta = [];
    switch (this.metaType) {
      case 'x': {
        const recs = parsePaxRecords(body);
        this.localPax ??= new Map();
        for (const [k, v] of recs) this.localPax.set(k, v);
        break;
      }
      case 'g':
        for (const [k, v] of parsePaxRecords(body)) {
          if (v.length === 0) this.globalPax.delete(k);
          else this.globalPax.set(k, v);
        }
        break;
      case 'L':
        this.longName = decodeName(field(body, 0, body.length), 'GNU long name');
        break;
      case 'K':
        this.longLink = decodeName(field(body, 0, body.length), 'GNU long link name');
        break;
    }
  }

  private header(block: Buffer): void {
    if (isZeroBlock(block)) {
      if (this.sawZeroBlock) this.state = State.End;
      this.sawZeroBlock = true;
      return;
    }
    if (this.sawZeroBlock) throw new ArchiveError('tar stream has a header after a zero block');
    if (!verifyChecksum(block)) throw new ArchiveError(`tar header checksum mismatch after ${this.entries} entries (corrupt or not a tar stream)`);

    const typeflag = String.fromCharCode(block[156]!);
    const size = parseNumeric(block, 124, 12, 'size');

    // Extended headers describe the next entry: collect their bodies.
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META_SIZE) throw new ArchiveError(`tar extended header of ${size} bytes is too large`);
      this.metaType = typeflag;
      this.beginContent(State.Meta, size);
      return;
    }

    const magic = block.subarray(257, 263).toString('latin1');
    const isUstar = magic === 'ustar\0'; // POSIX: has the prefix field; GNU ("ustar  ") does not
    let name = decodeName(field(block, 0, 100), 'entry name');
    if (isUstar) {
      const prefix = field(block, 345, 155);
      if (prefix.length > 0) name = `${decodeName(prefix, 'entry name prefix')}/${name}`;
    }
    let linkname = decodeName(field(block, 157, 100), 'link name');
    let uid = parseNumeric(block, 108, 8, 'uid');
    let gid = parseNumeric(block, 116, 8, 'gid');
    let mtime = parseNumeric(block, 136, 12, 'mtime');
    let atime: number | undefined;
    let entrySize = size;
    let devmajor = parseNumeric(block, 329, 8, 'devmajor');
    let devminor = parseNumeric(block, 337, 8, 'devminor');
    const mode = parseNumeric(block, 100, 8, 'mode') & 0o7777;

    if (this.longName !== undefined) name = this.longName;
    if (this.longLink !== undefined) linkname = this.longLink;
    const xattrs = new Map<string, Buffer>();
    const pax = this.globalPax.size > 0 || this.localPax ? new Map([...this.globalPax, ...(this.localPax ?? [])]) : undefined;
    if (pax) {
      for (const [key, value] of pax) {
        if (value.length === 0) continue; // an empty value cancels the record
        if (key === 'path') name = decodeName(value, 'PAX path');
        else if (key === 'linkpath') linkname = decodeName(value, 'PAX linkpath');
        else if (key === 'size') entrySize = paxInteger(value, key);
        else if (key === 'uid') uid = paxInteger(value, key);
        else if (key === 'gid') gid = paxInteger(value, key);
        else if (key === 'mtime') mtime = paxNumber(value, key);
        else if (key === 'atime') atime = paxNumber(value, key);
        else if (key === 'SCHILY.devmajor') devmajor = paxInteger(value, key);
        else if (key === 'SCHILY.devminor') devminor = paxInteger(value, key);
        else if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice(13), value);
        else if (key.startsWith('LIBARCHIVE.xattr.')) {
          const [k, v] = libarchiveXattr(key.slice(17), value);
          xattrs.set(k, v);
        } else if (key.startsWith('GNU.sparse.')) throw new ArchiveError(`tar entry "${name}": GNU sparse files are not supported`);
      }
    }
    this.localPax = undefined;
    this.longName = undefined;
    this.longLink = undefined;

    let type = TYPES[typeflag];
    if (type === undefined) {
      if (typeflag === 'D' || typeflag === 'V') {
        // GNU dump-dir listing / volume label: metadata only, skip the content.
        if (typeflag === 'D') type = 'dir';
        else {
          this.beginContent(State.Skip, entrySize);
          return;
        }
      } else if (typeflag === 'S') {
        throw new ArchiveError(`tar entry "${name}": GNU sparse files are not supported`);
      } else {
        throw new ArchiveError(`tar entry "${name}": unsupported type flag ${JSON.stringify(typeflag)}`);
      }
    }
    // Pre-POSIX tars mark directories only by a trailing slash.
    if (type === 'file' && typeflag !== '7' && !magic.startsWith('ustar') && name.endsWith('/')) type = 'dir';

    this.entries++;
    const entry: TarEntry = { name, type, size: type === 'file' ? entrySize : 0, mode, uid, gid, mtime, atime, linkname, devmajor, devminor, xattrs };
    this.sink.entry(entry);
    if (type === 'file') {
      this.beginContent(State.Data, entrySize);
    } else {
      this.sink.endEntry();
      // Header-only types carry no content whatever their size field says
      // (as Go's archive/tar, used by Docker and umoci) except GNU dump-dirs.
      if (typeflag === 'D') this.beginContent(State.Skip, entrySize);
    }
  }

  private beginContent(state: State, size: number): void {
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = state;
    if (size === 0) this.finishEntry();
  }
}
