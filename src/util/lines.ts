// Reading a file that others append lines to (container logs, the events log):
// only whole lines, so a line being written is read next time, complete.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * The complete lines in bytes [from, end of file) of `path`, the offset after the last
 * newline (where the next read starts), and the file's inode (a rotated file has another).
 * A missing file reads as no lines.
 */
export function readCompleteLines(path: string, from: number): { text: string; next: number; ino?: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { text: '', next: from };
  }
  try {
    const { size, ino } = fstatSync(fd);
    if (size <= from) return { text: '', next: from, ino };
    const buf = Buffer.alloc(size - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    const end = buf.lastIndexOf(0x0a, got - 1);
    if (end < 0) return { text: '', next: from, ino };
    return { text: buf.subarray(0, end + 1).toString('utf8'), next: from + end + 1, ino };
  } finally {
    closeSync(fd);
  }
}
