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
import { attachVeth, bridgePorts, detachVeth, deleteLink, ensureBridge, listVeths, removeBridge, vethName } from './bridge.js';
import { detectFirewall, type Firewall, type PortMapping, type PublishedEntry } from './firewall.js';
import { Ipam, parseSubnet } from './ipam.js';
import { createNetns, deleteNetns, isNetnsMounted, listNetns, netnsPath, runInNetns } from './netns.js';
import { networkStateBase } from './registry.js';
import type { PortSpecMapping } from './ports.js';

export type { PortMapping, Protocol, PublishedEntry } from './firewall.js';
export type { PortSpecMapping } from './ports.js';
export { formatPortMapping, parseExposed, parsePortMappings, parsePortSpec } from './ports.js';
export { parseSubnet, type Subnet } from './ipam.js';
export { netnsPath, isNetnsMounted } from './netns.js';
export {
  bridgeNameFor,
  chooseSubnet,
  hostRanges,
  NetworkRegistry,
  networkStateBase,
  parseRange,
  rangesOverlap,
  RESERVED_NETWORK_NAMES,
  validateNetworkName,
  type AddressRange,
  type CreateNetworkRequest,
  type NetworkDefinition,
} from './registry.js';

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
  /** Names peers on a user network resolve this owner by (container name, short id, hostname). */
  names?: string[];
  /** More names, on the first network only (--network-alias). */
  aliases?: string[];
  /** hosts files to keep listing the peers on user networks (see NetworkSetup.hostsFiles). */
  hostsFiles?: string[];
}

/** One more network an owner's namespace is on, besides the first (`network connect`, a second --net name). */
export interface Attachment {
  network: BridgeNetworkConfig;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  /** Host end of its veth pair. */
  hostInterface: string;
  /** Interface inside the namespace: eth1, eth2, ... */
  ifname: string;
}

/** Every network an owner is on, the first one included, in the order it joined them. */
export interface NetworkAttachment {
  network: BridgeNetworkConfig;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac?: string;
  ifname: string;
  aliases: string[];
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
  names?: string[];
  /** --network-alias names per network name. */
  aliases?: Record<string, string[]>;
  /** Networks joined after the first. */
  extra?: Attachment[];
  /** hosts files that list this owner's peers on user networks (a container's own, or each member's of a pod). */
  hostsFiles?: string[];
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
  return join(networkStateBase(), net.bridge);
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

/**
 * Runs `fn` under the owner's lock. Its file goes on release once the owner has no endpoint
 * record (torn down, or never set up), so the locks of removed containers do not pile up.
 */
async function withOwnerLock<T>(paths: NetworkPaths, id: string, fn: () => Promise<T>): Promise<T> {
  ensureDir(join(paths.runroot, 'locks'));
  const lock = await FileLock.acquire(ownerLockPath(paths.runroot, id));
  try {
    return await fn();
  } finally {
    // A plain join, not endpointPath: that throws on a malformed id, which fn has refused already.
    if (existsSync(join(endpointsDir(paths.stateDir), `${id}.json`))) lock.release();
    else lock.releaseAndRemove();
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
  return withOwnerLock(opts, opts.id, async () => {
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
      ...(opts.names?.length ? { names: opts.names } : {}),
      ...(net && opts.aliases?.length ? { aliases: { [net.name]: opts.aliases } } : {}),
      ...(opts.hostsFiles?.length ? { hostsFiles: opts.hostsFiles } : {}),
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
  await withOwnerLock(opts, opts.id, async () => {
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
  for (const x of record.extra ?? []) await step(() => detachVeth(attachmentKey(record.id, x.network.name)));
  await step(() => deleteNetns(record.netnsPath));
  if (net) await step(() => new Ipam(leaseDir(net), net.subnet).release(leaseOwner(paths.stateDir, record.id)));
  for (const x of record.extra ?? []) await step(() => new Ipam(leaseDir(x.network), x.network.subnet).release(leaseOwner(paths.stateDir, record.id)));
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
  opts: NetworkPaths & {
    network?: Partial<BridgeNetworkConfig>;
    /** User networks whose bridges and leases are swept too. */
    userNetworks?: BridgeNetworkConfig[];
    isLive?: (id: string) => boolean;
  },
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
    await withOwnerLock(opts, rec.id, async () => {
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
  const nets = [net, ...(opts.userNetworks ?? []).filter((n) => n.bridge !== net.bridge)];
  // An owner may be on a network only as its record says (a connect or disconnect killed half-way leaves more).
  const holds = (id: string, name: string) => {
    if (kept.has(id) && busy(id)) return true;
    const rec = existsSync(endpointPath(opts.stateDir, id)) ? readEndpoint(opts.stateDir, id) : undefined;
    return rec !== undefined && attachmentsOf(rec).some((a) => a.network.name === name);
  };
  const orphanAttachment = (key: string, name: string | undefined) => {
    const { id } = splitAttachmentKey(key);
    if (orphan(id)) return true;
    return name !== undefined && !busy(id) && !holds(id, name);
  };
  // Only veths on these networks' bridges: another tsrun (other state dirs, tests) may own the rest.
  for (const v of await listVeths()) {
    const on = nets.find((n) => n.bridge === v.master);
    if (!on) continue;
    const { id, network } = splitAttachmentKey(v.id);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) continue; // not an owner id of ours
    if (!orphanAttachment(v.id, network === undefined ? undefined : on.name)) continue;
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
  for (const n of nets) {
    const dropped = await new Ipam(leaseDir(n), n.subnet).releaseWhere((l) => {
      if (!l.owner.startsWith(mine)) return false;
      const id = l.owner.slice(mine.length);
      return orphan(id) || (!busy(id) && !holds(id, n.name));
    });
    report.leases.push(...dropped.map((l) => l.ip));
  }
  return report;
}

/**
 * Remove a bridge network's host side (bridge, masquerade elements, and our
 * table once no network is left in it). Refused while endpoints still use it.
 */
export async function removeBridgeNetwork(
  opts: NetworkPaths & {
    network?: Partial<BridgeNetworkConfig>;
    dropTable?: boolean;
    /** Also refuse while any root holds a lease on it, and remove its lease directory (user networks). */
    hostWide?: boolean;
  },
): Promise<void> {
  const net = networkConfig(opts.network);
  const users = listEndpoints(opts.stateDir).filter((e) => attachmentsOf(e).some((a) => a.network.name === net.name));
  if (users.length > 0) throw new ConflictError(`network ${net.name} is in use by ${users.map((u) => u.id).join(', ')}`);
  if (opts.hostWide) {
    const leases = new Ipam(leaseDir(net), net.subnet).leases();
    if (leases.length > 0) throw new ConflictError(`network ${net.name} is in use by ${leases.map((l) => l.owner).join(', ')}`);
  }
  const remaining = await bridgePorts(net.bridge);
  if (remaining.length > 0) throw new ConflictError(`bridge ${net.bridge} still has ports: ${remaining.join(', ')}`);
  const fw = await firewall();
  await fw.removeNetwork({ table: net.table, bridge: net.bridge, subnet: net.subnet });
  if (opts.dropTable) await fw.deleteTable(net.table);
  await removeBridge(net.bridge, { stateDir: opts.stateDir });
  if (opts.hostWide) rmSync(leaseDir(net), { recursive: true, force: true });
}

/** The key of an owner's veth on a network it joined after its first: "<id>+<network>" (also its veth alias). */
export function attachmentKey(id: string, networkName: string): string {
  return `${id}+${networkName}`;
}

function splitAttachmentKey(key: string): { id: string; network?: string } {
  const i = key.indexOf('+');
  return i < 0 ? { id: key } : { id: key.slice(0, i), network: key.slice(i + 1) };
}

/** The networks an owner is on: its first (eth0) and those it joined later. */
export function attachmentsOf(setup: NetworkSetup): NetworkAttachment[] {
  const out: NetworkAttachment[] = [];
  const aliases = (name: string) => setup.aliases?.[name] ?? [];
  if (setup.network && setup.ip)
    out.push({
      network: setup.network,
      ip: setup.ip,
      prefixLength: setup.prefixLength ?? parseSubnet(setup.network.subnet).prefixLength,
      gateway: setup.gateway ?? parseSubnet(setup.network.subnet).gateway,
      ...(setup.mac ? { mac: setup.mac } : {}),
      ifname: 'eth0',
      aliases: aliases(setup.network.name),
    });
  for (const x of setup.extra ?? [])
    out.push({ network: x.network, ip: x.ip, prefixLength: x.prefixLength, gateway: x.gateway, ...(x.mac ? { mac: x.mac } : {}), ifname: x.ifname, aliases: aliases(x.network.name) });
  return out;
}

function readRecord(stateDir: string, id: string): EndpointRecord | undefined {
  const path = endpointPath(stateDir, id);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as EndpointRecord) : undefined;
}

/**
 * Put an owner whose namespace exists on one more network (`network connect`):
 * a lease, a veth (ethN inside), the record. A namespace without a first
 * network (disconnected from it) gets this one as eth0 with the default route.
 */
export async function connectEndpoint(
  opts: NetworkPaths & { id: string; network: BridgeNetworkConfig; ip?: string; aliases?: string[] },
): Promise<NetworkAttachment> {
  const net = networkConfig(opts.network);
  return withOwnerLock(opts, opts.id, async () => {
    const path = endpointPath(opts.stateDir, opts.id);
    const record = readRecord(opts.stateDir, opts.id);
    if (!record || !record.complete || !isNetnsMounted(record.netnsPath))
      throw new NetworkError(`${opts.id} has no network namespace of its own to connect to network ${net.name}`, 'connect');
    if (attachmentsOf(record).some((a) => a.network.name === net.name))
      throw new ConflictError(`endpoint ${opts.id} is already attached to network ${net.name}`);
    const subnet = parseSubnet(net.subnet);
    const lockDir = join(opts.runroot, 'locks');
    const fw = await firewall();
    await ensureBridge(net.bridge, subnet, { lockDir, stateDir: opts.stateDir });
    await fw.ensureNetwork({ table: net.table, bridge: net.bridge, subnet: net.subnet }, lockDir);
    const first = !record.network;
    const used = new Set(attachmentsOf(record).map((a) => a.ifname));
    let n = 1;
    while (used.has(`eth${n}`)) n++;
    const ifname = first ? 'eth0' : `eth${n}`;
    const ipam = new Ipam(leaseDir(net), subnet);
    const lease = await ipam.allocate(leaseOwner(opts.stateDir, opts.id), opts.ip);
    const key = first ? opts.id : attachmentKey(opts.id, net.name);
    const extra: Attachment = { network: net, ip: lease.ip, prefixLength: subnet.prefixLength, gateway: subnet.gateway, mac: '', hostInterface: vethName(key), ifname };
    // Recorded before the veth exists, so a kill -9 from here on leaves something teardown and repair know of.
    if (first) Object.assign(record, { mode: 'bridge', network: net, ip: lease.ip, prefixLength: subnet.prefixLength, gateway: subnet.gateway });
    else record.extra = [...(record.extra ?? []), extra];
    if (opts.aliases?.length) record.aliases = { ...record.aliases, [net.name]: opts.aliases };
    writeJsonAtomic(path, record);
    try {
      const veth = await attachVeth({ id: key, bridge: net.bridge, netnsPath: record.netnsPath, ip: lease.ip, prefixLength: subnet.prefixLength, gateway: subnet.gateway, ifname, defaultRoute: first });
      extra.mac = veth.mac;
      if (first) Object.assign(record, { hostInterface: veth.hostIfname, mac: veth.mac });
      writeJsonAtomic(path, record);
    } catch (err) {
      await detachVeth(key).catch(() => {});
      await ipam.release(leaseOwner(opts.stateDir, opts.id)).catch(() => {});
      if (first) for (const k of ['network', 'ip', 'prefixLength', 'gateway'] as const) delete record[k];
      else record.extra = (record.extra ?? []).filter((x) => x.network.name !== net.name);
      if (record.aliases) delete record.aliases[net.name];
      writeJsonAtomic(path, record);
      throw err;
    }
    return attachmentsOf(record).find((a) => a.network.name === net.name)!;
  });
}

/** Take an owner off one network (`network disconnect`); the first network only when it publishes no ports there. */
export async function disconnectEndpoint(opts: NetworkPaths & { id: string; networkName: string }): Promise<void> {
  await withOwnerLock(opts, opts.id, async () => {
    const path = endpointPath(opts.stateDir, opts.id);
    const record = readRecord(opts.stateDir, opts.id);
    const attachment = record ? attachmentsOf(record).find((a) => a.network.name === opts.networkName) : undefined;
    if (!record || !attachment) throw new ConflictError(`${opts.id} is not connected to network ${opts.networkName}`);
    const net = attachment.network;
    if (record.network?.name === net.name) {
      if (record.ports.length > 0) throw new ConflictError(`cannot disconnect ${opts.id} from network ${net.name}: it publishes ports there`);
      await detachVeth(record.id);
      for (const k of ['network', 'ip', 'prefixLength', 'gateway', 'mac', 'hostInterface'] as const) delete record[k];
      // The namespace keeps a way out through the next network, if there is one.
      const next = record.extra?.[0];
      if (next) await runInNetns(record.netnsPath, ['ip', 'route', 'replace', 'default', 'via', next.gateway, 'dev', next.ifname], { step: 'disconnect' });
    } else {
      await detachVeth(attachmentKey(record.id, net.name));
      record.extra = (record.extra ?? []).filter((x) => x.network.name !== net.name);
    }
    if (record.aliases) delete record.aliases[net.name];
    writeJsonAtomic(path, record);
    await new Ipam(leaseDir(net), net.subnet).release(leaseOwner(opts.stateDir, record.id));
  });
}

/** An owner holding a lease on a network, from any root. */
export interface NetworkMember {
  /** The lease's owner string, "<stateDir>#<id>". */
  owner: string;
  stateDir: string;
  id: string;
  ip: string;
  /** Its names and its aliases on this network. */
  names: string[];
  hostsFiles: string[];
  /** Undefined when its endpoint record is gone (a leftover lease). */
  setup?: NetworkSetup;
}

/** Everyone on `net`, host-wide: the leases name the owners, their endpoint records the rest. */
export function networkMembers(net: Pick<BridgeNetworkConfig, 'name' | 'bridge' | 'subnet'>): NetworkMember[] {
  const out: NetworkMember[] = [];
  for (const lease of new Ipam(leaseDir(net), net.subnet).leases()) {
    const i = lease.owner.lastIndexOf('#');
    if (i < 0) continue;
    const stateDir = lease.owner.slice(0, i);
    const id = lease.owner.slice(i + 1);
    let setup: NetworkSetup | undefined;
    try {
      setup = readEndpoint(stateDir, id);
    } catch {
      setup = undefined;
    }
    const attachment = setup ? attachmentsOf(setup).find((a) => a.network.name === net.name) : undefined;
    out.push({
      owner: lease.owner,
      stateDir,
      id,
      ip: lease.ip,
      names: [...(setup?.names ?? []), ...(attachment?.aliases ?? [])],
      hostsFiles: setup?.hostsFiles ?? [],
      ...(setup ? { setup } : {}),
    });
  }
  return out;
}

/** Add (or, with remove, drop) a hosts file that should list the owner's peers. */
export async function setHostsFile(opts: NetworkPaths & { id: string; hostsFile: string; remove?: boolean }): Promise<void> {
  await withOwnerLock(opts, opts.id, async () => {
    const record = readRecord(opts.stateDir, opts.id);
    if (!record) return;
    const files = (record.hostsFiles ?? []).filter((f) => f !== opts.hostsFile);
    if (!opts.remove) files.push(opts.hostsFile);
    record.hostsFiles = files;
    writeJsonAtomic(endpointPath(opts.stateDir, opts.id), record);
  });
}

/**
 * Serialises rewrites of hosts files host-wide: a member of two networks has
 * one hosts file, so a lock per network would let two rewrites of it race.
 */
export async function withHostsLock<T>(fn: () => Promise<T>): Promise<T> {
  const base = networkStateBase();
  ensureDir(base);
  const lock = await FileLock.acquire(join(base, 'hosts.lock'));
  try {
    return await fn();
  } finally {
    lock.release();
  }
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
