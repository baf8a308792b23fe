// diff from an upper dir and layer trees built by hand, in overlayfs' on-disk
// form: whiteouts are 0/0 character devices and opaque directories carry
// trusted.overlay.opaque=y (both need root).
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containerChanges, LowerView } from '../../../src/engine/container-diff.js';
import { native } from '../../../src/native/index.js';

const isRoot = process.getuid?.() === 0;
const S_IFCHR = 0o020000;

let base: string;
let top: string;
let bottom: string;
let upper: string;

const T = 1_600_000_000;

function dir(path: string): void {
  mkdirSync(path, { recursive: true });
  utimesSync(path, T, T);
}

function file(path: string, content = 'x'): void {
  writeFileSync(path, content);
  utimesSync(path, T, T);
}

const whiteout = (path: string) => native().mknod(path, S_IFCHR, 0, 0);
const opaque = (path: string) => native().lsetxattr(path, 'trusted.overlay.opaque', Buffer.from('y'));

/** Directories get the lower layers' times back after their children were made (as a copy-up keeps them). */
function settle(...paths: string[]): void {
  for (const p of paths) utimesSync(p, T, T);
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'diff-'));
  top = join(base, 'top');
  bottom = join(base, 'bottom');
  upper = join(base, 'upper');
  // The image: bottom layer has /etc/{passwd,group}, /bin/{ls,sh}, /usr/share/doc/a; the top layer deletes /bin/sh.
  for (const d of ['etc', 'bin', 'usr/share/doc', 'var/lib']) dir(join(bottom, d));
  file(join(bottom, 'etc/passwd'));
  file(join(bottom, 'etc/group'));
  file(join(bottom, 'bin/ls'));
  file(join(bottom, 'bin/sh'));
  file(join(bottom, 'usr/share/doc/a'));
  file(join(bottom, 'usr/share/doc/b'));
  settle(...['etc', 'bin', 'usr', 'usr/share', 'usr/share/doc', 'var', 'var/lib'].map((d) => join(bottom, d)));
  dir(join(top, 'bin'));
  dir(upper);
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

describe.skipIf(!isRoot)('containerChanges (as root)', () => {
  it('lists nothing for an untouched container', () => {
    expect(containerChanges({ upper, lowerDirs: [top, bottom] })).toEqual([]);
  });

  it('reports added, changed and deleted paths in depth-first byte order, with changed parents first', () => {
    whiteout(join(top, 'bin/sh'));
    settle(join(top, 'bin'));
    // The container: changes /etc/passwd in place, adds /etc/new and /tmp/x/y, deletes /bin/ls.
    dir(join(upper, 'etc'));
    file(join(upper, 'etc/passwd'), 'changed');
    file(join(upper, 'etc/new'));
    dir(join(upper, 'bin'));
    whiteout(join(upper, 'bin/ls'));
    settle(join(upper, 'bin'));
    dir(join(upper, 'tmp/x'));
    file(join(upper, 'tmp/x/y'));
    dir(join(upper, 'usr/share'));
    settle(join(upper, 'usr'), join(upper, 'usr/share'));
    dir(join(upper, 'var-b'));
    const lines = containerChanges({ upper, lowerDirs: [top, bottom] }).map((c) => `${c.kind} ${c.path}`);
    expect(lines).toEqual([
      // /bin itself has the image's mode, size and time: only listed as the parent of a deletion.
      'C /bin',
      'D /bin/ls',
      'C /etc',
      'A /etc/new',
      'C /etc/passwd',
      'A /tmp',
      'A /tmp/x',
      'A /tmp/x/y',
      'A /var-b',
    ]);
  });

  it('lists what the image had in a directory that was removed and made again (opaque)', () => {
    dir(join(upper, 'usr/share/doc'));
    opaque(join(upper, 'usr/share/doc'));
    file(join(upper, 'usr/share/doc/b'));
    file(join(upper, 'usr/share/doc/c'));
    settle(join(upper, 'usr'), join(upper, 'usr/share'));
    const lines = containerChanges({ upper, lowerDirs: [top, bottom] }).map((c) => `${c.kind} ${c.path}`);
    expect(lines).toEqual(['C /usr/share/doc', 'D /usr/share/doc/a', 'C /usr/share/doc/b', 'A /usr/share/doc/c']);
  });

  it('leaves out the empty mount points the runtime made, and a parent changed only by them', () => {
    dir(join(upper, 'etc'));
    file(join(upper, 'etc/hosts'), '');
    file(join(upper, 'etc/resolv.conf'), '');
    dir(join(upper, 'data'));
    const mountPoints = ['/etc/hosts', '/etc/resolv.conf', '/data', '/proc'];
    expect(containerChanges({ upper, lowerDirs: [top, bottom], mountPoints })).toEqual([]);
    // The same paths, not mount points: the container made them.
    expect(containerChanges({ upper, lowerDirs: [top, bottom] }).map((c) => `${c.kind} ${c.path}`)).toEqual(['A /data', 'C /etc', 'A /etc/hosts', 'A /etc/resolv.conf']);
  });
});

describe.skipIf(!isRoot)('LowerView (as root)', () => {
  it('applies whiteouts and opaque directories of the upper layers', () => {
    whiteout(join(top, 'bin/sh'));
    dir(join(top, 'usr/share/doc'));
    opaque(join(top, 'usr/share/doc'));
    file(join(top, 'usr/share/doc/z'));
    const view = new LowerView([top, bottom]);
    expect(view.stat(['bin', 'sh'])).toBeUndefined();
    expect(view.stat(['bin', 'ls'])?.isFile()).toBe(true);
    expect(view.stat(['usr', 'share', 'doc', 'a'])).toBeUndefined();
    expect([...view.children(['usr', 'share', 'doc'])]).toEqual(['z']);
    expect([...view.children(['bin'])].sort()).toEqual(['ls']);
    expect([...view.children(['etc'])].sort()).toEqual(['group', 'passwd']);
  });
});
