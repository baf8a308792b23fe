// Reading a blob while it downloads: every byte once, in order, and a clear
// failure when the writer fails or its file ends short.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, fsyncSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { readGrowingFile, type Growth } from '../../../src/unpack/growing-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-growing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class TestGrowth implements Growth {
  private waiters: (() => void)[] = [];
  finished = false;
  error: unknown;
  next(): Promise<void> {
    return new Promise((res) => this.waiters.push(res));
  }
  state() {
    return { finished: this.finished, error: this.error };
  }
  grew(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(c);
  return Buffer.concat(parts);
}

describe('readGrowingFile', () => {
  it('yields every byte in order while the file is written in pieces', async () => {
    const path = join(dir, 'grows');
    writeFileSync(path, '');
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const growth = new TestGrowth();
    const reading = collect(readGrowingFile(path, data.length, growth));
    for (let off = 0; off < data.length; off += 7_000) {
      appendFileSync(path, data.subarray(off, off + 7_000));
      growth.grew();
      await sleep(1);
    }
    growth.finished = true;
    growth.grew();
    expect((await reading).equals(data)).toBe(true);
  });

  it('reads the last bytes written just before the writer said it finished', async () => {
    const path = join(dir, 'late');
    writeFileSync(path, 'abc');
    const growth = new TestGrowth();
    const reading = collect(readGrowingFile(path, 6, growth));
    await sleep(5);
    appendFileSync(path, 'def');
    growth.finished = true; // no grew() in between: the reader must look again
    growth.grew();
    expect((await reading).toString()).toBe('abcdef');
  });

  it("throws the writer's error", async () => {
    const path = join(dir, 'fails');
    writeFileSync(path, 'ab');
    const growth = new TestGrowth();
    const reading = collect(readGrowingFile(path, 10, growth));
    await sleep(5);
    growth.error = new Error('connection reset');
    growth.finished = true;
    growth.grew();
    await expect(reading).rejects.toThrow('connection reset');
  });

  it('fails when the writer finished but the file is short (it started over)', async () => {
    const path = join(dir, 'short');
    writeFileSync(path, 'abcdef');
    const growth = new TestGrowth();
    const gen = readGrowingFile(path, 12, growth);
    const first = await gen.next();
    expect(first.value?.toString()).toBe('abcdef');
    truncateSync(path, 0);
    growth.finished = true;
    await expect(collect(gen)).rejects.toThrow(/ended at 6 of 12 bytes/);
  });

  it('lets go of the page cache pages it has read: a blob is read once', async () => {
    const path = join(dir, 'read-once');
    const data = randomBytes(12 << 20);
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    fsyncSync(fd); // as a committed download: clean pages, which the kernel can drop at once
    closeSync(fd);
    const residentBytes = () => Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
    expect(residentBytes()).toBeGreaterThan(data.length / 2);
    const growth = new TestGrowth();
    growth.finished = true;
    expect((await collect(readGrowingFile(path, data.length, growth))).equals(data)).toBe(true);
    expect(residentBytes()).toBe(0);
  });
});
