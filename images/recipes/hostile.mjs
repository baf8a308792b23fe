// hostile-*: one single-layer image per attack on an unpacker. A safe unpacker
// refuses each, naming the entry, and leaves nothing behind.
import { fingerprint } from '../lib/fingerprint.mjs';
import { writeOciLayout } from '../lib/oci-layout.mjs';
import { TarWriter } from '../lib/tar-writer.mjs';

/**
 * name -> entries; `refuses`: the entry a safe unpacker must refuse;
 * `escapes`: paths, relative to the destination, that the attack aims at and
 * that must never appear.
 */
export const HOSTILE = {
  'hostile-traversal': { entries: [{ name: 'ok', data: 'ok' }, { name: '../tsrun-evil-traversal', data: 'evil' }], escapes: ['../tsrun-evil-traversal'], refuses: '../tsrun-evil-traversal' },
  'hostile-absolute': {
    entries: [{ name: 'ok', data: 'ok' }, { name: '/tmp/tsrun-evil-absolute', data: 'evil' }],
    escapes: ['/tmp/tsrun-evil-absolute', 'tmp/tsrun-evil-absolute'],
    refuses: '/tmp/tsrun-evil-absolute',
  },
  'hostile-symlink-root': {
    entries: [{ name: 'root', type: 'symlink', linkname: '/' }, { name: 'root/tmp/tsrun-evil-symlink-root', data: 'evil' }],
    escapes: ['/tmp/tsrun-evil-symlink-root'],
    refuses: 'root/tmp/tsrun-evil-symlink-root',
  },
  'hostile-symlink-dotdot': {
    entries: [
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'up/up', type: 'symlink', linkname: '..' },
      { name: 'up/up/tsrun-evil-dotdot', data: 'evil' },
    ],
    escapes: ['../tsrun-evil-dotdot', '../../tsrun-evil-dotdot'],
    refuses: 'up/up',
  },
  'hostile-hardlink-passwd': { entries: [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }], escapes: [], refuses: 'passwd' },
  'hostile-hardlink-symlink': {
    entries: [{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'pw', type: 'link', linkname: 'etc/passwd' }],
    escapes: [],
    refuses: 'pw',
  },
};

export function hostileTar(name) {
  const t = new TarWriter();
  for (const e of HOSTILE[name].entries) t.add({ mtime: 1700000000, ...e });
  return t.finish();
}

export function hostileImages() {
  return Object.keys(HOSTILE).map((name) => ({
    name,
    fingerprint: () => fingerprint(import.meta.url),
    build: (outDir) => writeOciLayout(outDir, { layers: [{ tar: hostileTar(name), compression: 'gzip', createdBy: name }], config: { Cmd: ['sh'] } }),
  }));
}
