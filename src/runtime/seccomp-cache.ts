// Compiled seccomp programs kept on disk by the profile they were compiled from, so that a
// container start (or an exec) loads its program instead of compiling it again: compiling is
// ~1-2 ms of JavaScript that runs once per process, cold, and most containers share a profile
// (Docker's default for their capabilities). A cache file holds its whole key (the compiler's
// identity and the profile), so a name that two keys share only costs a compile; a file that
// cannot be read or written, or does not look whole, only costs one.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Seccomp } from '../oci/runtime.js';
import { removeFile, writeFileAtomic } from '../util/fs.js';
import type { SeccompProgram } from './plan.js';
import { BPF, compileSeccomp } from './seccomp.js';

// Set by hack/build.mjs to a digest of the compiler's sources (seccomp.ts, syscalls.ts and this
// file): a program made by another build, whose syscall tables or code differ, is never loaded.
declare const __TSRUN_SECCOMP_COMPILER__: string | undefined;

/** The compiler's identity in every key ("source" when run unbundled, as under vitest). */
export const SECCOMP_COMPILER = typeof __TSRUN_SECCOMP_COMPILER__ === 'string' ? __TSRUN_SECCOMP_COMPILER__ : 'source';

/** The program of `profile`: from `dir` if this compiler made it before, else compiled and kept there. */
export function cachedSeccompProgram(dir: string, profile: Seccomp, compiler = SECCOMP_COMPILER): SeccompProgram {
  const key = Buffer.from(`tsrun-seccomp-bpf ${compiler}\n${JSON.stringify(profile)}`);
  const file = join(dir, fileNameFor(compiler, key));
  const hit = readCached(file, key);
  if (hit) return hit;
  const program = compileSeccomp(profile); // throws on a bad profile: nothing is kept then
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const header = Buffer.alloc(8);
    header.writeUInt32LE(program.flags >>> 0, 0);
    header.writeUInt32LE(program.bytes.length / 8, 4);
    // Durable: written once per profile, and a program cut short by a power loss would fail every start.
    writeFileAtomic(file, Buffer.concat([key, Buffer.from([0]), header, program.bytes]), { mode: 0o600, durable: true });
    // Programs of other builds are never loaded again: they go when this build writes its first.
    for (const name of readdirSync(dir)) if (!name.startsWith(namePrefix(compiler)) && name.endsWith('.bpf')) removeFile(join(dir, name));
  } catch {
    // a read-only or full state dir: the next start compiles again
  }
  return program;
}

/**
 * File layout: the key, a NUL, the filter flags and the number of instructions (u32 LE each),
 * the program (struct sock_filter[]). Taken only when the count matches and the last
 * instruction is a ret, as every compiled program's is.
 */
function readCached(file: string, key: Buffer): SeccompProgram | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  const at = key.length;
  if (data.length < at + 9 || data[at] !== 0 || key.compare(data, 0, at) !== 0) return undefined;
  const bytes = data.subarray(at + 9);
  if (bytes.length === 0 || bytes.length !== data.readUInt32LE(at + 5) * 8) return undefined;
  if (bytes.readUInt16LE(bytes.length - 8) !== BPF.RET_K) return undefined;
  return { bytes, flags: data.readUInt32LE(at + 1) };
}

/**
 * A file name for a key: the compiler, the key's length and a hash of a sample of its bytes.
 * Hashing all of a ~10 kB profile is ~1 ms of cold JavaScript at every start; the file's own
 * copy of the key decides.
 */
function fileNameFor(compiler: string, key: Buffer): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 31) h = Math.imul(h ^ key[i]!, 0x01000193);
  return `${namePrefix(compiler)}${key.length.toString(16)}-${(h >>> 0).toString(16)}.bpf`;
}

const namePrefix = (compiler: string): string => `${compiler.replace(/[^\w]/g, '_')}.`;
