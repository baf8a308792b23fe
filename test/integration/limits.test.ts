// Resource limits end to end through the built `tsrun` CLI: the kernel
// enforces --memory (OOM kill -> 137 + OOMKilled), --pids-limit and --cpus;
// stats, pause/unpause and update work on running containers; rm leaves no
// cgroup behind, even after kill -9 of the monitor. Runs on whatever cgroup
// layout the host has: hybrid (v1) on the build machines, pure v2 inside
// hack/vm/cgroup2-vm.sh. No registry: the busybox image is loaded from an
// OCI-layout tar, so the same file runs in the VM (which has only lo).
// As root, under the lock:
//   flock /tmp/tsrun-integration.lock npx vitest run test/integration/limits.test.ts
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectLayout } from '../../src/cgroup/index.js';
import { REPO, TsrunCli } from '../support/tsrun-cli.js';

const isRoot = process.getuid?.() === 0;
// Emulated (TCG) VMs run Node about 10x slower: give every CLI call room.
const SLOW = process.env.TSRUN_IN_VM === '1';
const T = SLOW ? 600_000 : 60_000;

let cli: TsrunCli;
let image: string;
let tarDir: string;
const layout = isRoot ? detectLayout() : undefined;

/** The directories of cgroup /tsrun/<id> in every hierarchy of this host. */
function cgroupDirsOf(id: string): string[] {
  const mounts = new Set([...(layout!.unifiedPath ? [layout!.unifiedPath] : []), ...Object.values(layout!.v1)]);
  return [...mounts].map((m) => join(m, 'tsrun', id));
}

/** A cgroup file of the container, from the hierarchy serving `controller` (v1 if mounted, else cgroup2). */
function cgroupFile(id: string, controller: string, v1File: string, v2File: string): string {
  const v1 = layout!.v1[controller];
  const path = v1 ? join(v1, 'tsrun', id, v1File) : join(layout!.unifiedPath!, 'tsrun', id, v2File);
  return readFileSync(path, 'utf8').trim();
}

function memoryLimit(id: string): string {
  return cgroupFile(id, 'memory', 'memory.limit_in_bytes', 'memory.max');
}

function ok(args: string[]): string {
  const r = cli.run(args, { timeoutMs: T });
  expect(r.code, `tsrun ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Starts a detached container (no network: the VM has only lo) and returns its full id. */
function runDetached(flags: string[], command: string[]): string {
  return ok(['run', '-d', '--network', 'none', ...flags, image, ...command]).trim();
}

function logLines(id: string): number {
  const path = join(cli.root, 'containers', id, 'container.log');
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

beforeAll(() => {
  if (!isRoot) return;
  if (!existsSync(join(REPO, 'images/out/busybox/index.json'))) {
    execFileSync(process.execPath, [join(REPO, 'images/build.mjs'), 'busybox'], { stdio: 'ignore' });
  }
  tarDir = mkdtempSync('/tmp/tsrun-limits-');
  const tar = join(tarDir, 'busybox.tar');
  execFileSync('tar', ['-C', join(REPO, 'images/out/busybox'), '-cf', tar, '.']);
  cli = new TsrunCli();
  const loaded = ok(['load', '-i', tar]);
  image = /sha256:([0-9a-f]{64})/.exec(loaded)![1]!.slice(0, 12);
}, 600_000);

afterAll(() => {
  cli?.destroy();
  if (tarDir) rmSync(tarDir, { recursive: true, force: true });
});

describe.skipIf(!isRoot)(`resource limits (${layout?.layout ?? 'no'} cgroups)`, () => {
  // Skipped on the host, which is hybrid: only the VM run (hack/vm/cgroup-tests.sh) can check pure v2.
  it.runIf(SLOW)('runs on pure cgroup v2 inside the VM', () => {
    expect(layout!.layout).toBe('unified');
    expect(layout!.v1).toEqual({});
  });

  it('a container over --memory is OOM-killed: exit 137 and State.OOMKilled, attached and detached', () => {
    const attached = cli.run(['run', '--name', 'oom-a', '--network', 'none', '-m', '32m', image, 'sh', '-c', 'tail /dev/zero'], { timeoutMs: T });
    expect(attached.code, attached.stderr).toBe(137);
    expect(ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom-a'])).toBe('true 137\n');

    const id = runDetached(['--name', 'oom-d', '-m', '32m'], ['sh', '-c', 'sleep 0.2; tail /dev/zero']);
    expect(ok(['wait', id])).toBe('137\n');
    // A container that exits on its own is no OOM kill.
    const fine = cli.run(['run', '--name', 'oom-no', '--network', 'none', '-m', '32m', image, 'sh', '-c', 'exit 3'], { timeoutMs: T });
    expect(fine.code).toBe(3);
    expect(ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom-d', 'oom-no'])).toBe('true 137\nfalse 3\n');
  }, T * 6);

  it('warns about --kernel-memory and nothing else for an ordinary container', () => {
    const r = cli.run(['run', '--rm', '--network', 'none', '--kernel-memory', '50m', image, 'true'], { timeoutMs: T });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^WARNING: --kernel-memory .*ignored$/m);
    // Not the default device rules (unenforceable on pure v2 without eBPF), nothing else either.
    expect(r.stderr.split('\n').filter((l) => l.startsWith('WARNING:'))).toHaveLength(1);
  }, T);

  it('--pids-limit stops a fork loop at the limit', async () => {
    // The inner shell forks until the kernel refuses; the outer one then replaces itself without forking.
    const id = runDetached(['--pids-limit', '20'], ['sh', '-c', 'sh -c "while :; do sleep 300 & done"; echo fork-refused; exec sleep 300']);
    await until('the fork loop to hit the limit', () => readFileSync(join(cli.root, 'containers', id, 'container.log'), 'utf8').includes('fork-refused'), T);
    expect(cgroupFile(id, 'pids', 'pids.max', 'pids.max')).toBe('20');
    // The sleeps it managed to start stay (the inner shell itself has exited): the limit, less one.
    const current = Number(cgroupFile(id, 'pids', 'pids.current', 'pids.current'));
    expect(current).toBeGreaterThanOrEqual(18);
    expect(current).toBeLessThanOrEqual(20);
    const log = readFileSync(join(cli.root, 'containers', id, 'container.log'), 'utf8');
    expect(log).toMatch(/can't fork|Resource temporarily unavailable/);
  }, T * 3);

  it('--cpus 0.2 throttles a busy loop; stats --no-stream --format json shows it', () => {
    const id = runDetached(['--name', 'busy', '--cpus', '0.2', '-m', '64m'], ['sh', '-c', 'while :; do :; done']);
    const lines = ok(['stats', '--no-stream', '--format', 'json', 'busy']).trim().split('\n');
    expect(lines).toHaveLength(1);
    const row = JSON.parse(lines[0]!) as Record<string, string>;
    expect(Object.keys(row).sort()).toEqual(['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
    expect(row.ID).toBe(id.slice(0, 12));
    expect(row.Name).toBe('busy');
    expect(row.MemUsage).toMatch(/^[\d.]+(B|KiB|MiB) \/ 64MiB$/);
    expect(row.PIDs).toBe('1');
    expect(row.NetIO).toBe('0B / 0B');
    // One CPU's worth would be 100%; the quota allows 20% (generous bounds for noisy machines).
    const cpu = parseFloat(row.CPUPerc!);
    expect(cpu).toBeGreaterThan(3);
    expect(cpu).toBeLessThan(35);
    const stat = cgroupFile(id, 'cpu', 'cpu.stat', 'cpu.stat');
    expect(Number(/nr_throttled (\d+)/.exec(stat)![1])).toBeGreaterThan(0);
    expect(cgroupFile(id, 'cpu', 'cpu.cfs_quota_us', 'cpu.max').split(' ')[0]).toBe('20000');

    const table = ok(['stats', '--no-stream', '-a']).split('\n');
    expect(table[0]).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    expect(table.some((l) => l.startsWith(id.slice(0, 12)))).toBe(true);
  }, T * 3);

  it('pause freezes the container (its log stops growing) and unpause resumes it', async () => {
    const id = runDetached(['--name', 'ticker'], ['sh', '-c', 'while :; do echo tick; sleep 0.1; done']);
    await until('the first ticks', () => logLines(id) >= 3, T);
    expect(ok(['pause', 'ticker'])).toBe('ticker\n');
    expect(ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}} {{.State.Running}}', 'ticker'])).toBe('paused true true\n');
    const ps = ok(['ps']);
    expect(ps).toMatch(/Up .* \(Paused\)\s+ticker/);
    const frozenAt = logLines(id);
    await sleep(1500);
    expect(logLines(id)).toBe(frozenAt);
    expect(cli.run(['pause', 'ticker'], { timeoutMs: T }).code).not.toBe(0);
    expect(ok(['unpause', 'ticker'])).toBe('ticker\n');
    await until('ticks after unpause', () => logLines(id) > frozenAt + 2, T);
    // A paused container can still be removed: SIGKILL through the cgroup reaches frozen processes.
    ok(['pause', 'ticker']);
    ok(['rm', '-f', 'ticker']);
    for (const dir of cgroupDirsOf(id)) expect(existsSync(dir), dir).toBe(false);
  }, T * 10);

  it('update raises and lowers the memory limit of a running container, and a restart keeps it', async () => {
    const id = runDetached(['--name', 'upd', '-m', '64m', '--pids-limit', '50'], ['sleep', '600']);
    expect(memoryLimit(id)).toBe(String(64 * 1024 * 1024));
    expect(ok(['update', '--memory', '128m', '--memory-swap', '256m', '--pids-limit', '60', 'upd'])).toBe('upd\n');
    expect(memoryLimit(id)).toBe(String(128 * 1024 * 1024));
    expect(cgroupFile(id, 'pids', 'pids.max', 'pids.max')).toBe('60');
    ok(['update', '-m', '48m', 'upd']);
    expect(memoryLimit(id)).toBe(String(48 * 1024 * 1024));
    const bad = cli.run(['update', '-m', 'lots', 'upd'], { timeoutMs: T });
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/lots/);
    // Persisted in the bundle: kill and start again, the new limits come back.
    ok(['kill', 'upd']);
    ok(['start', 'upd']);
    expect(memoryLimit(id)).toBe(String(48 * 1024 * 1024));
    expect(cgroupFile(id, 'pids', 'pids.max', 'pids.max')).toBe('60');
  }, T * 10);

  it("a pod's cgroup has its own limits, which hold its members: OOM kill of a member without a limit of its own", () => {
    ok(['pod', 'create', '--name', 'lim-pod', '--network', 'none', '--memory', '32m', '--pids-limit', '40']);
    const podId = JSON.parse(ok(['pod', 'inspect', 'lim-pod'])) as { Id?: string } | { Id?: string }[];
    const id = (Array.isArray(podId) ? podId[0]!.Id : podId.Id)!;
    const podFile = (controller: string, v1: string, v2: string) => cgroupFile(join('pods', id), controller, v1, v2);
    expect(podFile('memory', 'memory.limit_in_bytes', 'memory.max')).toBe(String(32 * 1024 * 1024));
    expect(podFile('pids', 'pids.max', 'pids.max')).toBe('40');
    const hog = cli.run(['run', '--name', 'pod-hog', '--pod', 'lim-pod', image, 'sh', '-c', 'tail /dev/zero'], { timeoutMs: T });
    expect(hog.code, hog.stderr).toBe(137);
    expect(ok(['inspect', '-f', '{{.State.OOMKilled}}', 'pod-hog'])).toBe('true\n');
    ok(['rm', 'pod-hog']);
    ok(['pod', 'rm', '-f', 'lim-pod']);
    for (const dir of cgroupDirsOf(join('pods', id))) expect(existsSync(dir), dir).toBe(false);
  }, T * 8);

  it('kill -9 of the monitor, then rm -f: no process and no cgroup left', () => {
    const id = runDetached([], ['sleep', '600']);
    const state = JSON.parse(readFileSync(join(cli.runroot, 'runtime', id, 'state.json'), 'utf8')) as { pid: number; monitorPid: number };
    process.kill(state.monitorPid, 'SIGKILL');
    ok(['rm', '-f', id]);
    expect(alive(state.pid)).toBe(false);
    for (const dir of cgroupDirsOf(id)) expect(existsSync(dir), dir).toBe(false);
  }, T * 3);

  it('rm removes a cgroup that no launcher state knows (kill -9 of tsrun right after creating it)', () => {
    const id = ok(['create', '--network', 'none', '-m', '32m', image, 'true']).trim();
    // What a kill -9 between the cgroup's mkdir and the launcher's state file leaves behind.
    for (const dir of cgroupDirsOf(id)) execFileSync('mkdir', ['-p', dir]);
    ok(['rm', id]);
    for (const dir of cgroupDirsOf(id)) expect(existsSync(dir), dir).toBe(false);
  }, T * 2);

  it('a container has its own cgroup namespace: its cgroups are "/", and /sys/fs/cgroup shows its own limits, read-only', () => {
    // Runs here (hybrid: a tmpfs of fresh hierarchies) and in the cgroup v2 VM (one fresh cgroup2).
    const script = [
      'cat /proc/self/cgroup',
      'echo ---',
      'cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max',
      'touch /sys/fs/cgroup/x 2>/dev/null && echo rw || echo ro',
    ].join('; ');
    const [cgroups, rest] = ok(['run', '--rm', '--network', 'none', '--pids-limit', '77', image, 'sh', '-c', script]).split('---\n');
    const lines = cgroups!.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line, line).toMatch(/:\/$/);
    expect(rest).toBe('77\nro\n');
  }, T);

  it('rm leaves no cgroup directory in any hierarchy', () => {
    const ids = ok(['ps', '-aq', '--no-trunc']).split('\n').filter(Boolean);
    expect(ids.length).toBeGreaterThan(2);
    expect(ids.some((id) => cgroupDirsOf(id).some((d) => existsSync(d)))).toBe(true);
    ok(['rm', '-f', ...ids]);
    for (const id of ids) for (const dir of cgroupDirsOf(id)) expect(existsSync(dir), dir).toBe(false);
  }, T * 3);
});
