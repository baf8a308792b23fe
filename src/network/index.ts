// The network module's API for the engine: give a container (or pod) a
// network namespace, wire it to a bridge, publish its ports, and take all of
// it down again — also after a kill -9, through repairNetworks().
//
// State: <stateDir>/endpoints/<id>.json records what was set up for an owner
// (written before anything is created, so teardown and repair know what to
// remove). Address leases belong to the bridge, which is host-wide: one lease file
// per bridge under /run/tsrun-networks (every --root shares it), each lease naming
// its owner with the state dir so one root's repair never frees another root's.
// Netns files live at <runroot>/netns/<id>; locks at <runroot>/locks.
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ConflictError, NetworkError, UsageError } from '../errors.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { attachVeth, bridgePorts, detachVeth, deleteLink, ensureBridge, listVeths, removeBridge } from './bridge.js';
import { detectFirewall, type Firewall, type PortMapping, type PublishedEntry } from './firewall.js';
import { Ipam, parseSubnet } from './ipam.js';
import { createNetns, deleteNetns, isNetnsMounted, listNetns, netnsPath } from './netns.js';
import type { PortSpecMapping } from './ports.js';

export type { PortMapping, Protocol, PublishedEntry } from './firewall.js';
export type { PortSpecMapping } from './ports.js';
export { formatPortMapping, parseExposed, parsePortMappings, parsePortSpec } from './ports.js';
export { parseSubnet, type Subnet } from './ipam.js';
export { netnsPath, isNetnsMounted } from './netns.js';

export type NetworkMode = 'none' | 'bridge';

export interface BridgeNetworkConfig {
  /** Network name (lease directory name), e.g. 'tsrun'. */
  name: string;
  /** Linux bridge, e.g. 'tsrun0'. */
  bridge: string;
  /** CIDR; the gateway is its first address. */
  subnet: string;
  /** nftables table (inet family) or iptables chain prefix. */
  table: string;
}

export const DEFAULT_NETWORK: BridgeNetworkConfig = { name: 'tsrun', bridge: 'tsrun0', subnet: '10.88.0.0/16', table: 'tsrun' };

export interface NetworkPaths {
  /** Persistent network state (leases, endpoint records), e.g. <root>/network. */
  stateDir: string;
  /** Runtime root: netns files in <runroot>/netns, locks in <runroot>/locks. */
  runroot: string;
}

export interface SetupOptions extends NetworkPaths {
  /** Owner: a container id or a pod id. */
  id: string;
  mode: NetworkMode;
  /** For hostsEntries(); not applied here (the UTS namespace is the spec's). */
  hostname?: string;
  /** From parsePortMappings(); host port 0 (or a host range) is chosen here. */
  ports?: PortSpecMapping[];
  /** Overrides of DEFAULT_NETWORK (tests use their own bridge, subnet and table). */
  network?: Partial<BridgeNetworkConfig>;
  /** A specific address (--ip). */
  ip?: string;
}

export interface NetworkSetup {
  id: string;
  mode: NetworkMode;
  /** Put into the OCI spec: linux.namespaces [{ type: 'network', path }]. */
  netnsPath: string;
  network?: BridgeNetworkConfig;
  ip?: string;
  prefixLength?: number;
  gateway?: string;
  mac?: string;
  /** Host end of the veth pair. */
  hostInterface?: string;
  /** Published ports with their host ports resolved. */
  ports: PortMapping[];
  hostname?: string;
}

interface EndpointRecord extends NetworkSetup {
  /** False until setup finished; an incomplete record whose owner lock is free is a leftover. */
  complete: boolean;
  createdAt: string;
}

export interface RepairReport {
  endpoints: string[];
  netns: string[];
  veths: string[];
  ports: string[];
  leases: string[];
}

function networkConfig(partial?: Partial<BridgeNetworkConfig>): BridgeNetworkConfig {
  const cfg = { ...DEFAULT_NETWORK, ...partial };
  cfg.subnet = parseSubnet(cfg.subnet).cidr;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(cfg.name)) throw new UsageError(`invalid network name "${cfg.name}"`);
  return cfg;
}

function endpointsDir(stateDir: string): string {
  return join(stateDir, 'endpoints');
}

function endpointPath(stateDir: string, id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) throw new NetworkError(`invalid network owner id "${id}"`, 'endpoint');
  return join(endpointsDir(stateDir), `${id}.json`);
}

function ownerLockPath(runroot: string, id: string): string {
  return join(runroot, 'locks', `network-${id}.lock`);
}

/** Where a bridge's address leases live (TSRUN_NETWORK_STATE overrides the base, for tests). */
export function leaseDir(net: Pick<BridgeNetworkConfig, 'bridge'>): string {
  return join(process.env.TSRUN_NETWORK_STATE ?? '/run/tsrun-networks', net.bridge);
}

/** The owner recorded in a lease: the endpoint's id, qualified by its state dir. */
export function leaseOwner(stateDir: string, id: string): string {
  return `${stateDir}#${id}`;
}

/** What setupNetwork recorded for `id`, if anything. */
export function readEndpoint(stateDir: string, id: string): NetworkSetup | undefined {
  const path = endpointPath(stateDir, id);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as EndpointRecord;
}

export function listEndpoints(stateDir: string): NetworkSetup[] {
  const dir = endpointsDir(stateDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .flatMap((n) => {
      try {
        return [JSON.parse(readFileSync(join(dir, n), 'utf8')) as EndpointRecord];
      } catch {
        return [];
      }
    });
}

/** /etc/hosts lines for the owner's own address (empty without one). */
export function hostsEntries(setup: NetworkSetup, names: string[] = setup.hostname ? [setup.hostname] : []): string[] {
  return setup.ip && names.length > 0 ? [`${setup.ip}\t${names.join(' ')}`] : [];
}

let firewallPromise: Promise<Firewall> | undefined;
function firewall(): Promise<Firewall> {
  return (firewallPromise ??= detectFirewall());
}

async function withOwnerLock<T>(runroot: string, id: string, fn: () => Promise<T>): Promise<T> {
  ensureDir(join(runroot, 'locks'));
  const lock = await FileLock.acquire(ownerLockPath(runroot, id));
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Create the owner's network namespace and, in bridge mode, connect it:
 * bridge + firewall table (idempotent), a leased address, the veth pair and
 * the published ports. All or nothing: a failure removes what was made.
 * A second call for the same id returns the existing setup.
 */
export async function setupNetwork(opts: SetupOptions): Promise<NetworkSetup> {
  const path = endpointPath(opts.stateDir, opts.id);
  const net = opts.mode === 'bridge' ? networkConfig(opts.network) : undefined;
  if (opts.mode === 'none' && (opts.ports?.length ?? 0) > 0) throw new UsageError('published ports need a bridge network, not --network none');
  return withOwnerLock(opts.runroot, opts.id, async () => {
    const existing = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as EndpointRecord) : undefined;
    if (existing?.complete && isNetnsMounted(existing.netnsPath)) return strip(existing);
    if (existing) await teardownRecorded(opts, existing);

    ensureDir(endpointsDir(opts.stateDir));
    const record: EndpointRecord = {
      id: opts.id,
      mode: opts.mode,
      netnsPath: netnsPath(opts.runroot, opts.id),
      ...(net ? { network: net } : {}),
      ports: [],
      ...(opts.hostname ? { hostname: opts.hostname } : {}),
      complete: false,
      createdAt: new Date().toISOString(),
    };
    writeJsonAtomic(path, record);
    try {
      await createNetns(record.netnsPath);
      if (net) await connectBridge(opts, net, record, path);
      record.complete = true;
      writeJsonAtomic(path, record);
      return strip(record);
    } catch (err) {
      await teardownRecorded(opts, record).catch(() => {});
      throw err;
    }
  });
}

async function connectBridge(opts: SetupOptions, net: BridgeNetworkConfig, record: EndpointRecord, recordPath: string): Promise<void> {
  const subnet = parseSubnet(net.subnet);
  const lockDir = join(opts.runroot, 'locks');
  const fw = await firewall();
  await ensureBridge(net.bridge, subnet, { lockDir, stateDir: opts.stateDir });
  await fw.ensureNetwork({ table: net.table, bridge: net.bridge, subnet: net.subnet }, lockDir);
  const lease = await new Ipam(leaseDir(net), subnet).allocate(leaseOwner(opts.stateDir, opts.id), opts.ip);
  Object.assign(record, { ip: lease.ip, prefixLength: subnet.prefixLength, gateway: subnet.gateway });
  writeJsonAtomic(recordPath, record);
  const veth = await attachVeth({ id: opts.id, bridge: net.bridge, netnsPath: record.netnsPath, ip: lease.ip, prefixLength: subnet.prefixLength, gateway: subnet.gateway });
  record.hostInterface = veth.hostIfname;
  record.mac = veth.mac;
  if (opts.ports && opts.ports.length > 0) {
    // Host ports are chosen and published under the table lock, so two setups never pick the same free port.
    const portsLock = await FileLock.acquire(join(lockDir, `ports-${net.table}.lock`));
    try {
      record.ports = await chooseHostPorts(opts.ports, await fw.listPublished(net.table));
      writeJsonAtomic(recordPath, record);
      await fw.publish(net.table, opts.id, lease.ip, record.ports);
    } finally {
      portsLock.release();
    }
  }
}

function strip(record: EndpointRecord): NetworkSetup {
  const { complete: _c, createdAt: _t, ...setup } = record;
  return setup;
}

/** Remove everything setupNetwork made for `id`; safe to repeat, and fine when nothing is left. */
export async function teardownNetwork(opts: NetworkPaths & { id: string }): Promise<void> {
  await withOwnerLock(opts.runroot, opts.id, async () => {
    const path = endpointPath(opts.stateDir, opts.id);
    const record = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as EndpointRecord) : undefined;
    if (record) await teardownRecorded(opts, record);
    else await deleteNetns(netnsPath(opts.runroot, opts.id));
  });
}

/** Caller holds the owner lock. Each step tolerates what is already gone; the record goes last. */
async function teardownRecorded(paths: NetworkPaths, record: EndpointRecord): Promise<void> {
  const errors: unknown[] = [];
  const step = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };
  const net = record.network;
  if (net) {
    // Ports are recorded before they are published, so a record without ports published none.
    if (record.ports.length > 0 || !record.complete) await step(async () => (await firewall()).unpublish(net.table, record.id));
    await step(() => detachVeth(record.id));
  }
  await step(() => deleteNetns(record.netnsPath));
  if (net) await step(() => new Ipam(leaseDir(net), net.subnet).release(leaseOwner(paths.stateDir, record.id)));
  if (errors.length > 0) throw new NetworkError(`incomplete network teardown of ${record.id}`, 'teardown', { cause: errors[0] });
  rmSync(endpointPath(paths.stateDir, record.id), { force: true });
}

/**
 * Find and remove leftovers: endpoints whose owner is gone (isLive says so, the
 * netns vanished, e.g. after a reboot, or setup was killed half-way), and, for
 * `network`, netns files, veths on its bridge, published ports and leases that
 * no endpoint record accounts for. Owners whose lock is held (a setup or
 * teardown in progress) are never touched.
 */
export async function repairNetworks(
  opts: NetworkPaths & { network?: Partial<BridgeNetworkConfig>; isLive?: (id: string) => boolean },
): Promise<RepairReport> {
  const report: RepairReport = { endpoints: [], netns: [], veths: [], ports: [], leases: [] };
  const busy = (id: string) => FileLock.isHeld(ownerLockPath(opts.runroot, id));
  const kept = new Set<string>();
  for (const rec of listEndpoints(opts.stateDir) as EndpointRecord[]) {
    if (busy(rec.id)) {
      kept.add(rec.id);
      continue;
    }
    const stale = !rec.complete || !isNetnsMounted(rec.netnsPath) || opts.isLive?.(rec.id) === false;
    if (!stale) {
      kept.add(rec.id);
      continue;
    }
    await withOwnerLock(opts.runroot, rec.id, async () => {
      const fresh = readEndpoint(opts.stateDir, rec.id) as EndpointRecord | undefined;
      if (fresh) await teardownRecorded(opts, fresh);
    });
    report.endpoints.push(rec.id);
  }
  const orphan = (id: string) => !kept.has(id) && !busy(id) && !existsSync(endpointPath(opts.stateDir, id));

  for (const id of listNetns(opts.runroot)) {
    if (!orphan(id)) continue;
    await deleteNetns(netnsPath(opts.runroot, id));
    report.netns.push(id);
  }

  const net = networkConfig(opts.network);
  // Only veths on this network's bridge: another tsrun (other state dirs, tests) may own the rest.
  for (const v of await listVeths()) {
    if (v.master !== net.bridge || !orphan(v.id)) continue;
    await deleteLink(v.ifname);
    report.veths.push(v.ifname);
  }
  const fw = await firewall();
  const published = await fw.listPublished(net.table).catch(() => [] as PublishedEntry[]);
  for (const owner of new Set(published.filter((e) => e.owner && orphan(e.owner)).map((e) => e.owner))) {
    await fw.unpublish(net.table, owner);
    report.ports.push(owner);
  }
  const mine = leaseOwner(opts.stateDir, '');
  const dropped = await new Ipam(leaseDir(net), net.subnet).releaseWhere((l) => l.owner.startsWith(mine) && orphan(l.owner.slice(mine.length)));
  report.leases.push(...dropped.map((l) => l.ip));
  return report;
}

/**
 * Remove a bridge network's host side (bridge, masquerade elements, and our
 * table once no network is left in it). Refused while endpoints still use it.
 */
export async function removeBridgeNetwork(opts: NetworkPaths & { network?: Partial<BridgeNetworkConfig>; dropTable?: boolean }): Promise<void> {
  const net = networkConfig(opts.network);
  const users = listEndpoints(opts.stateDir).filter((e) => e.network?.name === net.name);
  if (users.length > 0) throw new ConflictError(`network ${net.name} is in use by ${users.map((u) => u.id).join(', ')}`);
  const remaining = await bridgePorts(net.bridge);
  if (remaining.length > 0) throw new ConflictError(`bridge ${net.bridge} still has ports: ${remaining.join(', ')}`);
  const fw = await firewall();
  await fw.removeNetwork({ table: net.table, bridge: net.bridge, subnet: net.subnet });
  if (opts.dropTable) await fw.deleteTable(net.table);
  await removeBridge(net.bridge, { stateDir: opts.stateDir });
}

/** The firewall backend in use ('nftables' or 'iptables'). */
export async function firewallBackend(): Promise<'nftables' | 'iptables'> {
  return (await firewall()).backend;
}

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi && lo <= hi) return [lo, hi];
  } catch {
    /* fall through */
  }
  return [32768, 60999];
}

/** Whether a host process could bind hostIp:port now; a published port would silently shadow a host service that does. */
function canBind(hostIp: string, port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  const host = hostIp || '0.0.0.0';
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Resolve host port 0 and host ranges to free ports; ConflictError when an explicit port is in use on the host. */
async function chooseHostPorts(wanted: PortSpecMapping[], taken: PublishedEntry[]): Promise<PortMapping[]> {
  const used = taken.map((t) => ({ hostIp: t.hostIp, hostPort: t.hostPort, protocol: t.protocol }));
  const clash = (hostIp: string, port: number, protocol: string) =>
    used.some((u) => u.protocol === protocol && u.hostPort === port && (u.hostIp === hostIp || u.hostIp === '' || hostIp === ''));
  const out: PortMapping[] = [];
  for (const m of wanted) {
    let port: number | undefined;
    if (m.hostPort !== 0 && m.hostPortEnd === undefined) {
      if (!clash(m.hostIp, m.hostPort, m.protocol) && !(await canBind(m.hostIp, m.hostPort, m.protocol)))
        throw new ConflictError(`host port ${m.hostIp ? m.hostIp + ':' : ''}${m.hostPort}/${m.protocol} is already in use on the host`);
      port = m.hostPort; // a clash with another container is reported by the firewall's atomic publish
    } else {
      const [lo, hi] = m.hostPortEnd !== undefined ? [m.hostPort, m.hostPortEnd] : ephemeralRange();
      const span = hi - lo + 1;
      const start = Math.floor(Math.random() * span);
      for (let i = 0; i < span && port === undefined; i++) {
        const candidate = lo + ((start + i) % span);
        if (!clash(m.hostIp, candidate, m.protocol) && (await canBind(m.hostIp, candidate, m.protocol))) port = candidate;
      }
      if (port === undefined) throw new ConflictError(`no free host port in ${lo}-${hi} for ${m.containerPort}/${m.protocol}`);
    }
    used.push({ hostIp: m.hostIp, hostPort: port, protocol: m.protocol });
    out.push({ hostIp: m.hostIp, hostPort: port, containerPort: m.containerPort, protocol: m.protocol });
  }
  return out;
}
