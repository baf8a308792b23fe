export interface TarEntryInput {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  data?: Buffer | string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer | string>;
  pax?: Record<string, Buffer | string>;
  rawHeader?: Buffer;
}
export class TarWriter {
  constructor(opts?: { longNames?: 'pax' | 'gnu'; bigNumbers?: 'pax' | 'base256' });
  add(e: TarEntryInput): void;
  raw(buf: Buffer): void;
  finish(): Buffer;
}
export function base256(buf: Buffer, off: number, len: number, value: number): void;
export function finishHeader(h: Buffer): Buffer;
