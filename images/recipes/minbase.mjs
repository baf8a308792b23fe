// minbase: Debian bookworm minbase (debootstrap) from the mirror apt already
// uses here, packed by GNU tar (PAX, xattrs, numeric owners) as one gzip layer.
// The debootstrapped tree is cached in images/out/.cache/minbase-rootfs.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint } from '../lib/fingerprint.mjs';
import { writeOciLayout } from '../lib/oci-layout.mjs';

/** The first Debian URI in apt's sources (deb822 "URIs:" or one-line "deb URI"). */
export function aptMirror() {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(join(dir, f));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s*)?)(\S+)/gm)) {
      if (/\/debian\/?$/.test(m[1])) return m[1];
    }
  }
  throw new Error('no Debian mirror found in /etc/apt/sources.list{,.d}');
}

export function minbaseRootfs(cacheDir) {
  const rootfs = join(cacheDir, 'minbase-rootfs');
  if (existsSync(rootfs)) return rootfs;
  const tmp = `${rootfs}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  execFileSync('debootstrap', ['--variant=minbase', 'bookworm', tmp, aptMirror()], { stdio: ['ignore', 'ignore', 'inherit'] });
  renameSync(tmp, rootfs);
  return rootfs;
}

export function minbaseImages(cacheDir) {
  return [{
    name: 'minbase',
    fingerprint: () => fingerprint(import.meta.url, existsSync(join(cacheDir, 'minbase-rootfs')) ? 'cached' : 'fresh'),
    build: (outDir) => {
      const rootfs = minbaseRootfs(cacheDir);
      const tar = execFileSync('tar', ['--numeric-owner', '--xattrs', "--xattrs-include=*", '--format=posix',
        '--pax-option=delete=atime,delete=ctime', '--sort=name',
        // Like Debian's published images: no downloaded .debs or package lists.
        '--exclude=./var/cache/apt/archives/*.deb', '--exclude=./var/lib/apt/lists/*',
        '-C', rootfs, '-cf', '-', '.'], { maxBuffer: 4 << 30 });
      writeOciLayout(outDir, {
        layers: [{ tar, compression: 'gzip', createdBy: 'debootstrap --variant=minbase bookworm' }],
        config: { Cmd: ['bash'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      });
    },
  }];
}
