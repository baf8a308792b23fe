// Compiled seccomp programs kept on disk by the profile they were compiled from, so that a
// container start (or an exec) loads its program instead of compiling it again: compiling is
// ~1-2 ms of JavaScript that runs once per process, cold, and most containers share a profile
// (Docker's default for their capabilities). A cache file holds its whole key, so a name that
// two profiles share only costs a compile; a file that cannot be read or written only costs one.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Seccomp } from '../oci/runtime.js';
import { writeFileAtomic } from '../util/fs.js';
import type { SeccompProgram } from './plan.js';
import { compileSeccomp } from './seccomp.js';

/** Part of every key: a compiler whose output changes must change this too. */
export const SECCOMP_CACHE_FORMAT = 'tsrun-seccomp-bpf-2';

/** The program of `profile`: from `dir` if it was compiled before, else compiled and kept there. */
export function cachedSeccompProgram(dir: string, profile: Seccomp): SeccompProgram {
  const key = Buffer.from(`${SECCOMP_CACHE_FORMAT}\n${JSON.stringify(profile)}`);
  const file = join(dir, fileNameFor(key));
  const hit = readCached(file, key);
  if (hit) return hit;
  const program = compileSeccomp(profile); // throws on a bad profile: nothing is kept then
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const flags = Buffer.alloc(4);
    flags.writeUInt32LE(program.flags >>> 0);
    writeFileAtomic(file, Buffer.concat([key, Buffer.from([0]), flags, program.bytes]), { mode: 0o600 });
  } catch {
    // a read-only or full state dir: the next start compiles again
  }
  return program;
}

/** File layout: the key, a NUL, the filter flags (u32 LE), the program (struct sock_filter[]). */
function readCached(file: string, key: Buffer): SeccompProgram | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  const at = key.length;
  if (data.length < at + 5 || data[at] !== 0 || key.compare(data, 0, at) !== 0) return undefined;
  const bytes = data.subarray(at + 5);
  if (bytes.length === 0 || bytes.length % 8 !== 0) return undefined;
  return { bytes, flags: data.readUInt32LE(at + 1) };
}

/**
 * A file name for a key: its length and a hash of a sample of its bytes. Hashing all of a ~10 kB
 * profile is ~1 ms of cold JavaScript at every start; the file's own copy of the key decides.
 */
function fileNameFor(key: Buffer): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 31) h = Math.imul(h ^ key[i]!, 0x01000193);
  return `${key.length.toString(16)}-${(h >>> 0).toString(16)}.bpf`;
}
