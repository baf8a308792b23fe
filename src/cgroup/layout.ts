// Which cgroup layout the host has, decided in one place.
//
// First choice is the mount table (/proc/self/mountinfo): every cgroup or
// cgroup2 mount at or under fsRoot. When the table says nothing about fsRoot
// (a temp dir in tests, or a mount namespace without /proc), statfs(2) magic
// and then the directory shape decide.
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupError } from '../errors.js';
import { realCgroupFs, type CgroupFs } from './fsops.js';

export type CgroupLayout = 'unified' | 'hybrid' | 'legacy';

export interface CgroupLayoutInfo {
  layout: CgroupLayout;
  /** Where cgroup2 is mounted (fsRoot itself on a unified host, fsRoot/unified on hybrid ones). */
  unifiedPath: string | undefined;
  /** v1 controller name -> mount point of its hierarchy ('cpu' and 'cpuacct' may share one). */
  v1: Record<string, string>;
}

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';
export const DEFAULT_MOUNTINFO = '/proc/self/mountinfo';

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface CgroupMount {
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  /** v1 controllers bound to the hierarchy (from the super options); empty for cgroup2 and named hierarchies. */
  controllers: string[];
}

/** The cgroup mounts of a mountinfo text (see proc(5)); octal escapes in paths are decoded. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    if (!line.trim()) continue;
    // "<id> <parent> <maj:min> <root> <mountpoint> <opts> [optional...] - <fstype> <source> <superopts>"
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const fields = pre.split(' ');
    const [fsType, , superOpts = ''] = post.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const mountPoint = unescapeMountPath(fields[4] ?? '');
    const controllers =
      fsType === 'cgroup'
        ? superOpts.split(',').filter((o) => o && !NON_CONTROLLER_OPTS.has(o) && !o.includes('='))
        : [];
    mounts.push({ mountPoint, fsType, controllers });
  }
  return mounts;
}

/** A cgroup filesystem of the host as a container with its own cgroup namespace mounts it afresh. */
export interface CgroupHierarchy {
  /** Its directory relative to the cgroup root ("cpu,cpuacct", "systemd", "unified"); "" for cgroup2 at the root itself. */
  name: string;
  fsType: 'cgroup' | 'cgroup2';
  /** mount(2) data selecting the same hierarchy: its controllers and name= ("cpu,cpuacct", "name=systemd"); "" for cgroup2. */
  data: string;
}

/**
 * The cgroup filesystems mounted directly at or under fsRoot, in mount-table
 * order (the last mount of a point wins), as a fresh mount must name them.
 */
export function hierarchiesFromMountinfo(mountinfo: string, fsRoot: string = DEFAULT_CGROUP_ROOT): CgroupHierarchy[] {
  const root = fsRoot.replace(/\/+$/, '') || '/';
  const byName = new Map<string, CgroupHierarchy>();
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fsType, , superOpts = ''] = post.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const mountPoint = unescapeMountPath(pre.split(' ')[4] ?? '');
    const name = mountPoint === root ? '' : mountPoint.startsWith(root + '/') ? mountPoint.slice(root.length + 1) : undefined;
    if (name === undefined || name.includes('/')) continue;
    const data =
      fsType === 'cgroup' ? superOpts.split(',').filter((o) => o && !NON_CONTROLLER_OPTS.has(o) && (!o.includes('=') || o.startsWith('name='))).join(',') : '';
    byName.delete(name);
    byName.set(name, { name, fsType, data });
  }
  return [...byName.values()];
}

/** The host's hierarchies under /sys/fs/cgroup (from its mount table); empty when it cannot be read. */
export function hostCgroupHierarchies(): CgroupHierarchy[] {
  try {
    return hierarchiesFromMountinfo(readFileSync(DEFAULT_MOUNTINFO, 'utf8'));
  } catch {
    return [];
  }
}

// Super options of a v1 cgroup mount that are not controller names.
const NON_CONTROLLER_OPTS = new Set(['rw', 'ro', 'noprefix', 'xattr', 'clone_children', 'cpuset_v2_mode', 'favordynmods']);

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Classifies the mounts found at or under fsRoot; undefined when none are there. */
export function layoutFromMounts(mounts: CgroupMount[], fsRoot: string): CgroupLayoutInfo | undefined {
  const root = fsRoot.replace(/\/+$/, '') || '/';
  const under = mounts.filter((m) => m.mountPoint === root || m.mountPoint.startsWith(root + '/'));
  if (under.length === 0) return undefined;
  // The last mount of a point wins (it hides the earlier ones).
  const byPoint = new Map<string, CgroupMount>();
  for (const m of under) byPoint.set(m.mountPoint, m);
  let unifiedPath: string | undefined;
  const v1: Record<string, string> = {};
  for (const m of byPoint.values()) {
    if (m.fsType === 'cgroup2') {
      // Prefer cgroup2 mounted at fsRoot itself over one further down.
      if (unifiedPath === undefined || m.mountPoint === root) unifiedPath = m.mountPoint;
    } else {
      for (const c of m.controllers) v1[c] ??= m.mountPoint;
    }
  }
  return classify(unifiedPath, v1, root);
}

function classify(unifiedPath: string | undefined, v1: Record<string, string>, root: string): CgroupLayoutInfo | undefined {
  const hasV1 = Object.keys(v1).length > 0;
  if (unifiedPath === root) return { layout: 'unified', unifiedPath, v1: {} };
  if (hasV1) return { layout: unifiedPath ? 'hybrid' : 'legacy', unifiedPath, v1 };
  if (unifiedPath) return { layout: 'unified', unifiedPath, v1: {} };
  return undefined;
}

/**
 * Directory shape: fsRoot/cgroup.controllers means cgroup2 at the root; a
 * subdirectory with cgroup.controllers is a cgroup2 mount (hybrid's
 * "unified"); one with a `tasks` file is a v1 hierarchy whose name lists its
 * controllers ("cpu,cpuacct"). Named hierarchies (systemd) carry no controller.
 */
export function layoutFromShape(fsRoot: string, fs: CgroupFs = realCgroupFs): CgroupLayoutInfo | undefined {
  const root = fsRoot.replace(/\/+$/, '') || '/';
  if (fs.exists(join(root, 'cgroup.controllers'))) return { layout: 'unified', unifiedPath: root, v1: {} };
  let unifiedPath: string | undefined;
  const v1: Record<string, string> = {};
  let names: string[];
  try {
    names = fs.subdirs(root).sort();
  } catch {
    return undefined;
  }
  for (const name of names) {
    const dir = join(root, name);
    if (fs.exists(join(dir, 'cgroup.controllers'))) {
      unifiedPath ??= dir;
    } else if (fs.exists(join(dir, 'tasks'))) {
      if (name === 'systemd' || name.startsWith('name=')) continue;
      for (const c of name.split(',')) if (c) v1[c] ??= dir;
    }
  }
  return classify(unifiedPath, v1, root);
}

/** statfs(2) says whether fsRoot itself is a cgroup2 mount (the kernel's own word, no parsing). */
function isCgroup2Mount(path: string): boolean {
  try {
    return statfsSync(path).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

export interface DetectOptions {
  mountinfoPath?: string;
  fs?: CgroupFs;
}

// The host's own layout, found once per process: a run asks for it a dozen times and the
// cgroup mounts do not change under a CLI command.
let hostLayout: CgroupLayoutInfo | undefined;

/** The cgroup layout under fsRoot (default /sys/fs/cgroup). Throws CgroupError when no cgroup filesystem is there. */
export function detectLayout(fsRoot: string = DEFAULT_CGROUP_ROOT, opts: DetectOptions = {}): CgroupLayoutInfo {
  const isHost = fsRoot === DEFAULT_CGROUP_ROOT && !opts.mountinfoPath && !opts.fs;
  if (isHost && hostLayout) return hostLayout;
  const found = detectUncached(fsRoot, opts);
  if (isHost) hostLayout = found;
  return found;
}

function detectUncached(fsRoot: string, opts: DetectOptions): CgroupLayoutInfo {
  let mountinfo: string | undefined;
  try {
    mountinfo = readFileSync(opts.mountinfoPath ?? DEFAULT_MOUNTINFO, 'utf8');
  } catch {
    mountinfo = undefined;
  }
  const fromMounts = mountinfo === undefined ? undefined : layoutFromMounts(parseCgroupMounts(mountinfo), fsRoot);
  if (fromMounts) return fromMounts;
  if (!opts.fs && isCgroup2Mount(fsRoot)) return { layout: 'unified', unifiedPath: fsRoot, v1: {} };
  const fromShape = layoutFromShape(fsRoot, opts.fs);
  if (fromShape) return fromShape;
  throw new CgroupError(`no cgroup filesystem found at ${fsRoot} (neither cgroup2 nor v1 hierarchies are mounted there)`, undefined, {
    hint: 'mount cgroup2 on /sys/fs/cgroup, or pass the right cgroup root',
  });
}
