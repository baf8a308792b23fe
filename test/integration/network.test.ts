// Real kernel: netns files, a test bridge, veths, nftables. Traffic stays
// between this host and the namespaces made here (the test subnet and
// 127.0.0.1). Run as root under the machine-wide lock:
//   flock /tmp/tsrun-integration.lock npx vitest run test/integration/network.test.ts
// TSRUN_TEST_BRIDGE / TSRUN_TEST_SUBNET / TSRUN_TEST_NFT_TABLE pick names that
// do not collide with a real tsrun0 network.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import { vethName } from '../../src/network/bridge.js';
import { NftFirewall } from '../../src/network/firewall.js';
import {
  firewallBackend,
  isNetnsMounted,
  leaseDir,
  leaseOwner,
  listEndpoints,
  parsePortMappings,
  readEndpoint,
  removeBridgeNetwork,
  repairNetworks,
  setupNetwork,
  teardownNetwork,
  type BridgeNetworkConfig,
  type NetworkSetup,
} from '../../src/network/index.js';
import { Ipam } from '../../src/network/ipam.js';
import { FileLock } from '../../src/util/lock.js';
import { buildDir } from '../../src/util/paths.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

const network: BridgeNetworkConfig = {
  name: 'tsruntest',
  bridge: process.env.TSRUN_TEST_BRIDGE ?? 'tsruntest0',
  subnet: process.env.TSRUN_TEST_SUBNET ?? '10.231.0.0/24',
  table: process.env.TSRUN_TEST_NFT_TABLE ?? 'tsruntest',
};
// Host ports for the test; chosen high to stay clear of services.
const HOST_PORT = Number(process.env.TSRUN_TEST_HOST_PORT ?? 47080);

let base: string;
let stateDir: string;
let runroot: string;
const children: ChildProcess[] = [];

async function linkExists(name: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

async function publishedOwners(): Promise<string[]> {
  return (await new NftFirewall().listPublished(network.table)).map((e) => e.owner);
}

/** A TCP server inside the namespace that greets with `greeting` and echoes a line. */
async function serveInNetns(netns: string, port: number, greeting: string): Promise<ChildProcess> {
  const script = `require('net').createServer((s) => { s.write(${JSON.stringify(greeting)} + '\\n'); s.pipe(s); }).listen(${port}, '0.0.0.0', () => console.log('listening'))`;
  const child = spawn('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((ok, fail) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && ok());
    child.once('exit', (code) => fail(new Error(`server in ${netns} exited with ${code}`)));
  });
  return child;
}

/** Connect from the host (host: 127.0.0.1 or a test-bridge address), send a line, return what came back. */
function talk(host: string, port: number): Promise<string> {
  return new Promise((ok, fail) => {
    const sock = connect({ host, port });
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      fail(new Error(`no answer from ${host}:${port}`));
    }, 5000);
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes('ping\n')) {
        clearTimeout(timer);
        sock.end();
        ok(data);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    sock.write('ping\n');
  });
}

/** Same, but from inside a namespace (a Node client run with nsenter). */
async function talkFromNetns(netns: string, host: string, port: number): Promise<string> {
  const script = `const s=require('net').connect(${port}, ${JSON.stringify(host)});let d='';s.on('data',(b)=>{d+=b;if(d.includes('ping\\n')){process.stdout.write(d);s.end();}});s.on('error',(e)=>{console.error(e.message);process.exit(1)});s.write('ping\\n');setTimeout(()=>process.exit(2),5000).unref();`;
  const { stdout } = await run('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', script]);
  return stdout;
}

async function assertGone(setup: NetworkSetup): Promise<void> {
  expect(await linkExists(vethName(setup.id))).toBe(false);
  expect(await publishedOwners()).not.toContain(setup.id);
  expect(existsSync(setup.netnsPath)).toBe(false);
  expect(isNetnsMounted(setup.netnsPath)).toBe(false);
  expect(new Ipam(leaseDir(network), network.subnet).leaseOf(leaseOwner(stateDir, setup.id))).toBeUndefined();
  expect(readEndpoint(stateDir, setup.id)).toBeUndefined();
}

describe.skipIf(!isRoot)('network (bridge, netns, nftables)', () => {
  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'tsrun-net-'));
    stateDir = join(base, 'state');
    runroot = join(base, 'run');
    if (await linkExists(network.bridge)) throw new Error(`bridge ${network.bridge} already exists: set TSRUN_TEST_BRIDGE to a free name`);
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const e of listEndpoints(stateDir)) await teardownNetwork({ stateDir, runroot, id: e.id }).catch(() => {});
    await removeBridgeNetwork({ stateDir, runroot, network, dropTable: true }).catch((err) => console.error('cleanup:', err));
    rmSync(base, { recursive: true, force: true });
  });

  it('uses nftables on this host', async () => {
    expect(await firewallBackend()).toBe('nftables');
  });

  it('mode none: a netns with only lo, up', async () => {
    const s = await setupNetwork({ stateDir, runroot, id: 'none1', mode: 'none' });
    expect(s.netnsPath).toBe(join(runroot, 'netns', 'none1'));
    expect(isNetnsMounted(s.netnsPath)).toBe(true);
    const { stdout } = await run('nsenter', [`--net=${s.netnsPath}`, 'ip', '-j', 'link']);
    const links = JSON.parse(stdout) as { ifname: string; flags: string[] }[];
    expect(links.map((l) => l.ifname)).toEqual(['lo']);
    expect(links[0]!.flags).toContain('UP');
    await teardownNetwork({ stateDir, runroot, id: 'none1' });
    expect(existsSync(s.netnsPath)).toBe(false);
    expect(readEndpoint(stateDir, 'none1')).toBeUndefined();
  });

  it('bridge: two namespaces talk, a published port answers on 127.0.0.1 and the gateway, teardown leaves nothing', async () => {
    const a = await setupNetwork({ stateDir, runroot, id: 'ctr-a', mode: 'bridge', network, hostname: 'alpha', ports: parsePortMappings([`${HOST_PORT}:7000`]) });
    const b = await setupNetwork({ stateDir, runroot, id: 'ctr-b', mode: 'bridge', network });
    const gateway = network.subnet.replace(/\.0\/\d+$/, '.1');
    expect(a.gateway).toBe(gateway);
    expect(a.ip).not.toBe(b.ip);
    for (const s of [a, b]) expect(s.ip!.startsWith(network.subnet.replace(/\.0\/\d+$/, '.'))).toBe(true);
    expect(a.ports).toEqual([{ hostIp: '', hostPort: HOST_PORT, containerPort: 7000, protocol: 'tcp' }]);
    expect(await linkExists(a.hostInterface!)).toBe(true);
    const { stdout: master } = await run('ip', ['-j', 'link', 'show', 'dev', a.hostInterface!]);
    expect((JSON.parse(master) as { master?: string }[])[0]!.master).toBe(network.bridge);

    // ICMP both ways between the namespaces and to the gateway (busybox ping).
    await run('nsenter', [`--net=${a.netnsPath}`, 'busybox', 'ping', '-c', '1', '-W', '3', b.ip!]);
    await run('nsenter', [`--net=${b.netnsPath}`, 'busybox', 'ping', '-c', '1', '-W', '3', a.ip!]);
    await run('nsenter', [`--net=${a.netnsPath}`, 'busybox', 'ping', '-c', '1', '-W', '3', gateway]);
    const { stdout: route } = await run('nsenter', [`--net=${a.netnsPath}`, 'ip', 'route', 'show', 'default']);
    expect(route).toContain(`default via ${gateway} dev eth0`);

    await serveInNetns(a.netnsPath, 7000, 'hello from a');
    expect(await talkFromNetns(b.netnsPath, a.ip!, 7000)).toBe('hello from a\nping\n');
    expect(await talk('127.0.0.1', HOST_PORT)).toBe('hello from a\nping\n');
    expect(await talk(gateway, HOST_PORT)).toBe('hello from a\nping\n');
    // Another namespace on the bridge reaches the published port through the gateway too.
    expect(await talkFromNetns(b.netnsPath, gateway, HOST_PORT)).toBe('hello from a\nping\n');

    // Only our own table carries the rules.
    const { stdout: table } = await run('nft', ['list', 'table', 'inet', network.table]);
    expect(table).toContain(`comment "tsrun:ctr-a"`);
    expect(table).toContain(network.subnet);

    // setup is idempotent for a live owner
    expect(await setupNetwork({ stateDir, runroot, id: 'ctr-a', mode: 'bridge', network })).toEqual(a);

    await teardownNetwork({ stateDir, runroot, id: 'ctr-a' });
    await teardownNetwork({ stateDir, runroot, id: 'ctr-b' });
    await assertGone(a);
    await assertGone(b);
    await expect(talk('127.0.0.1', HOST_PORT)).rejects.toThrow();
    // teardown twice is fine
    await teardownNetwork({ stateDir, runroot, id: 'ctr-a' });
  });

  it('a host port published twice is refused and the loser leaves nothing behind', async () => {
    const a = await setupNetwork({ stateDir, runroot, id: 'dup-a', mode: 'bridge', network, ports: parsePortMappings([`${HOST_PORT + 1}:80`]) });
    const err = await setupNetwork({ stateDir, runroot, id: 'dup-b', mode: 'bridge', network, ports: parsePortMappings([`${HOST_PORT + 1}:81`]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(String((err as Error).message)).toMatch(new RegExp(`${HOST_PORT + 1}/tcp is already published by dup-a`));
    expect(readEndpoint(stateDir, 'dup-b')).toBeUndefined();
    expect(existsSync(join(runroot, 'netns', 'dup-b'))).toBe(false);
    expect(await linkExists(vethName('dup-b'))).toBe(false);
    // -P style: a free host port chosen at setup
    const c = await setupNetwork({ stateDir, runroot, id: 'dup-c', mode: 'bridge', network, ports: parsePortMappings([], ['80/tcp'], true) });
    expect(c.ports[0]!.hostPort).toBeGreaterThan(0);
    expect((await new NftFirewall().listPublished(network.table)).find((e) => e.owner === 'dup-c')?.hostPort).toBe(c.ports[0]!.hostPort);
    await teardownNetwork({ stateDir, runroot, id: 'dup-a' });
    await teardownNetwork({ stateDir, runroot, id: 'dup-c' });
    await assertGone(a);
    await assertGone(c);
  });

  it('repair cleans up after a setup killed with SIGKILL half-way, and after an owner that died', async () => {
    // A child process runs setupNetwork; we hold the ports lock, so it stops after netns,
    // lease and veth exist, just before publishing. Then kill -9.
    const entry = join(base, 'setup-child.ts');
    const bundle = join(base, 'setup-child.mjs');
    writeFileSync(
      entry,
      `import { setupNetwork, parsePortMappings } from ${JSON.stringify(resolve(__dirname, '../../src/network/index.ts'))};
       const o = JSON.parse(process.argv[2]);
       await setupNetwork({ ...o, ports: parsePortMappings(o.ports) });
       console.log('done');`,
    );
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'silent' });
    const portsLock = await FileLock.acquire(join(runroot, 'locks', `ports-${network.table}.lock`));
    const opts = { stateDir, runroot, id: 'killed', mode: 'bridge', network, ports: [`${HOST_PORT + 2}:80`] };
    const child = spawn(process.execPath, [bundle, JSON.stringify(opts)], { env: { ...process.env, TSRUN_BUILD_DIR: buildDir() }, stdio: 'inherit' });
    children.push(child);
    const veth = vethName('killed');
    for (let i = 0; i < 200 && !(await linkExists(veth)); i++) await sleep(50);
    await sleep(200); // past attachVeth's namespace side
    expect(await linkExists(veth)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((ok) => child.once('exit', ok));
    portsLock.release();
    const leftover = readEndpoint(stateDir, 'killed');
    expect(leftover).toBeDefined();
    expect(isNetnsMounted(leftover!.netnsPath)).toBe(true);
    expect(new Ipam(leaseDir(network), network.subnet).leaseOf(leaseOwner(stateDir, 'killed'))).toBeDefined();

    // An owner that finished setup and then died without teardown (its engine was kill -9ed).
    const dead = await setupNetwork({ stateDir, runroot, id: 'dead', mode: 'bridge', network, ports: parsePortMappings([`${HOST_PORT + 3}:80`]) });
    const alive = await setupNetwork({ stateDir, runroot, id: 'alive', mode: 'bridge', network });

    const report = await repairNetworks({ stateDir, runroot, network, isLive: (id) => id === 'alive' });
    expect(report.endpoints.sort()).toEqual(['dead', 'killed']);
    await assertGone(leftover!);
    await assertGone(dead);
    expect(isNetnsMounted(alive.netnsPath)).toBe(true);
    expect(await linkExists(alive.hostInterface!)).toBe(true);

    // Orphans nobody recorded (record lost): a netns file and a lease are found and removed too.
    await setupNetwork({ stateDir, runroot, id: 'orphan', mode: 'bridge', network });
    rmSync(join(stateDir, 'endpoints', 'orphan.json'));
    const again = await repairNetworks({ stateDir, runroot, network, isLive: () => true });
    expect(again.netns).toEqual(['orphan']);
    expect(again.veths).toEqual([vethName('orphan')]);
    expect(again.leases).toHaveLength(1);
    expect(await linkExists(vethName('orphan'))).toBe(false);
    expect(isNetnsMounted(alive.netnsPath)).toBe(true);

    await teardownNetwork({ stateDir, runroot, id: 'alive' });
    await assertGone(alive);
  });

  it('removing the network removes the bridge and our table, and restores ip_forward if we turned it on', async () => {
    const record = join(stateDir, 'ip_forward.json');
    const previous = existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as { previous: string }).previous : undefined;
    await removeBridgeNetwork({ stateDir, runroot, network, dropTable: true });
    expect(await linkExists(network.bridge)).toBe(false);
    expect(await new NftFirewall().tableExists(network.table)).toBe(false);
    if (previous !== undefined) expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(previous);
    expect(existsSync(record)).toBe(false);
  });
});
