import { describe, expect, it } from 'vitest';
import { ownProcsFile } from '../../../src/cgroup/lock-warmer.js';

const HYBRID = '9:name=systemd:/\n8:pids:/a\n4:memory:/process_api/x\n1:cpu:/\n0::/svc\n';

describe('ownProcsFile', () => {
  it('takes the unified hierarchy when there is one', () => {
    expect(ownProcsFile(HYBRID, { layout: 'hybrid', unifiedPath: '/sys/fs/cgroup/unified', v1: { pids: '/sys/fs/cgroup/pids' } })).toBe(
      '/sys/fs/cgroup/unified/svc/cgroup.procs',
    );
    expect(ownProcsFile('0::/user.slice/session-1.scope\n', { layout: 'unified', unifiedPath: '/sys/fs/cgroup', v1: {} })).toBe(
      '/sys/fs/cgroup/user.slice/session-1.scope/cgroup.procs',
    );
  });

  it('else the first mounted v1 hierarchy, at the path this process is in there', () => {
    expect(ownProcsFile(HYBRID, { layout: 'legacy', unifiedPath: undefined, v1: { memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu' } })).toBe(
      '/sys/fs/cgroup/memory/process_api/x/cgroup.procs',
    );
  });

  it('nothing when no hierarchy it is in is mounted', () => {
    expect(ownProcsFile('1:name=systemd:/\n', { layout: 'legacy', unifiedPath: undefined, v1: { pids: '/p' } })).toBeUndefined();
  });
});
