import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpecError } from '../../../src/errors.js';
import { readRootfsFile, resolveInRootfs } from '../../../src/spec/rootfs.js';
import { parseGroup, parsePasswd, resolveUser } from '../../../src/spec/user.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:1000:1000:App User:/home/app:/bin/sh',
  'nohome:x:1001:1001:::/bin/sh',
  'broken:x:notanumber:1:::',
  '',
].join('\n');

const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'audio:x:29:app,daemon',
  'staff:x:50:',
  'app:x:1000:',
  'video:x:44:app',
  'wheel:x:10:root',
].join('\n');

let tmp: string;
let rootfs: string;

function writeRootfs(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    const full = join(rootfs, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, text);
  }
}

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsrun-spec-user-'));
  rootfs = join(tmp, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('parsePasswd / parseGroup', () => {
  it('parses entries and skips malformed lines', () => {
    const p = parsePasswd(PASSWD);
    expect(p.map((e) => e.name)).toEqual(['root', 'daemon', 'app', 'nohome']);
    expect(p[2]).toEqual({ name: 'app', uid: 1000, gid: 1000, home: '/home/app', shell: '/bin/sh' });
    const g = parseGroup(GROUP);
    expect(g.find((e) => e.name === 'audio')).toEqual({ name: 'audio', gid: 29, members: ['app', 'daemon'] });
    expect(g.find((e) => e.name === 'staff')!.members).toEqual([]);
  });
});

describe('resolveUser', () => {
  beforeEach(() => writeRootfs({ 'etc/passwd': PASSWD, 'etc/group': GROUP }));

  it('no user means root, with its passwd HOME and groups', () => {
    expect(resolveUser(rootfs, undefined)).toEqual({ uid: 0, gid: 0, additionalGids: [10], home: '/root', username: 'root' });
    expect(resolveUser(rootfs, '')).toMatchObject({ uid: 0, gid: 0, home: '/root' });
  });

  it('a name: uid, primary gid, HOME and supplementary groups from membership', () => {
    expect(resolveUser(rootfs, 'app')).toEqual({ uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/app', username: 'app' });
  });

  it('a number with an entry behaves like the name', () => {
    expect(resolveUser(rootfs, '1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/app', username: 'app' });
  });

  it('a number without an entry needs none: gid 0, HOME /', () => {
    expect(resolveUser(rootfs, '4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [], home: '/' });
  });

  it('user:group by names and numbers; an explicit group drops membership groups', () => {
    expect(resolveUser(rootfs, 'app:staff')).toEqual({ uid: 1000, gid: 50, additionalGids: [], home: '/home/app', username: 'app' });
    expect(resolveUser(rootfs, 'app:7777')).toMatchObject({ uid: 1000, gid: 7777, additionalGids: [] });
    expect(resolveUser(rootfs, '4242:4343')).toEqual({ uid: 4242, gid: 4343, additionalGids: [], home: '/' });
    expect(resolveUser(rootfs, '4242:staff')).toMatchObject({ uid: 4242, gid: 50 });
  });

  it('--group-add names and numbers, appended and deduplicated', () => {
    expect(resolveUser(rootfs, 'app', ['staff', '29', '9999']).additionalGids).toEqual([29, 44, 50, 9999]);
  });

  it('an empty HOME field gives /', () => {
    expect(resolveUser(rootfs, 'nohome').home).toBe('/');
  });

  it('an unknown user name fails as Docker does', () => {
    expect(() => resolveUser(rootfs, 'tsuser')).toThrow(SpecError);
    expect(() => resolveUser(rootfs, 'tsuser')).toThrow('unable to find user tsuser: no matching entries in passwd file');
  });

  it('an unknown group name fails, in -u and in --group-add', () => {
    expect(() => resolveUser(rootfs, 'app:nogroup')).toThrow('unable to find group nogroup: no matching entries in group file');
    expect(() => resolveUser(rootfs, 'app', ['nogroup'])).toThrow('unable to find group nogroup');
  });

  it('rejects ids out of range and an empty group', () => {
    expect(() => resolveUser(rootfs, '-1')).toThrow('must be in range');
    expect(() => resolveUser(rootfs, '4294967296')).toThrow('must be in range');
    expect(() => resolveUser(rootfs, 'app:')).toThrow('empty group');
  });
});

describe('resolveUser without passwd/group files', () => {
  it('numbers work, names fail', () => {
    rmSync(join(rootfs, 'etc'), { recursive: true });
    expect(resolveUser(rootfs, '1000:1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [], home: '/' });
    expect(resolveUser(rootfs, undefined)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/' });
    expect(() => resolveUser(rootfs, 'app')).toThrow('unable to find user app: no matching entries in passwd file');
  });
});

describe('reading /etc/passwd safely inside the rootfs', () => {
  // A file outside the rootfs that a hostile image tries to make us read.
  const HOST_PASSWD = 'hostuser:x:4000:4000::/home/hostuser:/bin/sh\n';

  it('an absolute symlink is resolved relative to the rootfs, never the host', () => {
    const outside = join(tmp, 'outside-passwd');
    writeFileSync(outside, HOST_PASSWD);
    // The image's own copy lives at /real/passwd inside the rootfs.
    writeRootfs({ 'real/passwd': 'imguser:x:3000:3000::/home/img:/bin/sh\n' });
    // Same absolute path inside the rootfs as the outside file, so a naive
    // follow would read the outside one.
    mkdirSync(join(rootfs, tmp), { recursive: true });
    writeFileSync(join(rootfs, outside), 'inside:x:3100:3100::/inside:/bin/sh\n');
    symlinkSync(outside, join(rootfs, 'etc/passwd'));
    expect(resolveInRootfs(rootfs, '/etc/passwd')).toBe(join(rootfs, outside));
    expect(resolveUser(rootfs, 'inside')).toMatchObject({ uid: 3100, home: '/inside' });
    expect(() => resolveUser(rootfs, 'hostuser')).toThrow('unable to find user hostuser');
  });

  it('an absolute symlink to a host file that has no rootfs counterpart is "no entries", not the host file', () => {
    const outside = join(tmp, 'host-only-passwd');
    writeFileSync(outside, HOST_PASSWD);
    symlinkSync(outside, join(rootfs, 'etc/passwd'));
    expect(() => resolveUser(rootfs, 'hostuser')).toThrow('unable to find user hostuser: no matching entries in passwd file');
    expect(resolveUser(rootfs, '4000')).toEqual({ uid: 4000, gid: 0, additionalGids: [], home: '/' });
  });

  it('a relative symlink climbing with .. stops at the rootfs', () => {
    const outside = join(tmp, 'passwd');
    writeFileSync(outside, HOST_PASSWD);
    writeRootfs({ passwd: 'top:x:3200:3200::/top:/bin/sh\n' });
    // rootfs/etc/passwd -> ../../passwd: on the host this is tmp/passwd; inside, /passwd.
    symlinkSync('../../passwd', join(rootfs, 'etc/passwd'));
    expect(resolveUser(rootfs, 'top')).toMatchObject({ uid: 3200 });
    expect(() => resolveUser(rootfs, 'hostuser')).toThrow('unable to find user hostuser');
  });

  it('a symlinked /etc directory is followed inside the rootfs', () => {
    rmSync(join(rootfs, 'etc'), { recursive: true });
    writeRootfs({ 'private/etc/passwd': 'viadir:x:3300:3300::/v:/bin/sh\n', 'private/etc/group': 'g:x:77:viadir\n' });
    symlinkSync('/private/etc', join(rootfs, 'etc'));
    expect(resolveUser(rootfs, 'viadir')).toEqual({ uid: 3300, gid: 3300, additionalGids: [77], home: '/v', username: 'viadir' });
  });

  it('symlink loops fail with a clear error', () => {
    symlinkSync('/etc/passwd', join(rootfs, 'etc/passwd'));
    expect(() => resolveUser(rootfs, 'x')).toThrow('too many levels of symbolic links');
  });

  it('a FIFO or directory at /etc/passwd is refused without blocking', () => {
    execFileSync('mkfifo', [join(rootfs, 'etc/passwd')]);
    expect(() => readRootfsFile(rootfs, '/etc/passwd')).toThrow('not a regular file');
    rmSync(join(rootfs, 'etc/passwd'));
    mkdirSync(join(rootfs, 'etc/passwd'));
    expect(() => readRootfsFile(rootfs, '/etc/passwd')).toThrow('not a regular file');
  });

  it('missing files and files under a non-directory read as absent', () => {
    expect(readRootfsFile(rootfs, '/etc/nothing')).toBeUndefined();
    writeRootfs({ 'etc/file': 'x' });
    expect(readRootfsFile(rootfs, '/etc/file/passwd')).toBeUndefined();
  });
});

describe('resolveInRootfs', () => {
  it('keeps results inside the rootfs', () => {
    expect(resolveInRootfs(rootfs, '/../../etc/passwd')).toBe(join(rootfs, 'etc/passwd'));
    expect(resolveInRootfs(rootfs, 'etc/./passwd')).toBe(join(rootfs, 'etc/passwd'));
    expect(resolveInRootfs(rootfs, '/')).toBe(rootfs);
    symlinkSync('../../../../..', join(rootfs, 'up'));
    expect(resolveInRootfs(rootfs, '/up/etc/passwd')).toBe(join(rootfs, 'etc/passwd'));
  });
});
