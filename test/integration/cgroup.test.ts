// The cgroup manager against the real kernel (as root): limits read back and
// enforced, OOM kill detected, freeze/thaw, kill and destroy. Runs on
// whatever layout the host has (this project's build hosts are hybrid).
// Run under the machine-wide lock:
//   flock /tmp/tsrun-integration.lock npx vitest run test/integration/cgroup.test.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { detectLayout, listCgroups, openCgroup, type CgroupManager } from '../../src/cgroup/index.js';

const isRoot = process.getuid?.() === 0;
const ROOT = `/tsrun-test-${randomBytes(4).toString('hex')}`;
const BUSYBOX = '/bin/busybox';

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

/** A busybox shell that waits for "go" on stdin, so it can join the cgroup before doing anything. */
function startWaiting(script: string): Started {
  const child = spawn(BUSYBOX, ['sh', '-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

function go(s: Started): void {
  s.child.stdin!.write('go\n');
}

function joinAndGo(cg: CgroupManager, s: Started): void {
  cg.addProcess(s.child.pid!);
  go(s);
}

/** The directory of cgroup `path` for `controller` on this host (v1 hierarchy, else unified). */
function dirFor(controller: string, path: string): string {
  const info = detectLayout();
  const mount = info.v1[controller] ?? info.unifiedPath!;
  return join(mount, path);
}

function read(controller: string, path: string, file: string): string {
  return readFileSync(join(dirFor(controller, path), file), 'utf8').trim();
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

describe.skipIf(!isRoot)('cgroup manager on this host', () => {
  afterAll(() => {
    for (const c of children) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    // Whatever a failed test left behind: kill and remove every cgroup under ROOT, then ROOT.
    for (const path of listCgroups(ROOT)) {
      const cg = openCgroup(path);
      try {
        cg.thaw();
      } catch {
        /* not frozen or no freezer */
      }
      cg.kill();
      cg.destroy();
    }
    openCgroup(ROOT).destroy();
    const info = detectLayout();
    for (const mount of [info.unifiedPath, ...Object.values(info.v1)]) {
      if (mount) expect(existsSync(join(mount, ROOT))).toBe(false);
    }
  });

  it('applies memory, pids and cpu limits that read back from the kernel', async () => {
    const path = `${ROOT}/limits`;
    const cg = openCgroup(path);
    const createWarnings = cg.create();
    // On a unified host every controller must get enabled down to the leaf.
    if (detectLayout().layout === 'unified') expect(createWarnings).toEqual([]);
    const warnings = cg.apply({
      memory: { limit: 32 << 20, swap: 32 << 20 },
      pids: { limit: 20 },
      cpu: { quota: 50000, period: 100000, shares: 512 },
    });
    const layout = detectLayout().layout;
    // Only swap accounting may be missing; nothing else may be dropped.
    for (const w of warnings) expect(w).toMatch(/swap/);

    if (detectLayout().v1['memory']) expect(read('memory', path, 'memory.limit_in_bytes')).toBe(String(32 << 20));
    else expect(read('memory', path, 'memory.max')).toBe(String(32 << 20));
    expect(read('pids', path, 'pids.max')).toBe('20');
    if (detectLayout().v1['cpu']) {
      expect(read('cpu', path, 'cpu.cfs_quota_us')).toBe('50000');
      expect(read('cpu', path, 'cpu.cfs_period_us')).toBe('100000');
      expect(read('cpu', path, 'cpu.shares')).toBe('512');
    } else {
      expect(read('cpu', path, 'cpu.max')).toBe('50000 100000');
      expect(read('cpu', path, 'cpu.weight')).toBe('20');
    }

    const s = startWaiting('exec sleep 100');
    joinAndGo(cg, s);
    const pid = s.child.pid!;
    expect(cg.pids()).toEqual([pid]);
    // The kernel agrees: /proc/<pid>/cgroup names our path in every hierarchy.
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
    for (const line of lines) {
      const [, ctrls, p] = line.split(':');
      if (ctrls === 'name=systemd') continue;
      if (layout === 'legacy' && ctrls === '') continue;
      expect(p, line).toBe(path);
    }
    const st = cg.stats();
    expect(st.memory?.limit).toBe(32 << 20);
    expect(st.pids).toEqual({ current: 1, limit: 20 });
    expect(st.cpu?.usageNs).toBeGreaterThanOrEqual(0);

    cg.kill();
    expect((await s.exit).signal).toBe('SIGKILL');
    cg.destroy();
  });

  it('block io weight and hugetlb land in whichever hierarchy serves them', () => {
    const path = `${ROOT}/io-hugetlb`;
    const cg = openCgroup(path);
    cg.create();
    const host = detectLayout();
    const warnings = cg.apply({ blockIO: { weight: 500 }, hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] });
    const ioDir = host.v1['blkio'] ? join(host.v1['blkio'], path) : join(host.unifiedPath!, path);
    const weightFiles = host.v1['blkio']
      ? [['blkio.weight', '500'], ['blkio.bfq.weight', '500']]
      : [['io.bfq.weight', 'default 500'], ['io.weight', 'default 4950']];
    const present = weightFiles.find(([f]) => existsSync(join(ioDir, f!)));
    if (present) {
      expect(readFileSync(join(ioDir, present[0]!), 'utf8')).toContain(present[1]!);
      expect(warnings.filter((w) => w.includes('block io'))).toEqual([]);
    } else {
      expect(warnings.some((w) => w.startsWith('block io weight ignored'))).toBe(true);
    }
    const hugeDir = host.v1['hugetlb'] ? join(host.v1['hugetlb'], path) : join(host.unifiedPath!, path);
    const hugeFile = host.v1['hugetlb'] ? 'hugetlb.2MB.limit_in_bytes' : 'hugetlb.2MB.max';
    expect(readFileSync(join(hugeDir, hugeFile), 'utf8').trim()).toBe(String(4 << 20));
    cg.destroy();
  });

  it('pids.max makes forks fail', async () => {
    const cg = openCgroup(`${ROOT}/forks`);
    cg.create();
    cg.apply({ pids: { limit: 20 } });
    // busybox sh dies with "can't fork" at the first failed fork.
    const s = startWaiting('i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); echo "started $i"; done; echo "all started"');
    joinAndGo(cg, s);
    const { code } = await s.exit;
    const started = s.stdout().split('\n').filter((l) => l.startsWith('started ')).length;
    expect(s.stdout()).not.toContain('all started');
    expect(code).not.toBe(0);
    expect(s.stderr()).toMatch(/can't fork/);
    expect(started).toBeLessThan(20); // the shell itself counts against the limit
    expect(started).toBeGreaterThan(10);
    expect(cg.stats().pids!.current).toBeLessThanOrEqual(20);
    cg.kill();
    expect(cg.pids()).toEqual([]);
    cg.destroy();
  });

  it('a memory hog is OOM-killed and oomKilled() says so', async () => {
    const cg = openCgroup(`${ROOT}/oom`);
    cg.create();
    cg.apply({ memory: { limit: 32 << 20, swap: 32 << 20 } });
    expect(cg.oomKilled()).toBe(false);
    // dd allocates a 64 MiB buffer and fills it from /dev/zero: twice the limit.
    const s = startWaiting(`exec ${BUSYBOX} dd if=/dev/zero of=/dev/null bs=64M count=4`);
    joinAndGo(cg, s);
    const { signal } = await s.exit;
    expect(signal).toBe('SIGKILL');
    expect(cg.oomKilled()).toBe(true);
    cg.destroy();
  });

  it('freeze stops the processes and thaw resumes them', async () => {
    const cg = openCgroup(`${ROOT}/freeze`);
    cg.create();
    const s = startWaiting('while true; do echo tick; usleep 10000; done');
    joinAndGo(cg, s);
    expect(await until(() => s.stdout().length > 20, 5000)).toBe(true);
    cg.freeze();
    await sleep(50); // let output already in the pipe arrive
    const frozenAt = s.stdout().length;
    await sleep(400);
    expect(s.stdout().length).toBe(frozenAt);
    cg.thaw();
    expect(await until(() => s.stdout().length > frozenAt + 20, 5000)).toBe(true);
    cg.kill();
    expect((await s.exit).signal).toBe('SIGKILL');
    cg.destroy();
  });

  it('v1-only path (as on legacy hosts): freezer.state and the freeze + SIGKILL loop', async () => {
    const host = detectLayout();
    if (!host.v1['freezer']) return; // a unified host has no v1 path to exercise
    const legacy = { layout: 'legacy' as const, unifiedPath: undefined, v1: host.v1 };
    const path = `${ROOT}/v1only`;
    const cg = openCgroup(path, { layout: legacy });
    cg.create();
    expect(cg.procsFiles().some((f) => f.includes('unified'))).toBe(false);
    const s = startWaiting('while true; do sleep 1 & usleep 5000; done');
    joinAndGo(cg, s);
    expect(await until(() => cg.pids().length >= 3, 5000)).toBe(true);
    cg.freeze();
    expect(read('freezer', path, 'freezer.state')).toBe('FROZEN');
    cg.kill();
    expect(cg.pids()).toEqual([]);
    expect((await s.exit).signal).toBe('SIGKILL');
    cg.destroy();
    expect(existsSync(join(host.v1['freezer'], path))).toBe(false);
  });

  it('cgroup2-only path: cgroup.freeze with cgroup.events, and cgroup.kill', async () => {
    const host = detectLayout();
    if (!host.unifiedPath) return; // legacy host
    const unifiedOnly = { layout: 'unified' as const, unifiedPath: host.unifiedPath, v1: {} };
    const path = `${ROOT}/v2only`;
    const cg = openCgroup(path, { layout: unifiedOnly });
    cg.create();
    const s = startWaiting('while true; do echo tick; usleep 10000; done');
    joinAndGo(cg, s);
    expect(await until(() => s.stdout().length > 20, 5000)).toBe(true);
    cg.freeze();
    expect(readFileSync(join(host.unifiedPath, path, 'cgroup.events'), 'utf8')).toContain('frozen 1');
    await sleep(50);
    const frozenAt = s.stdout().length;
    await sleep(300);
    expect(s.stdout().length).toBe(frozenAt);
    cg.thaw();
    expect(await until(() => s.stdout().length > frozenAt + 20, 5000)).toBe(true);
    cg.kill();
    expect(cg.pids()).toEqual([]);
    expect((await s.exit).signal).toBe('SIGKILL');
    cg.destroy();
    expect(existsSync(join(host.unifiedPath, path))).toBe(false);
  });

  it('kill ends every process, including a frozen fork loop, and destroy leaves no directory', async () => {
    const path = `${ROOT}/kill`;
    const cg = openCgroup(path);
    cg.create();
    expect(listCgroups(ROOT)).toContain(path); // what gc finds after a kill -9 of tsrun
    const s = startWaiting('sleep 100 & sleep 100 & while true; do sleep 1 & usleep 5000; done');
    joinAndGo(cg, s);
    expect(await until(() => cg.pids().length >= 4, 5000)).toBe(true);
    cg.freeze();
    cg.kill();
    expect(cg.pids()).toEqual([]);
    expect((await s.exit).signal).toBe('SIGKILL');
    cg.destroy();
    cg.destroy(); // idempotent
    const info = detectLayout();
    for (const mount of [info.unifiedPath, ...Object.values(info.v1)]) {
      if (mount) expect(existsSync(join(mount, path)), mount).toBe(false);
    }
    expect(listCgroups(ROOT)).not.toContain(path);
  });
});
