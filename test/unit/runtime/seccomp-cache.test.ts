// The seccomp program cache: a start loads what an earlier start compiled for the same profile,
// and never a program compiled for another profile or by another compiler.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Seccomp } from '../../../src/oci/runtime.js';
import { compileSeccomp } from '../../../src/runtime/seccomp.js';
import { SECCOMP_CACHE_FORMAT, cachedSeccompProgram } from '../../../src/runtime/seccomp-cache.js';

const root = mkdtempSync(join(tmpdir(), 'tsrun-seccomp-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const denyMkdir = (errnoRet: number): Seccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet }] });

describe('seccomp program cache', () => {
  it('compiles a profile once and loads the same program and flags afterwards', () => {
    const dir = join(root, 'once');
    const first = cachedSeccompProgram(dir, denyMkdir(13));
    expect(first).toEqual(compileSeccomp(denyMkdir(13)));
    expect(readdirSync(dir)).toHaveLength(1);
    const file = join(dir, readdirSync(dir)[0]!);
    // A program only the cache could have: what a second call returns comes from the file.
    const data = readFileSync(file);
    data.writeUInt32LE(0, data.length - 4);
    writeFileSync(file, data);
    const second = cachedSeccompProgram(dir, denyMkdir(13));
    expect(second.flags).toBe(first.flags);
    expect(second.bytes.subarray(0, -4)).toEqual(first.bytes.subarray(0, -4));
    expect(second.bytes.readUInt32LE(second.bytes.length - 4)).toBe(0);
  });

  it('keeps apart profiles that differ anywhere', () => {
    const dir = join(root, 'apart');
    const a = cachedSeccompProgram(dir, denyMkdir(13));
    const b = cachedSeccompProgram(dir, denyMkdir(14));
    expect(a.bytes.equals(b.bytes)).toBe(false);
    expect(cachedSeccompProgram(dir, denyMkdir(14))).toEqual(compileSeccomp(denyMkdir(14)));
    expect(cachedSeccompProgram(dir, denyMkdir(13))).toEqual(compileSeccomp(denyMkdir(13)));
  });

  it('compiles again over a file that holds another key, or is cut short', () => {
    const dir = join(root, 'other');
    cachedSeccompProgram(dir, denyMkdir(13));
    const file = join(dir, readdirSync(dir)[0]!);
    const data = readFileSync(file);
    data[20] = data[20]! ^ 1; // another profile (or format) under the same name
    writeFileSync(file, data);
    expect(cachedSeccompProgram(dir, denyMkdir(13))).toEqual(compileSeccomp(denyMkdir(13)));
    writeFileSync(file, readFileSync(file).subarray(0, 30));
    expect(cachedSeccompProgram(dir, denyMkdir(13))).toEqual(compileSeccomp(denyMkdir(13)));
  });

  it('still compiles where nothing can be written, and keeps nothing for a bad profile', () => {
    const dir = join(root, 'readonly');
    cachedSeccompProgram(dir, denyMkdir(1));
    chmodSync(dir, 0o500);
    try {
      if (process.getuid?.() !== 0) expect(cachedSeccompProgram(dir, denyMkdir(2))).toEqual(compileSeccomp(denyMkdir(2)));
    } finally {
      chmodSync(dir, 0o700);
    }
    const bad = join(root, 'bad');
    expect(() => cachedSeccompProgram(bad, { defaultAction: 'SCMP_ACT_BOGUS' })).toThrow(/SCMP_ACT_BOGUS/);
    expect(() => readdirSync(bad)).toThrow();
  });

  it("names the compiler's output in its format: a change to the program needs a new format", () => {
    // A fixed profile using every kind of rule, so that only a change of the compiler changes its
    // program. When this fails, the output changed: bump SECCOMP_CACHE_FORMAT (no start may load a
    // program an older compiler made) and put the new digest and format here.
    const ops = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE', 'SCMP_CMP_MASKED_EQ'];
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['read', 'write', 'openat', 'close', 'exit_group', 'getpid', 'mmap'], action: 'SCMP_ACT_ALLOW' },
        { names: ['kill'], action: 'SCMP_ACT_TRAP' },
        { names: ['mkdir'], action: 'SCMP_ACT_LOG' },
        ...ops.map((op, i) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: i % 3, value: 2 ** 33 + i, valueTwo: i, op }] })),
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 }] },
      ],
    };
    const digest = createHash('sha256').update(compileSeccomp(profile).bytes).digest('hex').slice(0, 16);
    expect({ format: SECCOMP_CACHE_FORMAT, digest }).toEqual({ format: 'tsrun-seccomp-bpf-2', digest: KNOWN_DIGEST });
  });
});

const KNOWN_DIGEST = '02c34358c001c335';
