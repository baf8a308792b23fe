// The seccomp program cache: a start loads what an earlier start compiled for the same profile,
// and never a program compiled for another profile or by another compiler.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Seccomp } from '../../../src/oci/runtime.js';
import { compileSeccomp } from '../../../src/runtime/seccomp.js';
import { cachedSeccompProgram } from '../../../src/runtime/seccomp-cache.js';

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

  it('never loads a program another compiler made (another build: other code or syscall tables)', () => {
    const dir = join(root, 'compilers');
    cachedSeccompProgram(dir, denyMkdir(13), 'build-a');
    const file = join(dir, readdirSync(dir)[0]!);
    const data = readFileSync(file);
    data.writeUInt32LE(0, data.length - 4); // marks what a load from this file returns
    writeFileSync(file, data);
    expect(cachedSeccompProgram(dir, denyMkdir(13), 'build-b')).toEqual(compileSeccomp(denyMkdir(13)));
    // The other build's programs go as this one keeps its first: only build-b's file is left.
    expect(readdirSync(dir)).toHaveLength(1);
    expect(readdirSync(dir)[0]!.startsWith('build_b.')).toBe(true);
  });

  it('compiles again over a file whose count of instructions or last instruction is off', () => {
    const dir = join(root, 'whole');
    const program = compileSeccomp(denyMkdir(13));
    cachedSeccompProgram(dir, denyMkdir(13));
    const file = join(dir, readdirSync(dir)[0]!);
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, whole.length - 8)); // one instruction short: the count says otherwise
    expect(cachedSeccompProgram(dir, denyMkdir(13))).toEqual(program);
    const garbled = Buffer.from(whole);
    garbled.writeUInt16LE(0x05, whole.length - 8); // the count agrees, but the last instruction is a jump, not a ret
    writeFileSync(file, garbled);
    expect(cachedSeccompProgram(dir, denyMkdir(13))).toEqual(program);
  });
});
