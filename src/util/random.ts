// Random names and IDs without node:crypto: loading that module costs about 2 ms
// of every command's start, and all these need is bytes from the kernel.
import { closeSync, openSync, readSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** `bytes` random bytes from /dev/urandom (node:crypto where it cannot be read), as hex. */
export function randomHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    let got = 0;
    while (got < bytes) {
      const n = readSync(fd, buf, got, bytes - got, null);
      if (n <= 0) throw new Error('short read from /dev/urandom');
      got += n;
    }
    return buf.toString('hex');
  } catch {
    return randomBytes(bytes).toString('hex');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
