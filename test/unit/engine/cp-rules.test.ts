// Docker's cp path rules, as pure functions (src/engine/cp-rules.ts).
import { describe, expect, it } from 'vitest';
import {
  archiveTopName,
  assertsDirectory,
  baseName,
  cleanPath,
  containerAbsPath,
  CopyPathError,
  dirName,
  getRebaseName,
  humanSize,
  prepareArchiveCopy,
  preserveTrailingDotOrSeparator,
  rebaseEntryName,
  splitCpArg,
  splitPath,
  splitPathDirEntry,
} from '../../../src/engine/cp-rules.js';

describe("Go's path functions", () => {
  it('cleanPath is lexical and drops trailing slashes', () => {
    expect(cleanPath('')).toBe('.');
    expect(cleanPath('/')).toBe('/');
    expect(cleanPath('//a//b/')).toBe('/a/b');
    expect(cleanPath('/a/./b/../c')).toBe('/a/c');
    expect(cleanPath('/../..')).toBe('/');
    expect(cleanPath('a/../..')).toBe('..');
    expect(cleanPath('./a')).toBe('a');
  });

  it('baseName, dirName and splitPath follow filepath.Base, Dir and Split', () => {
    expect(baseName('')).toBe('.');
    expect(baseName('/')).toBe('/');
    expect(baseName('/a/b/')).toBe('b');
    expect(baseName('/a/.')).toBe('.');
    expect(dirName('a')).toBe('.');
    expect(dirName('/a')).toBe('/');
    expect(dirName('/a/b/')).toBe('/a/b');
    expect(dirName('/a/.')).toBe('/a');
    expect(splitPath('/a/b')).toEqual(['/a/', 'b']);
    expect(splitPath('/a/b/')).toEqual(['/a/b/', '']);
    expect(splitPath('b')).toEqual(['', 'b']);
  });

  it('splitPathDirEntry keeps a final "." as the entry', () => {
    expect(splitPathDirEntry('/a/b')).toEqual(['/a', 'b']);
    expect(splitPathDirEntry('/a/b/')).toEqual(['/a', 'b']);
    expect(splitPathDirEntry('/a/b/.')).toEqual(['/a/b', '.']);
    expect(splitPathDirEntry('/')).toEqual(['/', '/']);
  });

  it('preserveTrailingDotOrSeparator puts back what cleaning removed', () => {
    expect(preserveTrailingDotOrSeparator('/a/b', '/a/b/')).toBe('/a/b/');
    expect(preserveTrailingDotOrSeparator('/a/b', '/a/b/.')).toBe('/a/b/.');
    expect(preserveTrailingDotOrSeparator('/', '/.')).toBe('/.');
    expect(preserveTrailingDotOrSeparator('/a', '/a')).toBe('/a');
  });

  it('containerAbsPath starts relative paths at the root and keeps "/" and "/." endings', () => {
    expect(containerAbsPath('tmp/x')).toBe('/tmp/x');
    expect(containerAbsPath('/tmp/../etc/')).toBe('/etc/');
    expect(containerAbsPath('/tmp/.')).toBe('/tmp/.');
    // Go's filepath.Base("") is ".", so Docker reads "c:" as the root's content.
    expect(containerAbsPath('')).toBe('/.');
    expect(containerAbsPath('/')).toBe('/');
  });

  it('assertsDirectory for "dir/" and "dir/."', () => {
    expect(assertsDirectory('/a/')).toBe(true);
    expect(assertsDirectory('/a/.')).toBe(true);
    expect(assertsDirectory('/a')).toBe(false);
  });
});

describe('splitCpArg', () => {
  it('splits CONTAINER:PATH, leaves local paths alone', () => {
    expect(splitCpArg('web:/etc/hosts')).toEqual({ container: 'web', path: '/etc/hosts' });
    expect(splitCpArg('web:')).toEqual({ container: 'web', path: '' });
    expect(splitCpArg('/tmp/a:b')).toEqual({ container: undefined, path: '/tmp/a:b' });
    expect(splitCpArg('./a:b')).toEqual({ container: undefined, path: './a:b' });
    expect(splitCpArg('file')).toEqual({ container: undefined, path: 'file' });
    expect(splitCpArg('-')).toEqual({ container: undefined, path: '-' });
    expect(splitCpArg(':/tmp/x')).toEqual({ container: undefined, path: '/tmp/x' });
  });
});

describe('getRebaseName (a followed symlink keeps its own name)', () => {
  it('renames when the target has another base name', () => {
    expect(getRebaseName('/tmp/link', '/etc/passwd')).toEqual({ path: '/etc/passwd', rebaseName: 'link' });
    expect(getRebaseName('/tmp/passwd', '/etc/passwd')).toEqual({ path: '/etc/passwd', rebaseName: undefined });
  });

  it('carries the "/." and "/" endings over to the target', () => {
    expect(getRebaseName('/tmp/l/.', '/etc')).toEqual({ path: '/etc/.', rebaseName: undefined });
    expect(getRebaseName('/tmp/l/', '/etc')).toEqual({ path: '/etc/', rebaseName: 'l' });
  });
});

describe('prepareArchiveCopy (where the archive goes)', () => {
  const file = (path: string) => ({ path, isDir: false });
  const dir = (path: string) => ({ path, isDir: true });
  const existingDir = (path: string) => ({ path, exists: true, isDir: true });
  const existingFile = (path: string) => ({ path, exists: true, isDir: false });
  const missing = (path: string) => ({ path, exists: false, isDir: false });

  it('a file into an existing directory keeps its name', () => {
    expect(prepareArchiveCopy(file('/src/a.txt'), existingDir('/dst'))).toEqual({ extractDir: '/dst', topName: 'a.txt', renameTo: undefined });
  });

  it('a file onto an existing file replaces it under the destination name', () => {
    expect(prepareArchiveCopy(file('/src/a.txt'), existingFile('/dst/b.txt'))).toEqual({ extractDir: '/dst', topName: 'a.txt', renameTo: 'b.txt' });
  });

  it('a file to a missing path creates it under that name, unless the path asserts a directory', () => {
    expect(prepareArchiveCopy(file('/src/a.txt'), missing('/dst/new'))).toEqual({ extractDir: '/dst', topName: 'a.txt', renameTo: 'new' });
    expect(() => prepareArchiveCopy(file('/src/a.txt'), missing('/dst/new/'))).toThrow(new CopyPathError('no such directory'));
    expect(() => prepareArchiveCopy(file('/src/a.txt'), missing('/dst/new/.'))).toThrow('no such directory');
  });

  it('a directory into an existing directory: a copy named after it, or its content with "/."', () => {
    expect(prepareArchiveCopy(dir('/src/d'), existingDir('/dst'))).toEqual({ extractDir: '/dst', topName: 'd', renameTo: undefined });
    expect(prepareArchiveCopy(dir('/src/d/.'), existingDir('/dst'))).toEqual({ extractDir: '/dst', topName: '.', renameTo: undefined });
  });

  it('a directory to a missing path becomes that directory', () => {
    expect(prepareArchiveCopy(dir('/src/d'), missing('/dst/new'))).toEqual({ extractDir: '/dst', topName: 'd', renameTo: 'new' });
    expect(prepareArchiveCopy(dir('/src/d/.'), missing('/dst/new/'))).toEqual({ extractDir: '/dst', topName: '.', renameTo: 'new' });
  });

  it('a directory onto an existing file is refused', () => {
    expect(() => prepareArchiveCopy(dir('/src/d'), existingFile('/dst/f'))).toThrow('cannot copy directory');
  });

  it('a followed symlink copies under the link name', () => {
    expect(prepareArchiveCopy({ path: '/etc/passwd', isDir: false, rebaseName: 'pw' }, existingDir('/dst'))).toEqual({ extractDir: '/dst', topName: 'pw', renameTo: undefined });
  });

  it('the root copies as "." (its content)', () => {
    expect(archiveTopName(dir('/'))).toBe('.');
    expect(prepareArchiveCopy(dir('/'), missing('/out'))).toEqual({ extractDir: '/', topName: '.', renameTo: 'out' });
  });
});

describe('rebaseEntryName', () => {
  it('renames the top entry and what is below it, nothing else', () => {
    expect(rebaseEntryName('d', 'd', 'new')).toBe('new');
    expect(rebaseEntryName('d/', 'd', 'new')).toBe('new/');
    expect(rebaseEntryName('d/x/y', 'd', 'new')).toBe('new/x/y');
    expect(rebaseEntryName('dd/x', 'd', 'new')).toBe('dd/x');
    expect(rebaseEntryName('./x', '.', 'new')).toBe('new/x');
    expect(rebaseEntryName('.', '.', 'new')).toBe('new');
  });
});

describe('humanSize', () => {
  it("prints Docker's three significant digits in decimal units", () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(512)).toBe('512B');
    expect(humanSize(2048)).toBe('2.05kB');
    expect(humanSize(1_500_000)).toBe('1.5MB');
  });
});
