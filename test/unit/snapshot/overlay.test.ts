import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import { MS_BIND, MS_RDONLY, MS_REC } from '../../../src/native/index.js';
import { isMountPoint, mountFlags, mountPoints, overlayMounts, readOnlyMounts } from '../../../src/snapshot/overlay.js';

describe('overlayMounts', () => {
  it('builds one overlay mount with lowerdirs top first', () => {
    expect(overlayMounts(['/l/top', '/l/base'], '/c/upper', '/c/work')).toEqual([
      { destination: '/', type: 'overlay', source: 'overlay', options: ['lowerdir=/l/top:/l/base', 'upperdir=/c/upper', 'workdir=/c/work'] },
    ]);
  });

  it('uses the upper dir alone for an image without layers', () => {
    expect(overlayMounts([], '/c/upper', '/c/work')[0]).toMatchObject({ type: 'bind', source: '/c/upper' });
  });

  it('rejects paths overlay cannot parse', () => {
    expect(() => overlayMounts(['/a:b'], '/u', '/w')).toThrow(/lowerdir "\/a:b"/);
    expect(() => overlayMounts(['rel'], '/u', '/w')).toThrow(StoreError);
    expect(() => overlayMounts(['/a'], '/u,x', '/w')).toThrow(/upperdir/);
  });

  it('fails clearly past the one-page mount data limit, and short paths fit', () => {
    const long = Array.from({ length: 60 }, (_, i) => `/var/lib/tsrun/layers/${i.toString(16).padStart(64, 'a')}/diff`);
    expect(() => overlayMounts(long, '/u', '/w')).toThrow(/60 layers are \d+ bytes, over the kernel's 4095-byte limit/);
    const short = Array.from({ length: 60 }, (_, i) => `/var/lib/tsrun/layers/l/${i.toString(16).padStart(16, 'a')}`);
    expect(overlayMounts(short, '/var/lib/tsrun/containers/x/upper', '/var/lib/tsrun/containers/x/work')).toHaveLength(1);
  });
});

describe('readOnlyMounts', () => {
  it('bind-mounts a single layer read-only and overlays several without an upper dir', () => {
    expect(readOnlyMounts(['/l/one'])).toEqual([{ destination: '/', type: 'bind', source: '/l/one', options: ['bind', 'ro'] }]);
    expect(readOnlyMounts(['/l/b', '/l/a'])).toEqual([{ destination: '/', type: 'overlay', source: 'overlay', options: ['ro', 'lowerdir=/l/b:/l/a'] }]);
    expect(() => readOnlyMounts([])).toThrow(/without layers/);
  });
});

describe('mount helpers', () => {
  it('splits flags from data', () => {
    expect(mountFlags(['ro', 'lowerdir=/a:/b'])).toEqual({ flags: MS_RDONLY, data: 'lowerdir=/a:/b' });
    expect(mountFlags(['rbind', 'rw'])).toEqual({ flags: MS_BIND | MS_REC, data: '' });
  });

  it('parses mountinfo, including escaped spaces', () => {
    const info = [
      '22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '90 22 0:50 / /var/lib/tsrun/image\\040mounts/m rw - overlay overlay rw,lowerdir=/a:/b',
      '',
    ].join('\n');
    expect(mountPoints(info)).toEqual(['/', '/var/lib/tsrun/image mounts/m']);
    expect(isMountPoint('/var/lib/tsrun/image mounts/m/', info)).toBe(true);
    expect(isMountPoint('/var/lib', info)).toBe(false);
  });

  it('knows a mount point by a path through a symlink (mountinfo shows the resolved path)', () => {
    const real = mkdtempSync(join(tmpdir(), 'tsrun-real-'));
    const link = `${real}-link`;
    symlinkSync(real, link);
    try {
      mkdirSync(join(real, 'data'));
      const info = `90 22 0:50 / ${real}/data rw - tmpfs tmpfs rw\n`;
      expect(isMountPoint(`${link}/data`, info)).toBe(true);
      expect(isMountPoint(`${link}`, info)).toBe(false);
    } finally {
      rmSync(link);
      rmSync(real, { recursive: true });
    }
  });
});
