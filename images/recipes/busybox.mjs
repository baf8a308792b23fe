// busybox: Debian's static busybox with a symlink per applet, users root,
// nobody (65534) and tsuser (1000, also in group tsgroup 1001). One gzip layer.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileHash, fingerprint } from '../lib/fingerprint.mjs';
import { writeOciLayout } from '../lib/oci-layout.mjs';
import { TarWriter } from '../lib/tar-writer.mjs';

const BUSYBOX = '/bin/busybox';
const MTIME = 1700000000;

const PASSWD = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
tsuser:x:1000:1000:tsrun test user:/home/tsuser:/bin/sh
`;
const GROUP = `root:x:0:
tsuser:x:1000:
tsgroup:x:1001:tsuser
nogroup:x:65534:
`;

export function busyboxTar() {
  const applets = execFileSync(BUSYBOX, ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox' && !a.includes('/'));
  const t = new TarWriter();
  const dir = (name, mode = 0o755, uid = 0, gid = 0) => t.add({ name, type: 'dir', mode, uid, gid, mtime: MTIME });
  dir('./');
  dir('bin');
  t.add({ name: 'bin/busybox', mode: 0o755, data: readFileSync(BUSYBOX), mtime: MTIME });
  for (const a of applets.sort()) t.add({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777, mtime: MTIME });
  for (const d of ['dev', 'proc', 'sys', 'etc', 'home', 'var']) dir(d);
  t.add({ name: 'etc/passwd', data: PASSWD, mtime: MTIME });
  t.add({ name: 'etc/group', data: GROUP, mtime: MTIME });
  t.add({ name: 'etc/hostname', data: 'busybox\n', mtime: MTIME });
  dir('home/tsuser', 0o755, 1000, 1000);
  dir('root', 0o700);
  dir('tmp', 0o1777);
  dir('var/tmp', 0o1777);
  return t.finish();
}

export function busyboxImages() {
  return [{
    name: 'busybox',
    fingerprint: () => fingerprint(import.meta.url, fileHash(BUSYBOX)),
    build: (outDir) => writeOciLayout(outDir, {
      layers: [{ tar: busyboxTar(), compression: 'gzip', createdBy: 'busybox-static + applet symlinks' }],
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    }),
  }];
}
