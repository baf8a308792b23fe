// Real clients of an OCI runtime binary with tsrun-oci in runc's place:
// Podman (through conmon) and containerd (through containerd-shim-runc-v2,
// driven by ctr). Images come from a local docker-registry.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage, startRegistry, type RunningRegistry } from '../support/registry-server.js';

const REPO = resolve(__dirname, '../..');
const BIN = join(REPO, 'bin/tsrun-oci');
const IMAGE_DIR = join(REPO, 'images/out/busybox');
let registry: RunningRegistry;
let work: string;
let image: string;

beforeAll(async () => {
  execFileSync('node', ['hack/build.mjs'], { cwd: REPO, stdio: 'inherit' });
  if (!existsSync(join(IMAGE_DIR, 'index.json'))) execFileSync('node', ['images/build.mjs', 'busybox'], { cwd: REPO, stdio: 'inherit' });
  work = mkdtempSync(join(tmpdir(), 'tsrun-clients-'));
  registry = await startRegistry();
  await pushImage(IMAGE_DIR, registry.host, 'busybox:latest');
  image = `${registry.host}/busybox:latest`;
});
afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

function run(cmd: string, args: string[], timeout = 60_000): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('Podman with --runtime tsrun-oci', () => {
  // This hybrid-cgroup host needs cgroupfs, file events and ulimits within the hard limits (host-facts.md).
  const podman = (...args: string[]) =>
    run('podman', [
      '--root', join(work, 'podman/root'), '--runroot', join(work, 'podman/run'),
      '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', BIN, ...args,
    ]);
  const RUN = ['--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];

  beforeAll(() => {
    const p = podman('pull', '-q', '--tls-verify=false', image);
    if (p.code !== 0) throw new Error(`podman pull: ${p.err}`);
  });
  afterAll(() => {
    podman('rm', '-af');
    rmSync(join(work, 'podman'), { recursive: true, force: true });
  });

  it('podman run: stdout and exit codes 0, 3 and 127', () => {
    expect(podman('run', '--rm', ...RUN, image, 'echo', 'hello from podman')).toMatchObject({ code: 0, out: 'hello from podman\n' });
    expect(podman('run', '--rm', ...RUN, image, 'sh', '-c', 'echo to-err >&2; exit 3')).toMatchObject({ code: 3, err: 'to-err\n' });
    const missing = podman('run', '--rm', ...RUN, image, 'no-such-command');
    expect(missing.code).toBe(127);
    expect(missing.err).toMatch(/no-such-command.*executable file not found/);
  });

  it('podman run -t gets a terminal through the console socket', () => {
    const r = podman('run', '--rm', '-t', ...RUN, image, 'sh', '-c', 'tty');
    expect(r).toMatchObject({ code: 0, out: '/dev/pts/0\r\n' });
  });

  it('podman run -d, logs, exec and stop', async () => {
    const started = podman('run', '-d', ...RUN, image, 'sh', '-c', 'echo started; trap "echo got-term; exit 0" TERM; while :; do sleep 0.1; done');
    expect(started.code).toBe(0);
    const id = started.out.trim();
    for (let i = 0; i < 50 && !podman('logs', id).out.includes('started'); i++) await sleep(100);
    expect(podman('logs', id).out).toBe('started\n');
    expect(podman('inspect', '--format', '{{.State.Status}}', id).out.trim()).toBe('running');
    expect(podman('exec', id, 'sh', '-c', 'echo exec-out; exit 4')).toMatchObject({ code: 4, out: 'exec-out\n' });
    expect(podman('stop', '-t', '10', id).code).toBe(0);
    expect(podman('inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id).out.trim()).toBe('exited 0');
    expect(podman('logs', id).out).toBe('started\ngot-term\n');
    expect(podman('rm', id).code).toBe(0);
  });
});

describe('containerd (ctr) with --runc-binary tsrun-oci', () => {
  let containerd: ChildProcess | undefined;
  let dir: string;
  const ctr = (...args: string[]) => run('ctr', ['-a', join(dir, 'containerd.sock'), '-n', 'tsrun', ...args]);

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/tsrun-ctd-'); // short: socket paths are limited to 108 bytes
    writeFileSync(
      join(dir, 'config.toml'),
      `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd-ttrpc.sock"
`,
    );
    containerd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    containerd.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    for (let i = 0; i < 100 && ctr('version').code !== 0; i++) await sleep(100);
    if (ctr('version').code !== 0) throw new Error(`containerd did not start: ${log}`);
    const pull = ctr('image', 'pull', '--plain-http', image);
    if (pull.code !== 0) throw new Error(`ctr image pull: ${pull.err}`);
  });
  afterAll(async () => {
    if (containerd) {
      containerd.kill('SIGTERM');
      await new Promise((res) => containerd!.once('exit', res));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('ctr run --rm echoes and returns exit codes', () => {
    expect(ctr('run', '--runc-binary', BIN, '--rm', image, `c${process.pid}a`, 'echo', 'hi')).toMatchObject({ code: 0, out: 'hi\n' });
    expect(ctr('run', '--runc-binary', BIN, '--rm', image, `c${process.pid}b`, 'sh', '-c', 'exit 7').code).toBe(7);
  });

  it('ctr run -d, task exec, pause/resume, kill and delete', async () => {
    const id = `c${process.pid}d`;
    expect(ctr('run', '-d', '--runc-binary', BIN, image, id, 'sleep', '60').code).toBe(0);
    expect(ctr('task', 'ls').out).toMatch(new RegExp(`${id}\\s+\\d+\\s+RUNNING`));
    expect(ctr('task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo exec-hi; exit 5')).toMatchObject({ code: 5, out: 'exec-hi\n' });
    expect(ctr('task', 'pause', id).code).toBe(0);
    expect(ctr('task', 'ls').out).toMatch(new RegExp(`${id}\\s+\\d+\\s+PAUSED`));
    expect(ctr('task', 'resume', id).code).toBe(0);
    expect(ctr('task', 'kill', '-s', 'SIGKILL', id).code).toBe(0);
    for (let i = 0; i < 50 && !/STOPPED/.test(ctr('task', 'ls').out); i++) await sleep(100);
    expect(ctr('task', 'ls').out).toMatch(new RegExp(`${id}\\s+\\d+\\s+STOPPED`));
    expect(ctr('task', 'delete', id).code).toBe(0);
    expect(ctr('container', 'rm', id).code).toBe(0);
  });
});
