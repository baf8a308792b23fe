// Which cgroup.procs file the cgroup lock warmer writes: that of the cgroup this process is in
// (writing "0" to any other would move the process there).
import { describe, expect, it } from 'vitest';
import { ownV1ProcsFile } from '../../../src/cgroup/lock-warmer.js';
import { native } from '../../../src/native/index.js';

const HYBRID = '9:name=systemd:/\n8:pids:/a\n4:memory:/process_api/x\n1:cpu:/\n0::/svc\n';
const mount = (id: number, root: string, point: string, fs: string, opts = 'rw') => `${id} 1 0:${id} ${root} ${point} rw,nosuid - ${fs} ${fs} ${opts}`;
const HYBRID_MOUNTS = [
  mount(20, '/', '/', 'ext4'),
  mount(21, '/', '/sys/fs/cgroup', 'tmpfs'),
  mount(22, '/', '/sys/fs/cgroup/unified', 'cgroup2', 'rw,nsdelegate'),
  mount(23, '/', '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
].join('\n');

describe('own cgroup.procs in the unified hierarchy (native, used before the bundle loads)', () => {
  const own = (cgroup: string, mountinfo: string) => native().ownUnifiedProcsFile(cgroup, mountinfo);

  it('joins the 0:: path to the cgroup2 mount point', () => {
    expect(own(HYBRID, HYBRID_MOUNTS)).toBe('/sys/fs/cgroup/unified/svc/cgroup.procs');
    expect(own('0::/user.slice/session-1.scope\n', mount(30, '/', '/sys/fs/cgroup', 'cgroup2'))).toBe('/sys/fs/cgroup/user.slice/session-1.scope/cgroup.procs');
    expect(own('0::/\n', mount(30, '/', '/sys/fs/cgroup', 'cgroup2'))).toBe('/sys/fs/cgroup/cgroup.procs');
  });

  it('prefers the mount at /sys/fs/cgroup, then /sys/fs/cgroup/unified, over others', () => {
    const both = [mount(40, '/', '/mnt/elsewhere', 'cgroup2'), mount(41, '/', '/sys/fs/cgroup/unified', 'cgroup2'), mount(42, '/', '/sys/fs/cgroup', 'cgroup2')];
    expect(own('0::/a\n', both.join('\n'))).toBe('/sys/fs/cgroup/a/cgroup.procs');
    expect(own('0::/a\n', both.slice(0, 2).join('\n'))).toBe('/sys/fs/cgroup/unified/a/cgroup.procs');
    expect(own('0::/a\n', both[0]!)).toBe('/mnt/elsewhere/a/cgroup.procs');
  });

  it('takes the path relative to the mount\'s root, and nothing when the cgroup is outside it', () => {
    expect(own('0::/k8s/pod1/c\n', mount(50, '/k8s/pod1', '/sys/fs/cgroup', 'cgroup2'))).toBe('/sys/fs/cgroup/c/cgroup.procs');
    expect(own('0::/k8s/pod1\n', mount(50, '/k8s/pod1', '/sys/fs/cgroup', 'cgroup2'))).toBe('/sys/fs/cgroup/cgroup.procs');
    expect(own('0::/k8s/pod10\n', mount(50, '/k8s/pod1', '/sys/fs/cgroup', 'cgroup2'))).toBeNull();
    expect(own('0::/other\n', mount(50, '/k8s/pod1', '/sys/fs/cgroup', 'cgroup2'))).toBeNull();
  });

  it('finds nothing for a cgroup outside the namespace root ("/../x"), and takes the later of two mounts at one point', () => {
    expect(own('0::/../memory\n', mount(30, '/', '/sys/fs/cgroup/unified', 'cgroup2'))).toBeNull();
    expect(own('0::/a/..\n', mount(30, '/', '/sys/fs/cgroup', 'cgroup2'))).toBeNull();
    const stacked = [mount(30, '/', '/sys/fs/cgroup', 'cgroup2'), mount(31, '/sub', '/sys/fs/cgroup', 'cgroup2')].join('\n');
    expect(own('0::/sub/x\n', stacked)).toBe('/sys/fs/cgroup/x/cgroup.procs');
  });

  it('decodes escaped mount points, and finds nothing without a 0:: line or a cgroup2 mount', () => {
    expect(own('0::/a\n', mount(60, '/', '/run/my\\040cgroups', 'cgroup2'))).toBe('/run/my cgroups/a/cgroup.procs');
    expect(own('4:memory:/x\n', HYBRID_MOUNTS)).toBeNull();
    expect(own(HYBRID, mount(23, '/', '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'))).toBeNull();
  });
});

describe('ownV1ProcsFile (a host without cgroup2)', () => {
  it('takes the first mounted v1 hierarchy, at the path this process is in there', () => {
    expect(ownV1ProcsFile(HYBRID, { layout: 'legacy', unifiedPath: undefined, v1: { memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu' } })).toBe(
      '/sys/fs/cgroup/memory/process_api/x/cgroup.procs',
    );
  });

  it('nothing when no hierarchy it is in is mounted', () => {
    expect(ownV1ProcsFile('1:name=systemd:/\n', { layout: 'legacy', unifiedPath: undefined, v1: { pids: '/p' } })).toBeUndefined();
  });
});
