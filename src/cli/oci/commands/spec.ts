// tsrun-oci spec: write a starter config.json like `runc spec`.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConflictError, UsageError } from '../../../errors.js';
import type { Spec } from '../../../oci/runtime.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_PATH, DEFAULT_READONLY_PATHS } from '../../../spec/defaults.js';
import { flag, str, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function starterSpec(): Spec {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: [`PATH=${DEFAULT_PATH}`, 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrun',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}

export const command: OciCommand = {
  usage: 'spec [--bundle DIR]',
  options: { bundle: { value: true, aliases: ['b'] }, rootless: { value: false } },
  async run(_ctx: OciContext, args: Parsed): Promise<number> {
    if (flag(args, 'rootless')) throw new UsageError('spec --rootless is not supported: tsrun-oci runs containers as root only');
    const path = join(resolve(str(args, 'bundle') ?? process.cwd()), 'config.json');
    if (existsSync(path)) throw new ConflictError(`${path} exists: remove it first`);
    writeFileSync(path, JSON.stringify(starterSpec(), null, 2) + '\n');
    return 0;
  },
};
