// What Docker gives a container unless told otherwise: capabilities, masked
// and read-only paths, the standard mounts, devices and device-cgroup rules.
// Plain data, copied on every call so callers may mutate the result.
import type { LinuxDevice, LinuxDeviceCgroup, Mount } from '../oci/runtime.js';

export const OCI_VERSION = '1.0.2';

/** PATH when the image sets none (Docker's DefaultPathEnv for Linux). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default /dev/shm size: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Docker's minimum for --memory and --memory-reservation: 6 MiB. */
export const MIN_MEMORY = 6 * 1024 * 1024;

/** CFS period Docker uses to express --cpus (microseconds). */
export const CPU_PERIOD = 100_000;

/** The 14 capabilities Docker grants by default, in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every Linux capability, indexed by its number (linux/capability.h, up to CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Paths hidden from unprivileged containers (a /dev/null or empty tmpfs over them). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Paths remounted read-only in unprivileged containers. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * Docker's standard mounts, in Docker's order. /sys and /sys/fs/cgroup are
 * read-only unless privileged; /dev/shm is omitted when `shm` is false
 * (--ipc none/host, or a caller-provided /dev/shm).
 */
export function defaultMounts(opts: { privileged?: boolean; shmSize?: number; shm?: boolean } = {}): Mount[] {
  const ro = opts.privileged ? [] : ['ro'];
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  if (opts.shm !== false) {
    mounts.push({
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${opts.shmSize ?? DEFAULT_SHM_SIZE}`],
    });
  }
  return mounts;
}

/**
 * The device nodes the OCI runtime spec requires in every container
 * (null, zero, full, random, urandom, tty). Listed explicitly so our own
 * launcher creates them; runc accepts them too.
 */
export function defaultDevices(): LinuxDevice[] {
  const dev = (path: string, major: number, minor: number): LinuxDevice => ({
    path,
    type: 'c',
    major,
    minor,
    fileMode: 0o666,
    uid: 0,
    gid: 0,
  });
  return [dev('/dev/null', 1, 3), dev('/dev/zero', 1, 5), dev('/dev/full', 1, 7), dev('/dev/random', 1, 8), dev('/dev/urandom', 1, 9), dev('/dev/tty', 5, 0)];
}

/**
 * The device-cgroup rules of an unprivileged container: deny everything, then
 * allow mknod of any node, the default devices, ptys, ptmx, the console and
 * /dev/net/tun (the set runc and Docker allow).
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const allow = (type: string, major: number | undefined, minor: number | undefined, access: string): LinuxDeviceCgroup => {
    const rule: LinuxDeviceCgroup = { allow: true, type };
    if (major !== undefined) rule.major = major;
    if (minor !== undefined) rule.minor = minor;
    rule.access = access;
    return rule;
  };
  return [
    { allow: false, access: 'rwm' },
    allow('c', undefined, undefined, 'm'),
    allow('b', undefined, undefined, 'm'),
    allow('c', 1, 3, 'rwm'), // null
    allow('c', 1, 5, 'rwm'), // zero
    allow('c', 1, 7, 'rwm'), // full
    allow('c', 1, 8, 'rwm'), // random
    allow('c', 1, 9, 'rwm'), // urandom
    allow('c', 5, 0, 'rwm'), // tty
    allow('c', 5, 1, 'rwm'), // console
    allow('c', 5, 2, 'rwm'), // ptmx
    allow('c', 136, undefined, 'rwm'), // /dev/pts/*
    allow('c', 10, 200, 'rwm'), // /dev/net/tun
  ];
}

/** --privileged: every device allowed. */
export function privilegedDeviceRules(): LinuxDeviceCgroup[] {
  return [{ allow: true, access: 'rwm' }];
}

/**
 * Docker sets no rlimits by default: the container inherits the caller's.
 * Kept as a function so a caller (or a future daemon-style config) can supply some.
 */
export function defaultRlimits(): { type: string; soft: number; hard: number }[] {
  return [];
}

/** Sysctls that are namespaced and therefore allowed in a container (Docker's list). */
export const NAMESPACED_SYSCTLS = {
  ipc: ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'],
  ipcPrefixes: ['fs.mqueue.'],
  netPrefixes: ['net.'],
  uts: ['kernel.domainname', 'kernel.hostname'],
} as const;
