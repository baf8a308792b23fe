// A temp dir shaped like cgroupfs, with the little kernel behaviour the
// manager relies on: mkdir populates interface files (v2: per the parent's
// cgroup.subtree_control; v1: per the hierarchy's controllers), writes go to
// existing files only, subtree_control refuses unknown controllers and
// (optionally) cgroups with processes, cgroup.freeze updates cgroup.events,
// cgroup.kill empties cgroup.procs, rmdir drops the interface files.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { CgroupFs } from '../../../src/cgroup/index.js';

export interface Write {
  /** Path relative to the fake's root. */
  path: string;
  value: string;
}

function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

const V2_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.max': 'max\n',
    'memory.low': '0\n',
    'memory.high': 'max\n',
    'memory.swap.max': 'max\n',
    'memory.current': '0\n',
    'memory.swap.current': '0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
    'memory.stat': 'anon 0\nfile 0\n',
  },
  cpu: { 'cpu.max': 'max 100000\n', 'cpu.weight': '100\n', 'cpu.idle': '0\n' },
  cpuset: { 'cpuset.cpus': '\n', 'cpuset.mems': '\n', 'cpuset.cpus.effective': '0-1\n' },
  pids: { 'pids.max': 'max\n', 'pids.current': '0\n' },
  io: { 'io.max': '', 'io.weight': 'default 100\n', 'io.stat': '' },
  hugetlb: { 'hugetlb.2MB.max': 'max\n', 'hugetlb.1GB.max': 'max\n' },
};

const V2_CORE: Record<string, string> = {
  'cgroup.subtree_control': '',
  'cgroup.procs': '',
  'cgroup.events': 'populated 0\nfrozen 0\n',
  'cgroup.freeze': '0\n',
  'cgroup.kill': '',
  'cgroup.max.depth': 'max\n',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
};

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712\n',
    'memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory.soft_limit_in_bytes': '9223372036854771712\n',
    'memory.swappiness': '60\n',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.usage_in_bytes': '0\n',
    'memory.stat': 'cache 0\nrss 0\n',
    'memory.kmem.limit_in_bytes': '9223372036854771712\n',
  },
  cpu: { 'cpu.shares': '1024\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_period_us': '100000\n', 'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n' },
  cpuacct: { 'cpuacct.usage': '0\n', 'cpuacct.usage_user': '0\n', 'cpuacct.usage_sys': '0\n' },
  cpuset: { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' },
  pids: { 'pids.max': 'max\n', 'pids.current': '0\n' },
  // Like this project's hosts: no blkio.weight, only throttling.
  blkio: {
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
    'blkio.throttle.io_service_bytes': 'Total 0\n',
  },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
  freezer: { 'freezer.state': 'THAWED\n' },
};

const V1_CORE: Record<string, string> = { 'cgroup.procs': '', tasks: '', notify_on_release: '0\n' };

interface Hierarchy {
  mount: string;
  version: 1 | 2;
  controllers: string[];
}

export class FakeCgroupFs implements CgroupFs {
  readonly root: string;
  readonly writes: Write[] = [];
  private readonly hierarchies: Hierarchy[] = [];
  /** cgroup dirs (relative) whose subtree_control refuses with EBUSY (processes inside). */
  readonly busy = new Set<string>();
  /** Files removed from every new cgroup (e.g. memory.swap.max without swap accounting). */
  readonly omit = new Set<string>();

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'tsrun-fakecg-'));
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  abs(rel: string): string {
    return join(this.root, rel);
  }

  rel(path: string): string {
    return relative(this.root, path);
  }

  /** cgroup2 mounted at <root>/<at> ('' for the root itself), offering these controllers. */
  addUnified(at: string, controllers: string[]): string {
    const mount = join(this.root, at);
    mkdirSync(mount, { recursive: true });
    writeFileSync(join(mount, 'cgroup.controllers'), controllers.join(' ') + '\n');
    for (const f of ['cgroup.subtree_control', 'cgroup.procs', 'cgroup.max.depth']) writeFileSync(join(mount, f), V2_CORE[f]!);
    writeFileSync(join(mount, 'cpu.stat'), V2_CORE['cpu.stat']!);
    this.hierarchies.push({ mount, version: 2, controllers });
    return mount;
  }

  /** A v1 hierarchy at <root>/<name> ("cpu,cpuacct" for a combined mount). */
  addV1(name: string, rootFiles: Record<string, string> = {}): string {
    const mount = join(this.root, name);
    mkdirSync(mount, { recursive: true });
    for (const [f, v] of Object.entries(V1_CORE)) writeFileSync(join(mount, f), v);
    for (const [f, v] of Object.entries(rootFiles)) writeFileSync(join(mount, f), v);
    this.hierarchies.push({ mount, version: 1, controllers: name.split(',') });
    return mount;
  }

  /** Values written, in order, to files whose path ends with `suffix`. */
  writesTo(suffix: string): string[] {
    return this.writes.filter((w) => w.path.endsWith(suffix)).map((w) => w.value);
  }

  file(rel: string): string {
    return readFileSync(this.abs(rel), 'utf8');
  }

  setFile(rel: string, value: string): void {
    writeFileSync(this.abs(rel), value);
  }

  private hierarchyOf(path: string): Hierarchy | undefined {
    return this.hierarchies
      .filter((h) => path === h.mount || path.startsWith(h.mount + '/'))
      .sort((a, b) => b.mount.length - a.mount.length)[0];
  }

  // ---- CgroupFs ----

  read(path: string): string {
    return readFileSync(path, 'utf8');
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  subdirs(path: string): string[] {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  }

  files(path: string): string[] {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => d.name);
  }

  mkdir(path: string): void {
    if (existsSync(path)) throw errno('EEXIST', path);
    const h = this.hierarchyOf(path);
    mkdirSync(path);
    if (!h) return;
    const files: Record<string, string> = {};
    if (h.version === 2) {
      const enabled = readFileSync(join(dirname(path), 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);
      Object.assign(files, V2_CORE, { 'cgroup.controllers': enabled.join(' ') + '\n' });
      for (const c of enabled) Object.assign(files, V2_FILES[c] ?? {});
    } else {
      Object.assign(files, V1_CORE);
      for (const c of h.controllers) Object.assign(files, V1_FILES[c] ?? {});
    }
    for (const [f, v] of Object.entries(files)) if (!this.omit.has(f)) writeFileSync(join(path, f), v);
  }

  rmdir(path: string): void {
    if (!existsSync(path)) throw errno('ENOENT', path);
    if (this.subdirs(path).length > 0) throw errno('ENOTEMPTY', path);
    if (readFileSync(join(path, 'cgroup.procs'), 'utf8').trim() !== '') throw errno('EBUSY', path);
    for (const f of readdirSync(path)) rmSync(join(path, f));
    rmdirSync(path);
  }

  write(path: string, value: string): void {
    if (!existsSync(path)) throw errno('ENOENT', path);
    const dir = dirname(path);
    const name = path.slice(dir.length + 1);
    switch (name) {
      case 'cgroup.subtree_control': {
        if (this.busy.has(this.rel(dir))) throw errno('EBUSY', path);
        const available = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
        const enabled = new Set(readFileSync(path, 'utf8').split(/\s+/).filter(Boolean));
        for (const tok of value.split(/\s+/).filter(Boolean)) {
          const c = tok.slice(1);
          if (!available.includes(c)) throw errno('EINVAL', path);
          if (tok.startsWith('+')) enabled.add(c);
          else enabled.delete(c);
        }
        writeFileSync(path, [...enabled].join(' ') + '\n');
        break;
      }
      case 'cgroup.procs':
      case 'tasks':
        writeFileSync(path, readFileSync(path, 'utf8') + value.trim() + '\n');
        break;
      case 'cgroup.freeze':
        writeFileSync(path, value + '\n');
        writeFileSync(join(dir, 'cgroup.events'), `populated 0\nfrozen ${value.trim()}\n`);
        break;
      case 'cgroup.kill':
        writeFileSync(join(dir, 'cgroup.procs'), '');
        break;
      case 'memory.limit_in_bytes': {
        // The kernel keeps memory <= memsw at every step.
        const memsw = join(dir, 'memory.memsw.limit_in_bytes');
        if (existsSync(memsw) && Number(value) > Number(readFileSync(memsw, 'utf8'))) throw errno('EINVAL', path);
        writeFileSync(path, value + '\n');
        break;
      }
      case 'memory.memsw.limit_in_bytes':
        if (Number(value) < Number(readFileSync(join(dir, 'memory.limit_in_bytes'), 'utf8'))) throw errno('EINVAL', path);
        writeFileSync(path, value + '\n');
        break;
      default:
        writeFileSync(path, value + '\n');
    }
    this.writes.push({ path: this.rel(path), value });
  }
}
