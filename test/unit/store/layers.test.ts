import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../../src/image/digest.js';
import { LayerStore } from '../../../src/store/layers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-layers-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const chain = sha256Digest('chain');
const diff = sha256Digest('diff');

async function fillWith(tmpTree: string, file = 'hello') {
  mkdirSync(tmpTree);
  writeFileSync(join(tmpTree, file), 'x');
  await sleep(20);
  return { diffId: diff, size: 1024 };
}

describe('LayerStore', () => {
  it('fills a layer in a temp dir and renames it into place with meta.json', async () => {
    const ls = new LayerStore(dir);
    expect(ls.has(chain)).toBe(false);
    let seenTmp = '';
    const { meta, created } = await ls.ensure(chain, async (tmp) => {
      seenTmp = tmp;
      // while filling, the final dir does not exist
      expect(existsSync(ls.layerDir(chain))).toBe(false);
      return fillWith(tmp);
    }, { parent: sha256Digest('parent') });
    expect(created).toBe(true);
    expect(seenTmp).not.toBe(ls.treePath(chain));
    expect(meta).toMatchObject({ chainId: chain, diffId: diff, size: 1024, parent: sha256Digest('parent') });
    expect(ls.treePath(chain)).toBe(join(dir, chain.slice(7), 'diff'));
    expect(readFileSync(join(ls.treePath(chain), 'hello'), 'utf8')).toBe('x');
    expect(JSON.parse(readFileSync(join(ls.layerDir(chain), 'meta.json'), 'utf8')).chainId).toBe(chain);
    expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(ls.list().map((m) => m.chainId)).toEqual([chain]);
  });

  it('a failing fill leaves no layer and no temp dir', async () => {
    const ls = new LayerStore(dir);
    await expect(ls.ensure(chain, async (tmp) => {
      mkdirSync(tmp);
      throw new Error('bad tar');
    })).rejects.toThrow('bad tar');
    expect(ls.has(chain)).toBe(false);
    expect(existsSync(ls.layerDir(chain))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('concurrent ensure of one layer fills it once', async () => {
    const ls = new LayerStore(dir);
    let fills = 0;
    let waits = 0;
    const fill = async (tmp: string) => {
      fills++;
      return fillWith(tmp);
    };
    const [a, b] = await Promise.all([
      ls.ensure(chain, fill, { onWait: () => waits++ }),
      ls.ensure(chain, fill, { onWait: () => waits++ }),
    ]);
    expect(fills).toBe(1);
    expect(waits).toBe(1);
    expect([a.created, b.created].sort()).toEqual([false, true]);
  });

  it('cleans temp dirs left by a killed unpack', async () => {
    const ls = new LayerStore(dir);
    const stale = join(dir, `.tmp-${chain.slice(7)}-deadbeef`);
    mkdirSync(join(stale, 'diff'), { recursive: true });
    ls.gc();
    expect(existsSync(stale)).toBe(false);
    mkdirSync(join(stale, 'diff'), { recursive: true });
    await ls.ensure(chain, (tmp) => fillWith(tmp));
    expect(existsSync(stale)).toBe(false);
  });

  it('gives each layer a short link to its tree and removes it with the layer', async () => {
    const ls = new LayerStore(dir);
    await ls.ensure(chain, (tmp) => fillWith(tmp));
    const link = ls.shortPath(chain);
    expect(link).toBe(join(dir, 'l', chain.slice(7, 7 + 16)));
    expect(readlinkSync(link)).toBe(`../${chain.slice(7)}/diff`);
    expect(readFileSync(join(link, 'hello'), 'utf8')).toBe('x');
    expect(await ls.remove(chain)).toBe(true);
    expect(ls.has(chain)).toBe(false);
    expect(existsSync(link)).toBe(false);
    expect(readdirSync(dir).filter((n) => !n.startsWith('.') && n !== 'l')).toEqual([]);
    expect(await ls.remove(chain)).toBe(false);
  });
});
