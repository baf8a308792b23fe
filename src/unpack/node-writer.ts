// Creates files, symlinks and directories on native threads (src/native/node_writer.c),
// because extracting a layer is bound by node creation in the kernel. With one
// thread, requests run in the order given (a directory before what goes in it);
// with more, in any order until drain() returns.
import { native, type NodeWriterHandle } from '../native/index.js';

/** Bytes of file content queued at most; submitting more waits for the threads. */
const MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

export interface NodeMeta {
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  xattrs: [string, Buffer][];
}

export class NodeWriter {
  private readonly handle: NodeWriterHandle;
  private closed = false;

  /** One thread: requests run in the order given, so a directory exists before what goes in it. */
  constructor() {
    this.handle = native().nodeWriterOpen(1, MAX_BYTES_IN_FLIGHT);
  }

  /** Queues a new regular file (O_EXCL, never following a symlink) with its content and metadata. */
  file(path: string, chunks: Buffer[], mode: number, meta: NodeMeta): void {
    const [names, values] = split(meta.xattrs);
    native().nodeWriterFile(this.handle, path, chunks, mode, meta.uid, meta.gid, meta.atime, meta.mtime, names, values);
  }

  /** Queues a symlink whose target is kept verbatim, with its owner, xattrs and times. */
  symlink(target: string, path: string, meta: NodeMeta): void {
    const [names, values] = split(meta.xattrs);
    native().nodeWriterSymlink(this.handle, target, path, meta.uid, meta.gid, meta.atime, meta.mtime, names, values);
  }

  /**
   * Queues a directory: made (mkdir with createMode, chmod to it against the umask) when
   * createMode is given, then given the entry's owner, mode and xattrs when meta is.
   */
  dir(path: string, createMode: number | undefined, meta?: { mode: number; uid: number; gid: number; xattrs: [string, Buffer][] }): void {
    const m: [number, number, number, string[], Buffer[]] | null = meta ? [meta.mode, meta.uid, meta.gid, ...split(meta.xattrs)] : null;
    native().nodeWriterDir(this.handle, path, createMode ?? -1, m);
  }

  /** Waits for everything queued; throws the first failure (an Error with code, syscall and path). */
  drain(): void {
    native().nodeWriterDrain(this.handle);
  }

  /** Lets queued work finish and ends the threads; failures are left to drain(). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().nodeWriterClose(this.handle);
  }
}

function split(xattrs: [string, Buffer][]): [string[], Buffer[]] {
  return [xattrs.map(([n]) => n), xattrs.map(([, v]) => v)];
}
