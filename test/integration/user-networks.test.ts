// User networks end to end with the built CLIs: `tsrun network create`, two
// containers that reach each other by name over it, connect/disconnect of a
// running container, hosts files that follow members coming and going, `network
// rm` refused while in use and leaving nothing behind, and a tsrkt pod on a
// named network. Root, under the integration lock. Traffic goes only to the
// containers' own addresses; name lookups that miss /etc/hosts go to
// --dns 127.0.0.1 inside the container, never to the host's resolvers.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseDir, networkStateBase } from '../../src/network/index.js';
import { serveBusybox, type RunningRegistry } from '../support/registry-server.js';
import { mountsUnder, TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let rkt: TsrunCli;
let image: string;
const suffix = `${process.pid}`;
const NET = `it-net-${suffix}`;
const NET2 = `it-rkt-${suffix}`;

beforeAll(async () => {
  ({ registry: reg, image } = await serveBusybox());
  const base = mkdtempSync('/tmp/tsrun-it-');
  cli = new TsrunCli('tsrun', base);
  rkt = new TsrunCli('tsrkt', base);
  nssMounts(base);
  const pulled = cli.run(['pull', '-q', image]);
  expect(pulled.code, pulled.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  if (cli) {
    const pods = cli.run(['pod', 'ps', '-q', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (pods.length) cli.run(['pod', 'rm', '-f', ...pods]);
    const ids = cli.run(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (ids.length) cli.run(['rm', '-f', ...ids]);
    cli.run(['network', 'rm', NET, NET2, `${NET}-boot`, `${NET}-a`, `${NET}-b`, `${NET}-r`]);
    cli.destroy();
  }
  await reg?.stop();
});

function ok(args: string[]): string {
  const r = cli.run(args);
  expect(r.code, `tsrun ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/**
 * The image's busybox is linked statically against glibc, whose getaddrinfo
 * loads libnss_files at run time and crashes when the image has none: lend it
 * the host's (the same glibc busybox-static was built with) and an nsswitch.conf
 * that reads /etc/hosts first. Without this no name resolves, /etc/hosts or not.
 */
let NSS: string[] = [];
let RKT_NSS: string[] = [];
function nssMounts(base: string): void {
  const conf = join(base, 'nsswitch.conf');
  writeFileSync(conf, 'hosts: files dns\n');
  const libs = ['/lib/x86_64-linux-gnu', '/lib64'].filter((d) => existsSync(d));
  NSS = [...libs.flatMap((d) => ['-v', `${d}:${d}:ro`]), '-v', `${conf}:/etc/nsswitch.conf:ro`];
  const vols = [...libs.map((d, i) => [`lib${i}`, d, d]), ['nss', conf, '/etc/nsswitch.conf']];
  RKT_NSS = vols.flatMap(([name, src, dst]) => [`--volume=${name},kind=host,source=${src},readOnly=true`, `--mount=volume=${name},target=${dst}`]);
}

const WEB = 'mkdir -p /www && echo hello-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www';

/** wget by name from inside `container` (exec), retried while the server starts. */
async function fetchFrom(container: string, url: string, attempts = 20): Promise<{ code: number; stdout: string }> {
  let r = cli.run(['exec', container, 'timeout', '5', 'wget', '-qO-', url]);
  for (let i = 1; i < attempts && r.code !== 0; i++) {
    await sleep(250);
    r = cli.run(['exec', container, 'timeout', '5', 'wget', '-qO-', url]);
  }
  return r;
}

// (busybox's own `wget -T` crashes in this static build: `timeout` bounds it instead.)
const hostsOf = (container: string) => ok(['exec', container, 'cat', '/etc/hosts']);
const inspect = (ref: string) => JSON.parse(ok(['network', 'inspect', ref]))[0] as {
  Id: string;
  Name: string;
  IPAM: { Config: { Subnet: string; Gateway: string }[] };
  Containers: Record<string, { Name: string; IPv4Address: string }>;
  Options: Record<string, string>;
};

describe('tsrun network', () => {
  let bridge = '';
  let subnet = '';

  it('create, ls and inspect', () => {
    const id = ok(['network', 'create', '--label', 'purpose=test', NET]).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ls = ok(['network', 'ls']);
    expect(ls.split('\n')[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    expect(ls).toMatch(new RegExp(`${id.slice(0, 12)}\\s+${NET}\\s+bridge\\s+local`));
    expect(ls).toMatch(/\sbridge\s+bridge\s+local/);
    const net = inspect(NET);
    expect(net.Id).toBe(id);
    subnet = net.IPAM.Config[0]!.Subnet;
    expect(subnet).toMatch(/^10\.\d+\.\d+\.0\/24$/);
    bridge = net.Options['com.docker.network.bridge.name']!;
    expect(bridge.length).toBeLessThanOrEqual(15);
    expect(net.Containers).toEqual({});
    const again = cli.run(['network', 'create', NET]);
    expect(again.code).toBe(125);
    expect(again.stderr).toMatch(/already exists/);
    expect(cli.run(['run', '--rm', '--network', 'no-such-net', image, 'true']).stderr).toMatch(/no-such-net/);
  });

  it('containers on the network reach each other by name; one on the default bridge cannot resolve them', async () => {
    ok(['run', '-d', '--name', 'web', '--network', NET, '--network-alias', 'www', '--dns', '127.0.0.1', ...NSS, image, 'sh', '-c', WEB]);
    ok(['run', '-d', '--name', 'client', '--network', NET, '--dns', '127.0.0.1', ...NSS, image, 'sleep', '600']);
    const got = await fetchFrom('client', 'http://web/');
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^hello-/);
    // A one-shot container too, the way a user would try it.
    const once = cli.run(['run', '--rm', '--network', NET, '--dns', '127.0.0.1', ...NSS, image, 'timeout', '5', 'wget', '-qO-', 'http://web/']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toBe(got.stdout);
    expect((await fetchFrom('client', 'http://www/')).stdout).toBe(got.stdout); // --network-alias
    expect(cli.run(['run', '--rm', '--network-alias', 'x', image, 'true']).stderr).toMatch(/user-defined networks/);
    expect(hostsOf('web')).toMatch(/\tclient\b/);
    // The default network keeps Docker's behaviour: no names of other containers.
    const other = cli.run(['run', '--rm', '--dns', '127.0.0.1', ...NSS, image, 'sh', '-c', 'grep -w web /etc/hosts; timeout 5 wget -qO- http://web/']);
    expect(other.code).not.toBe(0);
    expect(other.stdout).not.toMatch(/hello-/);
    const members = Object.values(inspect(NET).Containers);
    expect(members.map((m) => m.Name).sort()).toEqual(['client', 'web']);
    for (const m of members) expect(m.IPv4Address.startsWith(subnet.split('.').slice(0, 3).join('.') + '.')).toBe(true);
  });

  it('connect and disconnect a running container', async () => {
    ok(['run', '-d', '--name', 'side', '--dns', '127.0.0.1', ...NSS, image, 'sleep', '600']);
    expect(cli.run(['exec', 'side', 'timeout', '5', 'wget', '-qO-', 'http://web/']).code).not.toBe(0);
    ok(['network', 'connect', '--alias', 'sidekick', NET, 'side']);
    const got = await fetchFrom('side', 'http://web/');
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^hello-/);
    expect(ok(['exec', 'side', 'ip', '-4', 'addr', 'show', 'eth1'])).toContain(subnet.split('.').slice(0, 3).join('.'));
    // The peers see it, by name and by alias, in the hosts file they already have mounted.
    expect(hostsOf('web')).toMatch(/\tside\b.*\bsidekick\b/);
    expect((await fetchFrom('web', 'http://web/')).code).toBe(0);
    expect(Object.values(inspect(NET).Containers).map((m) => m.Name)).toContain('side');
    const settings = JSON.parse(ok(['inspect', 'side']))[0].NetworkSettings;
    expect(Object.keys(settings.Networks).sort()).toEqual(['bridge', NET].sort());
    expect(settings.Networks[NET].IPAddress.startsWith(subnet.split('.').slice(0, 3).join('.') + '.')).toBe(true);
    const twice = cli.run(['network', 'connect', NET, 'side']);
    expect(twice.code).toBe(125);
    expect(twice.stderr).toMatch(/already attached/);

    ok(['network', 'disconnect', NET, 'side']);
    expect(cli.run(['exec', 'side', 'timeout', '5', 'wget', '-qO-', 'http://web/']).code).not.toBe(0);
    expect(cli.run(['exec', 'side', 'ip', 'link', 'show', 'eth1']).code).not.toBe(0);
    expect(hostsOf('web')).not.toMatch(/\bside\b/);
    expect(hostsOf('side')).not.toMatch(/\bweb\b/);
    expect(Object.values(inspect(NET).Containers).map((m) => m.Name)).not.toContain('side');
    const notOn = cli.run(['network', 'disconnect', NET, 'side']);
    expect(notOn.code).toBe(125);
    expect(notOn.stderr).toMatch(/not connected/);
    ok(['rm', '-f', 'side']);
  });

  it('rm of a member takes it out of the others\' hosts files', () => {
    ok(['run', '-d', '--name', 'peer', '--network', NET, '--dns', '127.0.0.1', ...NSS, image, 'sleep', '600']);
    expect(hostsOf('web')).toMatch(/\tpeer\b/);
    expect(hostsOf('peer')).toMatch(/\tweb\b/);
    ok(['rm', '-f', 'peer']);
    expect(hostsOf('web')).not.toMatch(/\bpeer\b/);
    expect(hostsOf('web')).toMatch(/\tclient\b/);
  });

  it('network rm is refused while in use, then removes bridge, firewall elements and leases', () => {
    const busy = cli.run(['network', 'rm', NET]);
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/active endpoints/);
    ok(['rm', '-f', 'web', 'client']);
    expect(ok(['network', 'rm', NET]).trim()).toBe(NET);
    expect(spawnSync('ip', ['link', 'show', bridge]).status).not.toBe(0);
    const nets = spawnSync('nft', ['list', 'set', 'inet', 'tsrun', 'nets'], { encoding: 'utf8' }).stdout;
    expect(nets).not.toContain(subnet);
    expect(existsSync(leaseDir({ bridge }))).toBe(false);
    expect(ok(['network', 'ls'])).not.toContain(NET);
    expect(cli.run(['network', 'inspect', NET]).code).not.toBe(0);
  });

  it('network prune removes networks without endpoints only', () => {
    ok(['network', 'create', `${NET}-a`]);
    ok(['network', 'create', `${NET}-b`]);
    ok(['run', '-d', '--name', 'keeper', '--network', `${NET}-b`, image, 'sleep', '600']);
    const out = ok(['network', 'prune', '-f']);
    expect(out).toContain(`${NET}-a`);
    expect(out).not.toContain(`${NET}-b`);
    ok(['rm', '-f', 'keeper']);
    expect(ok(['network', 'prune', '-f'])).toContain(`${NET}-b`);
  });
});

describe('pods and tsrkt on a user network', () => {
  it('a tsrkt pod with --net=NAME reaches a container on that network by name, on an address of that network', async () => {
    ok(['network', 'create', NET2]);
    ok(['run', '-d', '--name', 'web2', '--network', NET2, '--dns', '127.0.0.1', ...NSS, image, 'sh', '-c', WEB]);
    expect((await fetchFrom('web2', 'http://web2/')).code).toBe(0); // serving
    const r = rkt.run(['run', `--net=${NET2}`, ...RKT_NSS, image, '--exec', '/bin/sh', '--', '-c', 'timeout 5 wget -qO- http://web2/ && ip -4 addr show eth0'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/hello-/);
    expect(r.stdout).toContain(inspect(NET2).IPAM.Config[0]!.Subnet.split('.').slice(0, 3).join('.'));
  });

  it('--net=NAME,default joins both networks', () => {
    const r = rkt.run(['run', `--net=${NET2},default`, image, '--exec', '/bin/sh', '--', '-c', 'ip -4 -o addr show | grep -c "eth[01] "'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toMatch(/(^|\s)2$/); // after rkt's "[uptime] app[pid]: " prefix
  });

  it('a pod created with --network NAME is resolvable by its name from the network', async () => {
    ok(['pod', 'create', '--name', 'podweb', '--network', NET2]);
    const podInfo = JSON.parse(ok(['pod', 'inspect', 'podweb']));
    expect((Array.isArray(podInfo) ? podInfo[0] : podInfo).InfraConfig.Networks).toEqual([NET2]);
    ok(['run', '-d', '--pod', 'podweb', image, 'sh', '-c', WEB]);
    const got = await fetchFrom('web2', 'http://podweb/');
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^hello-podweb/);
    ok(['pod', 'rm', '-f', 'podweb']);
    expect(hostsOf('web2')).not.toMatch(/\bpodweb\b/);
    ok(['rm', '-f', 'web2']);
  });

  it('a tsrkt --net with an unknown name fails and leaves no pod', () => {
    const before = cli.run(['pod', 'ps', '-q']).stdout;
    const r = rkt.run(['run', '--net=no-such-net', image, '--exec', '/bin/true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-net/);
    expect(cli.run(['pod', 'ps', '-q']).stdout).toBe(before);
  });
});

describe('repair', () => {
  it('a kill -9 of network connect leaves nothing that system prune does not sweep', async () => {
    ok(['network', 'create', `${NET}-r`]);
    ok(['run', '-d', '--name', 'victim', image, 'sleep', '600']);
    // Kill connect once its record names the attachment (before or after the veth exists).
    const child = spawn(process.execPath, cli.args(['network', 'connect', `${NET}-r`, 'victim']), { stdio: 'ignore' });
    const id = ok(['inspect', '--format', '{{.Id}}', 'victim']).trim();
    const record = join(cli.root, 'network', 'endpoints', `${id}.json`);
    for (let i = 0; i < 400 && !readFileSync(record, 'utf8').includes(`${NET}-r`); i++) await sleep(5);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    ok(['rm', '-f', 'victim']);
    ok(['system', 'prune', '-f', '--sweep-network']);
    const net = inspect(`${NET}-r`);
    expect(net.Containers).toEqual({});
    // No veth left on the bridge (which may not even exist, if connect was killed before making it).
    const lines = spawnSync('ip', ['-o', 'link', 'show', 'master', net.Options['com.docker.network.bridge.name']!], { encoding: 'utf8' }).stdout.trim();
    expect(lines).toBe('');
    ok(['network', 'rm', `${NET}-r`]);
  });
});

describe('after a reboot', () => {
  it('start brings the user network back (definition, bridge) and its containers find each other again', async () => {
    const NET3 = `${NET}-boot`;
    ok(['network', 'create', NET3]);
    const bridge = inspect(NET3).Options['com.docker.network.bridge.name']!;
    const ids = [
      ok(['run', '-d', '--name', 'web3', '--network', NET3, '--dns', '127.0.0.1', ...NSS, image, 'sh', '-c', WEB]).trim(),
      ok(['run', '-d', '--name', 'client3', '--network', NET3, '--dns', '127.0.0.1', ...NSS, image, 'sleep', '600']).trim(),
    ];
    expect((await fetchFrom('client3', 'http://web3/')).code).toBe(0);
    // A reboot: processes gone, the runroot and /run/tsrun-networks (tmpfs) empty, bridges gone.
    for (const id of ids) {
      const state = JSON.parse(readFileSync(join(cli.runroot, 'runtime', id, 'state.json'), 'utf8'));
      for (const pid of [state.pid, state.monitorPid]) process.kill(pid, 'SIGKILL');
    }
    await sleep(200);
    for (const m of mountsUnder(cli.runroot).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(cli.runroot, { recursive: true, force: true });
    rmSync(join(networkStateBase(), 'defs', `${NET3}.json`));
    rmSync(leaseDir({ bridge }), { recursive: true, force: true });
    spawnSync('ip', ['link', 'del', bridge]);

    ok(['start', 'web3']);
    ok(['start', 'client3']);
    expect(existsSync(join(networkStateBase(), 'defs', `${NET3}.json`))).toBe(true);
    const got = await fetchFrom('client3', 'http://web3/');
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^hello-/);
    expect(hostsOf('web3')).toMatch(/\tclient3\b/);
    ok(['rm', '-f', 'web3', 'client3']);
    ok(['network', 'rm', NET3]);
  });
});
