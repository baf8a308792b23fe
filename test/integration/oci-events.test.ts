// tsrun-oci events as runc's callers use it: --stats once (runc's types.Stats,
// numbers equal to the cgroup files, uint64 values exact), the stream of stats
// every --interval until the container stops, an "oom" event when the OOM
// killer strikes, and the errors.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Spec } from '../../src/oci/runtime.js';
import { ociHarness, OCI_BIN } from '../support/oci-harness.js';

const CG_PARENT = 'tsrun-oci-events-test';
const h = ociHarness('ev', CG_PARENT);
const { oci, ok } = h;
const bundle = h.bundle;
const MB = 1024 * 1024;

function startContainer(args: string[], edit?: (s: Spec) => void): string {
  const { dir, id } = bundle(args, edit);
  ok(['create', '--bundle', dir, id]);
  ok(['start', id]);
  return id;
}

/** `events` running in the background: its output lines as they come, and its exit. */
function streamEvents(args: string[]): { lines: () => string[]; exited: Promise<{ code: number | null; err: string; ms: number }> } {
  const t0 = Date.now();
  const child = spawn(OCI_BIN, ['--root', h.root, 'events', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<{ code: number | null; err: string; ms: number }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, err, ms: Date.now() - t0 });
    }),
  );
  return { lines: () => out.split('\n').filter(Boolean), exited };
}

/** Hybrid or v1 host (this project's machines); the v2-only paths are used otherwise. */
const V1 = existsSync('/sys/fs/cgroup/memory/memory.stat');
/** A file of the container's cgroup: in the controller's v1 hierarchy, else in the unified one. */
const cgFile = (controller: string, id: string, file: string) =>
  readFileSync(V1 ? join('/sys/fs/cgroup', controller, CG_PARENT, id, file) : join('/sys/fs/cgroup', CG_PARENT, id, file), 'utf8').trim();

describe('tsrun-oci events --stats', () => {
  it('prints one runc-shaped stats event whose numbers are the cgroup\'s', async () => {
    const id = startContainer(['sh', '-c', 'sleep 30 & sleep 30'], (s) => {
      s.linux!.resources = { memory: { limit: 64 * MB }, pids: { limit: 50 } };
    });
    await sleep(200);
    const out = ok(['events', '--stats', id]);
    const lines = out.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const ev = JSON.parse(lines[0]!) as { type: string; id: string; data: Record<string, any> };
    expect(Object.keys(ev)).toEqual(['type', 'id', 'data']);
    expect(ev.type).toBe('stats');
    expect(ev.id).toBe(id);
    expect(Object.keys(ev.data)).toEqual(['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
    const d = ev.data;
    // The two sleeps (sh execs the last one), as pids.current says.
    expect(d.pids).toEqual({ current: 2, limit: 50 });
    expect(Number(cgFile('pids', id, 'pids.current'))).toBe(2);
    expect(d.memory.usage.limit).toBe(64 * MB);
    expect(d.memory.usage.usage).toBeGreaterThan(0);
    expect(d.memory.usage.failcnt).toBe(0);
    expect(Object.keys(d.memory)).toEqual(expect.arrayContaining(['usage', 'swap', 'kernel', 'kernelTCP', 'raw']));
    expect(typeof d.memory.raw.rss === 'number' || typeof d.memory.raw.anon === 'number').toBe(true);
    expect(d.cpu.usage.total).toBeGreaterThan(0);
    expect(Object.keys(d.cpu.usage)).toEqual(expect.arrayContaining(['kernel', 'user']));
    expect(d.cpuset.cpus.length).toBeGreaterThan(0);
    expect(typeof d.hugetlb).toBe('object');
    expect(d.intel_rdt).toEqual({});
    expect(d.network_interfaces).toBeNull();
    if (V1) {
      // v1 / hybrid: the files' own values, digit for digit (the unlimited memsw limit is 2^63-4096, beyond 2^53).
      expect(out).toContain(`"swap":{"limit":${cgFile('memory', id, 'memory.memsw.limit_in_bytes')},`);
      expect(d.cpu.usage.percpu.length).toBeGreaterThan(0);
    }
    ok(['kill', '--all', id, 'KILL']);
    ok(['delete', '--force', id]);
  });

  it('refuses a stopped container, a bad interval and an unknown id as runc does', async () => {
    const { dir, id } = bundle(['true']);
    ok(['create', '--bundle', dir, id]);
    ok(['start', id]);
    for (let i = 0; i < 100 && (JSON.parse(ok(['state', id])) as { status: string }).status !== 'stopped'; i++) await sleep(20);
    const stopped = oci(['events', '--stats', id]);
    expect(stopped.code).toBe(1);
    expect(stopped.err).toContain(`container with id ${id} is not running`);
    ok(['delete', id]);
    const unknown = oci(['events', 'no-such-container']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('container "no-such-container" does not exist');
    expect(oci(['events', '--interval', '5', 'x']).err).toMatch(/invalid duration "5"/);
    expect(oci(['events', '--interval', '0s', 'x']).err).toMatch(/duration interval must be greater than 0/);
    expect(oci(['events']).err).toMatch(/a container id is required/);
  });
});

describe('tsrun-oci events (stream)', () => {
  it('prints stats every interval and ends by itself when the container stops', async () => {
    const id = startContainer(['sh', '-c', 'sleep 1.5']);
    const ev = streamEvents(['--interval', '300ms', id]);
    const { code, err, ms } = await ev.exited;
    expect(err).toBe('');
    expect(code).toBe(0);
    // Ended with the container (about 1.5 s after its start), not at the 20 s guard.
    expect(ms).toBeLessThan(5000);
    const events = ev.lines().map((l) => JSON.parse(l) as { type: string; id: string; data?: { pids: { current?: number } } });
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.length).toBeLessThanOrEqual(6);
    for (const e of events) {
      expect(e.type).toBe('stats');
      expect(e.id).toBe(id);
    }
    expect(events[0]!.data!.pids.current).toBeGreaterThanOrEqual(1);
    ok(['delete', id]);
  });

  it('reports an OOM kill as {"type":"oom"} and then ends with the container', async () => {
    // A 16 MiB limit (no swap) and dd asking for a 64 MiB buffer once events is up
    // (its first stats line), signalled through a file in the shared rootfs.
    const go = join(h.rootfs, 'tmp/oom-go');
    rmSync(go, { force: true });
    const id = startContainer(['sh', '-c', 'while [ ! -e /tmp/oom-go ]; do sleep 0.05; done; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 0.3'], (s) => {
      s.linux!.resources = { memory: { limit: 16 * MB, swap: 16 * MB } };
    });
    const ev = streamEvents(['--interval', '300ms', id]);
    for (let i = 0; i < 300 && ev.lines().length === 0; i++) await sleep(20);
    expect(ev.lines().length).toBeGreaterThan(0);
    writeFileSync(go, '');
    const { code, err } = await ev.exited;
    expect(err).toBe('');
    expect(code).toBe(0);
    const types = ev.lines().map((l) => JSON.parse(l).type as string);
    expect(types.filter((t) => t === 'oom')).toEqual(['oom']);
    expect(ev.lines()).toContain(JSON.stringify({ type: 'oom', id }));
    expect(new Set(types)).toEqual(new Set(['stats', 'oom']));
    const counter = V1 ? cgFile('memory', id, 'memory.oom_control') : cgFile('memory', id, 'memory.events');
    expect(counter).toMatch(/^oom_kill 1$/m);
    ok(['delete', id]);
    rmSync(go, { force: true });
  });
});
