import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestMismatchError, StoreError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { ContentStore } from '../../../src/store/content.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-content-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ContentStore', () => {
  it('stores bytes under blobs/sha256/<hex> and reads them back', () => {
    const cs = new ContentStore(dir);
    const d = cs.putBytes('hello');
    expect(d).toBe(sha256Digest('hello'));
    expect(cs.blobPath(d)).toBe(join(dir, 'blobs', 'sha256', d.slice(7)));
    expect(cs.read(d).toString()).toBe('hello');
    expect(cs.has(d)).toBe(true);
    expect(cs.list()).toEqual([{ digest: d, size: 5 }]);
    // idempotent
    expect(cs.putBytes(Buffer.from('hello'))).toBe(d);
  });

  it('putBytes refuses content that does not match the expected digest', () => {
    const cs = new ContentStore(dir);
    expect(() => cs.putBytes('hello', sha256Digest('other'))).toThrow(DigestMismatchError);
    expect(cs.list()).toEqual([]);
  });

  it('rejects malformed digests before touching the disk', () => {
    const cs = new ContentStore(dir);
    expect(() => cs.blobPath('sha256:../../etc/passwd')).toThrow(/invalid digest/);
    expect(() => cs.partialPath('md5:abc')).toThrow(/invalid digest/);
  });

  it('commits a partial only when size and digest match; nothing partial is visible under blobs/', async () => {
    const cs = new ContentStore(dir);
    const data = Buffer.from('layer data '.repeat(1000));
    const d = sha256Digest(data);
    const partial = cs.partialPath(d);
    expect(partial).toBe(join(dir, 'ingest', `${d.slice(7)}.partial`));
    writeFileSync(partial, data.subarray(0, 100));
    expect(cs.has(d)).toBe(false);
    // wrong size: partial deleted, nothing committed
    await expect(cs.commitPartial(d, { expectedSize: data.length })).rejects.toThrow(DigestMismatchError);
    expect(existsSync(partial)).toBe(false);
    expect(cs.has(d)).toBe(false);
    // right size, wrong bytes, verify: refused
    const bad = Buffer.from(data);
    bad[5] = 0;
    writeFileSync(partial, bad);
    await expect(cs.commitPartial(d, { expectedSize: data.length, verify: true })).rejects.toThrow(/digest mismatch/);
    expect(cs.has(d)).toBe(false);
    // resumed download: two appends then commit
    writeFileSync(partial, data.subarray(0, 4000));
    appendFileSync(partial, data.subarray(4000));
    const path = await cs.commitPartial(d, { expectedSize: data.length, verify: true });
    expect(readFileSync(path)).toEqual(data);
    expect(existsSync(partial)).toBe(false);
    expect(readdirSync(join(dir, 'blobs', 'sha256'))).toEqual([d.slice(7)]);
  });

  it('commitPartial without any data names the blob', async () => {
    const cs = new ContentStore(dir);
    const d = sha256Digest('x');
    await expect(cs.commitPartial(d)).rejects.toThrow(StoreError);
    await expect(cs.commitPartial(d)).rejects.toThrow(d);
  });

  it('two concurrent fetchers of one blob download it once; the second waits and finds it', async () => {
    const cs = new ContentStore(dir);
    const data = Buffer.from('shared layer'.repeat(5000));
    const d = sha256Digest(data);
    let downloads = 0;
    const waited: string[] = [];
    const fakeFetch = async (partial: string) => {
      downloads++;
      for (let off = 0; off < data.length; off += 8192) {
        appendFileSync(partial, data.subarray(off, off + 8192));
        await sleep(5);
      }
    };
    const pull = async (who: string) => {
      const lock = await cs.lockBlob(d, () => waited.push(who));
      try {
        if (!cs.has(d)) {
          await fakeFetch(cs.partialPath(d));
          await cs.commitPartial(d, { expectedSize: data.length, verify: true });
        }
        return readFileSync(cs.blobPath(d));
      } finally {
        lock.release();
      }
    };
    const [a, b] = await Promise.all([pull('a'), pull('b')]);
    expect(a).toEqual(data);
    expect(b).toEqual(data);
    expect(downloads).toBe(1);
    expect(waited).toEqual(['b']);
  });

  it('remove deletes blob and partial; gc removes only old, unlocked partials', async () => {
    const cs = new ContentStore(dir);
    const d1 = cs.putBytes('one');
    expect(cs.remove(d1)).toBe(true);
    expect(cs.has(d1)).toBe(false);
    expect(cs.remove(d1)).toBe(false);

    const old = sha256Digest('old');
    const busy = sha256Digest('busy');
    const fresh = sha256Digest('fresh');
    for (const d of [old, busy, fresh]) writeFileSync(cs.partialPath(d), 'part');
    const past = new Date(Date.now() - 3 * 24 * 3600_000);
    utimesSync(cs.partialPath(old), past, past);
    utimesSync(cs.partialPath(busy), past, past);
    const lock = await cs.lockBlob(busy);
    try {
      expect(cs.gc()).toBe(4);
    } finally {
      lock.release();
    }
    expect(existsSync(cs.partialPath(old))).toBe(false);
    expect(existsSync(cs.partialPath(busy))).toBe(true);
    expect(existsSync(cs.partialPath(fresh))).toBe(true);
    expect(statSync(cs.partialPath(fresh)).size).toBe(4);
  });
});
