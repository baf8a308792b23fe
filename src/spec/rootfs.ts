// Reading files of a container's root filesystem from the host without ever
// leaving it: an image controls every symlink in its tree, so /etc/passwd may
// be a link to "/etc/shadow-of-the-host" or "../../../../etc/passwd". Each
// component is resolved inside the rootfs, as the kernel would after chroot.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SpecError } from '../errors.js';

/** Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/** Files we read from an image (passwd, group) are small; refuse anything absurd. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * The host path of `path` (a path inside the container) with every symlink
 * resolved relative to `rootfsDir`: absolute targets restart at the rootfs,
 * ".." never climbs above it. Components that do not exist are kept as
 * written. The result always lies inside rootfsDir.
 */
export function resolveInRootfs(rootfsDir: string, path: string): string {
  const root = resolve(rootfsDir);
  const resolved: string[] = [];
  const pending = path.split('/').filter((c) => c !== '' && c !== '.');
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = lstatSync(hostPath).isSymbolicLink();
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') {
        throw new SpecError(`cannot resolve ${path} in the container's root filesystem`, { cause: err });
      }
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw new SpecError(`cannot resolve ${path} in the container's root filesystem: too many levels of symbolic links`);
    }
    const target = readlinkSync(hostPath);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
  }
  return join(root, ...resolved);
}

/**
 * The text of a regular file inside the rootfs, or undefined when it does not
 * exist. Opens with O_NOFOLLOW|O_NONBLOCK and checks the type on the open
 * descriptor, so a FIFO or device planted at /etc/passwd can neither block nor
 * be read, and a symlink swapped in after resolution is refused.
 */
export function readRootfsFile(rootfsDir: string, path: string): string | undefined {
  const hostPath = resolveInRootfs(rootfsDir, path);
  let fd: number;
  try {
    fd = openSync(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SpecError(`cannot read ${path} in the container's root filesystem`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SpecError(`cannot read ${path} in the container's root filesystem: not a regular file`);
    if (st.size > MAX_FILE_BYTES) throw new SpecError(`cannot read ${path} in the container's root filesystem: larger than ${MAX_FILE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
