// Test fixtures for the runtime: a busybox rootfs built from the host's
// busybox-static, and OCI bundles with a sane default spec (runc's defaults).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Spec } from '../../src/oci/runtime.js';

export const BUSYBOX = '/bin/busybox';

/** dir/bin/busybox with every applet linked, /etc/passwd and /etc/group (root, nobody 65534, tsuser 1000). */
export function makeBusyboxRootfs(dir: string): string {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/tsuser', 'var']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\ntsuser:x:1000:1000:tsuser:/home/tsuser:/bin/sh\n',
  );
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\ntsuser:x:1000:\n');
  return dir;
}

const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** A default spec like `runc spec` with Docker's default capabilities; rootfsPath may be absolute. */
export function defaultSpec(rootfsPath = 'rootfs', args: string[] = ['sh']): Spec {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS, ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: rootfsPath, readonly: false },
    hostname: 'tsrun-test',
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
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

export type SpecOverrides = ((spec: Spec) => void) | (Partial<Omit<Spec, 'process'>> & { process?: Partial<NonNullable<Spec['process']>> });

/** dir/config.json from defaultSpec with overrides (a mutator, or fields merged one level deep for process). */
export function makeBundle(dir: string, rootfs: string, overrides?: SpecOverrides): Spec {
  mkdirSync(dir, { recursive: true });
  const spec = defaultSpec(rootfs);
  if (typeof overrides === 'function') overrides(spec);
  else if (overrides) {
    const { process: p, ...rest } = overrides;
    Object.assign(spec, rest);
    if (p) spec.process = { ...spec.process!, ...p };
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return spec;
}
