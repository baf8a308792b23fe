// Pods end to end with the built `tsrun` CLI: a pod owns its network, IPC and
// UTS namespaces (pinned nsfs files, no pause process), members talk over the
// pod's localhost, ports are published on the pod, and removal - also after a
// kill -9 of `tsrun pod create` - leaves nothing behind. Root, under the lock.
// Traffic goes only to 127.0.0.1 and the pod's own addresses.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RunningRegistry, serveBusybox } from '../support/registry-server.js';
import { leaseDir, leaseOwner } from '../../src/network/index.js';
import { mountsUnder, REPO, TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let image: string;

beforeAll(async () => {
  ({ registry: reg, image } = await serveBusybox());
  cli = new TsrunCli();
  const pulled = cli.run(['pull', '-q', image]);
  expect(pulled.code, pulled.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  if (cli) {
    const pods = cli.run(['pod', 'ps', '-q', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (pods.length) cli.run(['pod', 'rm', '-f', ...pods]);
    cli.destroy();
  }
  await reg?.stop();
});

function ok(args: string[]): string {
  const r = cli.run(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

/** Everything of this root that a pod could leave behind, by pod id. */
function leftovers(id: string) {
  const endpoint = join(cli.root, 'network', 'endpoints', `${id}.json`);
  const leases = join(leaseDir({ bridge: 'tsrun0' }), 'leases.json');
  const leaseOwners = existsSync(leases) ? Object.values(JSON.parse(readFileSync(leases, 'utf8')).leases as Record<string, { owner: string }>).map((l) => l.owner) : [];
  const cgroupDirs = ['memory', 'pids', 'cpu', 'unified'].map((h) => `/sys/fs/cgroup/${h}/tsrun/pods/${id}`).filter((d) => existsSync(d));
  return {
    endpoint: existsSync(endpoint),
    netns: existsSync(join(cli.runroot, 'netns', id)),
    podRuntimeDir: existsSync(join(cli.runroot, 'pods', id)),
    podDir: existsSync(join(cli.root, 'pods', id)) || existsSync(join(cli.root, 'pods', `.creating-${id}`)),
    lease: leaseOwners.includes(leaseOwner(join(cli.root, 'network'), id)),
    mounts: mountsUnder(join(cli.runroot, 'pods', id)).length + mountsUnder(join(cli.runroot, 'netns', id)).length,
    cgroups: cgroupDirs,
  };
}

const clean = { endpoint: false, netns: false, podRuntimeDir: false, podDir: false, lease: false, mounts: 0, cgroups: [] };

function vethExists(ifname: string): boolean {
  return execFileSync('ip', ['-br', 'link', 'show'], { encoding: 'utf8' }).split('\n').some((l) => l.split(/[\s@]/)[0] === ifname);
}

function nftHasPort(port: number): boolean {
  const text = execFileSync('nft', ['list', 'table', 'inet', 'tsrun'], { encoding: 'utf8' });
  return new RegExp(`\\b${port}\\b`).test(text);
}

describe('a pod with two members', () => {
  let podId: string;
  let hostPort: number;
  let veth: string;

  it('pod create publishes the port on the pod and pins its namespaces as nsfs files', async () => {
    hostPort = await freePort();
    podId = ok(['pod', 'create', '--name', 'shop', '--hostname', 'shophost', '-p', `127.0.0.1:${hostPort}:8080`]).trim();
    expect(podId).toMatch(/^[0-9a-f]{64}$/);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const f of [join(cli.runroot, 'pods', podId, 'ipc'), join(cli.runroot, 'pods', podId, 'uts'), join(cli.runroot, 'netns', podId)]) {
      expect(mounts).toMatch(new RegExp(`${f} .* - nsfs `));
    }
    const endpoint = JSON.parse(readFileSync(join(cli.root, 'network', 'endpoints', `${podId}.json`), 'utf8'));
    veth = endpoint.hostInterface;
    expect(vethExists(veth)).toBe(true);
    expect(nftHasPort(hostPort)).toBe(true);
    expect(ok(['pod', 'ps'])).toMatch(new RegExp(`^POD ID\\s+NAME\\s+STATUS\\s+CREATED\\s+# OF CONTAINERS\\n${podId.slice(0, 12)}\\s+shop\\s+Created\\s+.*ago\\s+0\\n$`));
  });

  it('members share the hostname, IPC and network namespaces and talk over localhost', async () => {
    ok(['run', '-d', '--pod', 'shop', '--name', 'web', image, 'sh', '-c', 'mkdir -p /www && echo served-by-web > /www/index.html && echo shm-from-web > /dev/shm/note && exec httpd -f -p 8080 -h /www']);
    const script = [
      'for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/ 2>/dev/null && break; sleep 0.1; done',
      'echo host=$(hostname)',
      'echo shm=$(cat /dev/shm/note)',
      'for n in ipc uts net pid; do echo $n=$(stat -L -c %i /proc/self/ns/$n); done',
    ].join('; ');
    const client = ok(['run', '--rm', '--pod', podId.slice(0, 10), '--name', 'client', image, 'sh', '-c', script]);
    expect(client).toMatch(/^served-by-web\n/);
    expect(client).toContain('host=shophost\n');
    expect(client).toContain('shm=shm-from-web\n');
    const web = ok(['exec', 'web', 'sh', '-c', 'echo host=$(hostname); for n in ipc uts net pid; do echo $n=$(stat -L -c %i /proc/self/ns/$n); done']);
    expect(web).toContain('host=shophost\n');
    const ns = (out: string, n: string) => new RegExp(`${n}=(\\d+)`).exec(out)![1];
    for (const n of ['ipc', 'uts', 'net']) expect(ns(client, n)).toBe(ns(web, n));
    // Only the PID namespace is each member's own.
    expect(ns(client, 'pid')).not.toBe(ns(web, 'pid'));
    // The pod's namespaces are the pinned files: same inode as the nsfs mount.
    expect(ns(web, 'ipc')).toBe(execFileSync('stat', ['-L', '-c', '%i', join(cli.runroot, 'pods', podId, 'ipc')], { encoding: 'utf8' }).trim());
    expect(ns(web, 'net')).toBe(execFileSync('stat', ['-L', '-c', '%i', join(cli.runroot, 'netns', podId)], { encoding: 'utf8' }).trim());
  });

  it('the published port answers on the host\'s 127.0.0.1, and port shows it for a member', async () => {
    expect(await httpGet(`http://127.0.0.1:${hostPort}/`)).toBe('served-by-web\n');
    expect(ok(['port', 'web'])).toBe(`8080/tcp -> 127.0.0.1:${hostPort}\n`);
  });

  it('refuses member flags that configure what the pod owns', () => {
    const pub = cli.run(['run', '--rm', '--pod', 'shop', '-p', '9999:80', image, 'true']);
    expect(pub.code).toBe(125);
    expect(pub.stderr).toMatch(/published or exposed ports must be defined when the pod is created/);
    const net = cli.run(['run', '--rm', '--pod', 'shop', '--network', 'none', image, 'true']);
    expect(net.code).toBe(125);
    expect(net.stderr).toMatch(/networks must be defined when the pod is created/);
    const host = cli.run(['run', '--rm', '--pod', 'shop', '--hostname', 'other', image, 'true']);
    expect(host.code).toBe(125);
    expect(host.stderr).toMatch(/cannot set the hostname/);
    const missing = cli.run(['run', '--rm', '--pod', 'no-such-pod', image, 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/no such pod: no-such-pod/);
  });

  it('members sit in the pod\'s cgroup; pod ps, inspect, top and logs describe the pod', () => {
    const pid = ok(['inspect', '-f', '{{.State.Pid}}', 'web']).trim();
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toMatch(new RegExp(`:memory:/tsrun/pods/${podId}/[0-9a-f]{64}\\n`));
    ok(['create', '--pod', 'shop', '--name', 'idle', image, 'true']);
    expect(ok(['pod', 'ps', '--ctr-names'])).toMatch(new RegExp(`${podId.slice(0, 12)}\\s+shop\\s+Degraded\\s+.*\\s+2\\s+(web,idle|idle,web)\\n`));
    const info = JSON.parse(ok(['pod', 'inspect', 'shop']));
    expect(info.Id).toBe(podId);
    expect(info.Name).toBe('shop');
    expect(info.Hostname).toBe('shophost');
    expect(info.SharedNamespaces).toEqual(['ipc', 'net', 'uts']);
    expect(info.CreateInfra).toBe(false);
    expect(info.NumContainers).toBe(2);
    expect(info.Containers.map((c: { Name: string }) => c.Name).sort()).toEqual(['idle', 'web']);
    expect(info.InfraConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] });
    expect(info.CgroupPath).toBe(`/tsrun/pods/${podId}`);
    const json = JSON.parse(ok(['pod', 'ps', '--format', 'json']));
    expect(json[0].Id).toBe(podId);
    expect(json[0].Status).toBe('Degraded');
    expect(ok(['pod', 'top', 'shop'])).toMatch(/httpd -f -p 8080/);
    ok(['exec', 'web', 'sh', '-c', 'echo to-the-log > /proc/1/fd/1']);
    expect(ok(['pod', 'logs', '--names', 'shop'])).toContain('web to-the-log\n');
  });

  it('pod stop stops every member but keeps the namespaces; pod start brings them back', async () => {
    ok(['pod', 'stop', '-t', '1', 'shop']);
    expect(ok(['pod', 'ps'])).toMatch(/shop\s+Exited/);
    expect(existsSync(join(cli.runroot, 'netns', podId))).toBe(true);
    ok(['pod', 'start', 'shop']);
    // idle runs `true` and exits again at once, so the pod is Running or Degraded; web must be up.
    expect(ok(['pod', 'ps'])).toMatch(/shop\s+(Running|Degraded)/);
    expect(ok(['inspect', '-f', '{{.State.Status}}', 'web']).trim()).toBe('running');
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = await httpGet(`http://127.0.0.1:${hostPort}/`).catch(() => '');
      if (body === '') await sleep(100);
    }
    expect(body).toBe('served-by-web\n');
  });

  it('pod rm refuses running members without -f; rm -f removes members, namespaces, network and cgroup', async () => {
    await sleep(300);
    const refused = cli.run(['pod', 'rm', 'shop']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/pod shop has running containers \(web\)/);
    expect(ok(['pod', 'rm', '-f', 'shop']).trim()).toBe(podId);
    expect(leftovers(podId)).toEqual(clean);
    expect(vethExists(veth)).toBe(false);
    expect(nftHasPort(hostPort)).toBe(false);
    expect(ok(['ps', '-a', '-q'])).toBe('');
    expect(readdirSync(join(cli.root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n))).toEqual([]);
    expect(mountsUnder(join(cli.root, 'containers'))).toEqual([]);
    expect(cli.run(['pod', 'inspect', 'shop']).code).toBe(125);
  }, 60_000);
});

describe('pod variants', () => {
  it('--share none: members keep their own namespaces and may publish themselves', () => {
    const id = ok(['pod', 'create', '--name', 'loose', '--share', 'none']).trim();
    ok(['run', '-d', '--pod', 'loose', '--name', 'loose1', image, 'sleep', '60']);
    const a = ok(['exec', 'loose1', 'sh', '-c', 'for n in ipc uts net; do stat -L -c %i /proc/self/ns/$n; done']);
    const b = ok(['run', '--rm', '--pod', 'loose', image, 'sh', '-c', 'for n in ipc uts net; do stat -L -c %i /proc/self/ns/$n; done']);
    const [ai, bi] = [a.trim().split('\n'), b.trim().split('\n')];
    for (let i = 0; i < 3; i++) expect(ai[i]).not.toBe(bi[i]);
    ok(['pod', 'rm', '-f', 'loose']);
    expect(leftovers(id)).toEqual(clean);
  });

  it('--network none: loopback only, still shared between members', () => {
    const id = ok(['pod', 'create', '--name', 'quiet', '--network', 'none']).trim();
    const links = ok(['run', '--rm', '--pod', 'quiet', image, 'sh', '-c', 'ls /sys/class/net | tr "\\n" " "']);
    expect(links.trim()).toBe('lo');
    ok(['pod', 'rm', '-f', 'quiet']);
    expect(leftovers(id)).toEqual(clean);
  });

  it('refuses -p without a shared bridge network, pid sharing and duplicate names', () => {
    const r = cli.run(['pod', 'create', '--network', 'none', '-p', '8080:80']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/published ports need/);
    expect(cli.run(['pod', 'create', '--share', 'pid']).stderr).toMatch(/--share pid is not supported/);
    ok(['pod', 'create', '--name', 'dup']);
    const dup = cli.run(['pod', 'create', '--name', 'dup']);
    expect(dup.code).toBe(125);
    expect(dup.stderr).toMatch(/pod name "dup" is already in use/);
    ok(['pod', 'rm', 'dup']);
  });
});

describe('crash recovery', () => {
  it('kill -9 of `tsrun pod create` at any point: system prune leaves nothing behind', async () => {
    const seen = new Set<string>();
    const collectIds = () => {
      const dirs = [join(cli.root, 'pods'), join(cli.runroot, 'pods'), join(cli.root, 'network', 'endpoints'), join(cli.runroot, 'netns')];
      for (const d of dirs) {
        if (!existsSync(d)) continue;
        for (const n of readdirSync(d)) {
          const m = /([0-9a-f]{64})/.exec(n);
          if (m) seen.add(m[1]!);
        }
      }
    };
    const veths = new Set<string>();
    const halfWay = new Set<string>();
    // The kills are spread over the time a whole create takes here and now (it moves with the
    // machine's load and with tsrun's own start-up), so some land half-way whatever that time is.
    const t0 = Date.now();
    const timed = ok(['pod', 'create', '-p', `127.0.0.1:${await freePort()}:80`]).trim();
    const whole = Date.now() - t0;
    ok(['pod', 'rm', '-f', timed]);
    const delays = [0.15, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0].map((f) => Math.round(whole * f));
    for (const delayMs of delays) {
      const child = spawn(process.execPath, cli.args(['pod', 'create', '-p', `127.0.0.1:${await freePort()}:80`]), { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r)); // it may finish before the kill
      const start = Date.now();
      // Poll while it runs so ids of pods killed half-way are known to the checks below.
      while (Date.now() - start < delayMs) {
        collectIds();
        await sleep(10);
      }
      child.kill('SIGKILL');
      await exited;
      collectIds();
      // Killed half-way: state exists but no committed pod record (the next create's repair removes it).
      for (const id of seen) {
        const left = leftovers(id);
        if (!existsSync(join(cli.root, 'pods', id)) && Object.values(left).some((v) => v === true || (Array.isArray(v) && v.length > 0))) halfWay.add(id);
      }
      for (const id of seen) {
        try {
          veths.add(JSON.parse(readFileSync(join(cli.root, 'network', 'endpoints', `${id}.json`), 'utf8')).hostInterface);
        } catch {
          /* no endpoint (yet) */
        }
      }
    }
    await sleep(300); // an unshare child outliving its killed parent finishes its mounts
    collectIds();
    expect(seen.size).toBeGreaterThan(0);
    expect(halfWay.size, 'no kill landed half-way through a create').toBeGreaterThan(0);
    const prune = cli.run(['system', 'prune', '-f']);
    expect(prune.code, prune.stderr).toBe(0);
    for (const id of seen) expect({ id, ...leftovers(id) }).toEqual({ id, ...clean });
    for (const v of veths) if (v) expect(vethExists(v)).toBe(false);
    expect(readdirSync(join(cli.root, 'pods')).filter((n) => n !== 'names' && n !== '.create.lock')).toEqual([]);
    expect(readdirSync(join(cli.root, 'pods', 'names'))).toEqual([]);
    expect(ok(['pod', 'ps', '-q'])).toBe('');
  }, 120_000);

  it('pod rm -f after the pod\'s namespaces were lost (as after a reboot) still removes everything', () => {
    const id = ok(['pod', 'create', '--name', 'lost', '-p', '127.0.0.1::80']).trim();
    ok(['create', '--pod', 'lost', image, 'true']);
    // What a reboot does to the runroot: the nsfs mounts vanish.
    for (const m of [...mountsUnder(join(cli.runroot, 'pods', id)), ...mountsUnder(join(cli.runroot, 'netns', id))]) execFileSync('umount', [m]);
    ok(['pod', 'rm', '-f', 'lost']);
    expect(leftovers(id)).toEqual(clean);
  });

  it('pod start rebuilds namespaces that vanished, with the same host port', async () => {
    const hostPort = await freePort();
    const id = ok(['pod', 'create', '--name', 'phoenix', '-p', `127.0.0.1:${hostPort}:8080`]).trim();
    ok(['create', '--pod', 'phoenix', image, 'sh', '-c', 'echo risen > /tmp/i && exec httpd -f -p 8080 -h /tmp']);
    for (const m of [...mountsUnder(join(cli.runroot, 'pods', id)), ...mountsUnder(join(cli.runroot, 'netns', id))]) execFileSync('umount', [m]);
    ok(['pod', 'start', 'phoenix']);
    let body = '';
    for (let i = 0; i < 50 && body !== 'risen\n'; i++) {
      body = await httpGet(`http://127.0.0.1:${hostPort}/i`).catch(() => '');
      if (body !== 'risen\n') await sleep(100);
    }
    expect(body).toBe('risen\n');
    ok(['pod', 'rm', '-f', 'phoenix']);
    expect(leftovers(id)).toEqual(clean);
  });
});
