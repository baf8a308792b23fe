import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectLayout } from '../../../src/cgroup/index.js';
import { layoutFromMounts, parseCgroupMounts } from '../../../src/cgroup/layout.js';
import { CgroupError } from '../../../src/errors.js';

// The mount table of this project's hybrid build hosts, verbatim.
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

const UNIFIED = `22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

// A classic systemd legacy host: combined cpu,cpuacct and net_cls,net_prio mounts, optional fields present.
const LEGACY = `25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
`;

describe('parseCgroupMounts', () => {
  it('reads controllers from the super options and skips named hierarchies and other filesystems', () => {
    const mounts = parseCgroupMounts(LEGACY);
    expect(mounts).toEqual([
      { mountPoint: '/sys/fs/cgroup/systemd', fsType: 'cgroup', controllers: [] },
      { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fsType: 'cgroup', controllers: ['cpu', 'cpuacct'] },
      { mountPoint: '/sys/fs/cgroup/net_cls,net_prio', fsType: 'cgroup', controllers: ['net_cls', 'net_prio'] },
      { mountPoint: '/sys/fs/cgroup/memory', fsType: 'cgroup', controllers: ['memory'] },
    ]);
  });

  it('decodes octal escapes in mount points', () => {
    const [m] = parseCgroupMounts('1 2 0:3 / /tmp/a\\040b rw - cgroup2 cgroup2 rw\n');
    expect(m?.mountPoint).toBe('/tmp/a b');
  });
});

describe('layoutFromMounts', () => {
  it('recognises the hybrid host', () => {
    expect(layoutFromMounts(parseCgroupMounts(HYBRID), '/sys/fs/cgroup')).toEqual({
      layout: 'hybrid',
      unifiedPath: '/sys/fs/cgroup/unified',
      v1: {
        cpu: '/sys/fs/cgroup/cpu',
        cpuacct: '/sys/fs/cgroup/cpuacct',
        cpuset: '/sys/fs/cgroup/cpuset',
        memory: '/sys/fs/cgroup/memory',
        devices: '/sys/fs/cgroup/devices',
        freezer: '/sys/fs/cgroup/freezer',
        blkio: '/sys/fs/cgroup/blkio',
        pids: '/sys/fs/cgroup/pids',
      },
    });
  });

  it('recognises a unified host', () => {
    expect(layoutFromMounts(parseCgroupMounts(UNIFIED), '/sys/fs/cgroup/')).toEqual({
      layout: 'unified',
      unifiedPath: '/sys/fs/cgroup',
      v1: {},
    });
  });

  it('recognises a legacy host with combined hierarchies', () => {
    const info = layoutFromMounts(parseCgroupMounts(LEGACY), '/sys/fs/cgroup');
    expect(info?.layout).toBe('legacy');
    expect(info?.unifiedPath).toBeUndefined();
    expect(info?.v1['cpu']).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(info?.v1['cpuacct']).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(info?.v1['net_prio']).toBe('/sys/fs/cgroup/net_cls,net_prio');
    expect(Object.keys(info!.v1)).not.toContain('systemd');
  });

  it('ignores mounts outside fsRoot', () => {
    expect(layoutFromMounts(parseCgroupMounts(HYBRID), '/elsewhere')).toBeUndefined();
  });
});

describe('detectLayout', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsrun-layout-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the given mountinfo for mounts under fsRoot', () => {
    const root = join(dir, 'cg');
    const mi = join(dir, 'mountinfo');
    writeFileSync(mi, `41 31 0:38 / ${root}/unified rw - cgroup2 cgroup2 rw\n42 31 0:39 / ${root}/pids rw - cgroup cgroup rw,pids\n`);
    expect(detectLayout(root, { mountinfoPath: mi })).toEqual({
      layout: 'hybrid',
      unifiedPath: `${root}/unified`,
      v1: { pids: `${root}/pids` },
    });
  });

  it('falls back to the directory shape: unified', () => {
    writeFileSync(join(dir, 'cgroup.controllers'), 'cpu memory\n');
    expect(detectLayout(dir, { mountinfoPath: join(dir, 'none') })).toEqual({ layout: 'unified', unifiedPath: dir, v1: {} });
  });

  it('falls back to the directory shape: hybrid, with a combined v1 hierarchy and a named one', () => {
    for (const d of ['unified', 'cpu,cpuacct', 'memory', 'systemd']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'unified', 'cgroup.controllers'), '');
    for (const d of ['cpu,cpuacct', 'memory', 'systemd']) writeFileSync(join(dir, d, 'tasks'), '');
    expect(detectLayout(dir, { mountinfoPath: join(dir, 'none') })).toEqual({
      layout: 'hybrid',
      unifiedPath: join(dir, 'unified'),
      v1: { cpu: join(dir, 'cpu,cpuacct'), cpuacct: join(dir, 'cpu,cpuacct'), memory: join(dir, 'memory') },
    });
  });

  it('falls back to the directory shape: legacy', () => {
    mkdirSync(join(dir, 'pids'));
    writeFileSync(join(dir, 'pids', 'tasks'), '');
    expect(detectLayout(dir, { mountinfoPath: join(dir, 'none') }).layout).toBe('legacy');
  });

  it('throws a CgroupError naming fsRoot when nothing is there', () => {
    expect(() => detectLayout(dir, { mountinfoPath: join(dir, 'none') })).toThrow(CgroupError);
    expect(() => detectLayout(dir, { mountinfoPath: join(dir, 'none') })).toThrow(dir);
  });

  it('sees this machine as hybrid, unified or legacy consistently with its mount table', () => {
    const info = detectLayout();
    expect(['unified', 'hybrid', 'legacy']).toContain(info.layout);
    if (info.layout === 'unified') expect(Object.keys(info.v1)).toEqual([]);
    else expect(Object.keys(info.v1).length).toBeGreaterThan(0);
  });
});
