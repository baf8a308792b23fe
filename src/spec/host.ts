// The few facts about the calling host that a spec depends on, behind one
// interface so unit tests can supply them. The defaults read /proc and /dev.
import { availableParallelism } from 'node:os';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SpecError } from '../errors.js';
import type { LinuxDevice } from '../oci/runtime.js';
import { readBoundingCapabilities } from './capabilities.js';
import { readProcessLimits, type ProcessLimit } from './rlimits.js';

export interface DeviceInfo {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
}

export interface SpecHost {
  /** The caller's rlimits by Docker name (default: /proc/self/limits). */
  processLimits?: () => Record<string, ProcessLimit>;
  /** The caller's capability bounding set (default: CapBnd of /proc/self/status); undefined = unknown, no filtering. */
  boundingCapabilities?: () => readonly string[] | undefined;
  /** Type and numbers of a host device node (default: stat(2)). */
  statDevice?: (path: string) => DeviceInfo;
  /** Device nodes given to --privileged containers (default: those under /dev, as Docker does). */
  hostDevices?: () => LinuxDevice[];
  /** CPUs available, for the --cpus bound (default: os.availableParallelism()). */
  cpuCount?: () => number;
  /** Where warnings go (default: "WARNING: ..." on stderr, as Docker prints them). */
  warn?: (msg: string) => void;
}

/** Linux dev_t -> major/minor (glibc's gnu_dev_major/minor). */
export function splitDev(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

export function statHostDevice(path: string): DeviceInfo {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (err) {
    throw new SpecError(`cannot add device ${path}`, { cause: err });
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new SpecError(`cannot add device ${path}: not a device node`);
  return {
    type: st.isCharacterDevice() ? 'c' : 'b',
    ...splitDev(st.rdev),
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** Directories of /dev that are per-container mounts or runtime state, never copied. */
const SKIP_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under devDir (not following symlinks), except /dev/console, for --privileged. */
export function listHostDevices(devDir = '/dev'): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  const walk = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      const relPath = `${rel}/${name}`;
      let st;
      try {
        st = lstatSync(path, { bigint: true });
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!(rel === '/dev' && SKIP_DEV_DIRS.has(name))) walk(path, relPath);
      } else if ((st.isCharacterDevice() || st.isBlockDevice()) && relPath !== '/dev/console') {
        out.push({
          path: relPath,
          type: st.isCharacterDevice() ? 'c' : 'b',
          ...splitDev(st.rdev),
          fileMode: Number(st.mode & 0o7777n),
          uid: Number(st.uid),
          gid: Number(st.gid),
        });
      }
    }
  };
  walk(devDir, '/dev');
  return out;
}

export interface ResolvedHost {
  processLimits: () => Record<string, ProcessLimit>;
  boundingCapabilities: () => readonly string[] | undefined;
  statDevice: (path: string) => DeviceInfo;
  hostDevices: () => LinuxDevice[];
  cpuCount: () => number;
  warn: (msg: string) => void;
}

export function resolveHost(host: SpecHost = {}): ResolvedHost {
  return {
    processLimits: host.processLimits ?? (() => readProcessLimits()),
    boundingCapabilities: host.boundingCapabilities ?? (() => readBoundingCapabilities()),
    statDevice: host.statDevice ?? statHostDevice,
    hostDevices: host.hostDevices ?? (() => listHostDevices()),
    cpuCount: host.cpuCount ?? (() => availableParallelism()),
    warn: host.warn ?? ((msg) => process.stderr.write(`WARNING: ${msg}\n`)),
  };
}
