import { describe, expect, it } from 'vitest';
import { UnsafeArchiveError } from '../../../src/errors.js';
import { entryComponents, layerEntryComponents, TreeIndex, whiteoutOf } from '../../../src/unpack/paths.js';

describe('layerEntryComponents', () => {
  it('refuses absolute names, a bare "/" included, naming the entry', () => {
    for (const bad of ['/etc/passwd', '/', '//x', '/./tmp/x']) {
      const err = (() => {
        try {
          layerEntryComponents(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(UnsafeArchiveError);
      expect((err as UnsafeArchiveError).entry).toBe(bad);
      expect((err as Error).message).toBe(`refusing layer entry "${bad}": the path is absolute`);
    }
  });

  it('accepts the layer root as "./" or ".", and relative names as entryComponents does', () => {
    expect(layerEntryComponents('./')).toEqual([]);
    expect(layerEntryComponents('.')).toEqual([]);
    expect(layerEntryComponents('x//y/./z/')).toEqual(['x', 'y', 'z']);
    expect(layerEntryComponents('./etc/passwd')).toEqual(['etc', 'passwd']);
    expect(() => layerEntryComponents('a/../b')).toThrow('refusing layer entry "a/../b": the path contains ".."');
  });
});

describe('entryComponents (cp archives: relative to the extraction directory)', () => {
  it('makes absolute names relative and drops "." and empty parts', () => {
    expect(entryComponents('/etc/passwd')).toEqual(['etc', 'passwd']);
    expect(entryComponents('///x//y/./z/')).toEqual(['x', 'y', 'z']);
    expect(entryComponents('./')).toEqual([]);
    expect(entryComponents('.')).toEqual([]);
  });

  it('refuses any ".." component, naming the entry', () => {
    for (const bad of ['../x', 'a/../b', 'a/..', '/../../etc/passwd', '..']) {
      expect(() => entryComponents(bad)).toThrow(UnsafeArchiveError);
      expect(() => entryComponents(bad)).toThrow(`"${bad}"`);
    }
    expect(entryComponents('a/..b/c..')).toEqual(['a', '..b', 'c..']);
  });
});

describe('whiteoutOf', () => {
  it('classifies whiteouts, opaque markers and AUFS bookkeeping', () => {
    expect(whiteoutOf('a/b/.wh.c', ['a', 'b', '.wh.c'])).toEqual({ kind: 'whiteout', target: ['a', 'b', 'c'] });
    expect(whiteoutOf('a/.wh..wh..opq', ['a', '.wh..wh..opq'])).toEqual({ kind: 'opaque', dir: ['a'] });
    expect(whiteoutOf('.wh..wh..opq', ['.wh..wh..opq'])).toEqual({ kind: 'opaque', dir: [] });
    expect(whiteoutOf('.wh..wh.plnk', ['.wh..wh.plnk'])).toEqual({ kind: 'ignore' });
    expect(whiteoutOf('a/b', ['a', 'b'])).toBeUndefined();
    expect(whiteoutOf('a/x.wh.b', ['a', 'x.wh.b'])).toBeUndefined();
  });

  it('refuses whiteouts that name no file', () => {
    expect(() => whiteoutOf('a/.wh...', ['a', '.wh...'])).toThrow(UnsafeArchiveError);
    expect(() => whiteoutOf('a/.wh.', ['a', '.wh.'])).toThrow(UnsafeArchiveError);
  });
});

describe('TreeIndex', () => {
  it('lists the parents to create, outermost first', () => {
    const t = new TreeIndex();
    t.set('a', 'dir');
    expect(t.missingParents('a/b/c/d', ['a', 'b', 'c', 'd'])).toEqual(['a/b', 'a/b/c']);
    expect(t.missingParents('x', ['x'])).toEqual([]);
  });

  it('refuses to write through a symlink or a file created earlier in the layer', () => {
    const t = new TreeIndex();
    t.set('root', 'symlink');
    t.set('file', 'file');
    expect(() => t.missingParents('root/etc/evil', ['root', 'etc', 'evil'])).toThrow(/refusing layer entry "root\/etc\/evil": its parent "root" is a symlink/);
    expect(() => t.missingParents('file/x', ['file', 'x'])).toThrow(UnsafeArchiveError);
  });

  it('accepts hardlinks only to non-directories already in the layer, reached through real directories', () => {
    const t = new TreeIndex();
    t.set('etc', 'dir');
    t.set('etc/passwd', 'file');
    t.set('link', 'symlink');
    t.set('dev', 'dir');
    t.set('dev/null', 'other');
    expect(t.hardlinkTarget('h', 'etc/passwd')).toBe('etc/passwd');
    expect(t.hardlinkTarget('h', './dev/null')).toBe('dev/null');
    // An absolute target names no entry a layer may have, even when the relative one exists.
    expect(() => t.hardlinkTarget('h', '/etc/passwd')).toThrow('refusing layer entry "h": hardlink target "/etc/passwd" is absolute');
    expect(() => t.hardlinkTarget('h', 'etc/../etc/passwd')).toThrow('refusing layer entry "h": hardlink target "etc/../etc/passwd" contains ".."');
    expect(() => t.hardlinkTarget('h', 'etc/shadow')).toThrow(/not in this layer/);
    expect(() => t.hardlinkTarget('h', 'etc')).toThrow(/is a directory/);
    expect(() => t.hardlinkTarget('h', 'link/passwd')).toThrow(/goes through the symlink "link"/);
    expect(() => t.hardlinkTarget('h', '../../etc/passwd')).toThrow(UnsafeArchiveError);
    expect(() => t.hardlinkTarget('h', '/')).toThrow(/layer root/);
  });

  it('forgets a replaced directory and everything below it', () => {
    const t = new TreeIndex();
    t.set('d', 'dir');
    t.set('d/x', 'file');
    t.set('d/y', 'dir');
    t.set('d/y/z', 'file');
    t.set('dx', 'file');
    t.removeTree('d');
    expect([t.get('d'), t.get('d/x'), t.get('d/y/z'), t.get('dx')]).toEqual([undefined, undefined, undefined, 'file']);
  });
});
