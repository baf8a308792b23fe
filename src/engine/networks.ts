// The user networks behind `tsrun network create|ls|inspect|rm|prune|connect|disconnect`.
// Definitions are host-wide (network/registry.ts); who is on a network is read
// from its leases, which are host-wide too, so `rm` refuses while any --root
// still has an endpoint on it. The default network is listed as "bridge"
// (Docker's name) and cannot be created, removed or resolved by name.
import { ConflictError, UsageError } from '../errors.js';
import {
  attachmentsOf,
  connectEndpoint,
  DEFAULT_NETWORK,
  disconnectEndpoint,
  networkMembers,
  parseSubnet,
  readEndpoint,
  removeBridgeNetwork,
  type BridgeNetworkConfig,
  type NetworkDefinition,
  type NetworkMember,
} from '../network/index.js';
import { bridgeConfigOf, isDefaultNetworkName, networkPaths, networkRegistry } from './container-network.js';
import type { ContainerRecord } from './container-store.js';
import type { Containers } from './containers.js';
import { defaultNetworkId, recordNetworkEvent } from './network-events.js';
import { refreshHosts } from './network-hosts.js';
import { PodStore } from './pod-store.js';

/** A network as ls/inspect show it: a user network, or the default one (name "bridge"). */
export interface NetworkInfo {
  id: string;
  name: string;
  driver: 'bridge';
  created: string;
  subnet: string;
  gateway: string;
  bridge: string;
  labels: Record<string, string>;
  /** False for the default network. */
  user: boolean;
  config: BridgeNetworkConfig;
}

export interface NetworkEndpointInfo {
  /** Container or pod id (of this root), else the lease owner. */
  id: string;
  name: string;
  ip: string;
  prefixLength: number;
  mac: string;
  /** The owner lives under another --root. */
  foreign: boolean;
}

const DEFAULT_CREATED = new Date(0).toISOString();

function defaultInfo(): NetworkInfo {
  const subnet = parseSubnet(DEFAULT_NETWORK.subnet);
  return {
    id: defaultNetworkId(),
    name: 'bridge',
    driver: 'bridge',
    created: DEFAULT_CREATED,
    subnet: subnet.cidr,
    gateway: subnet.gateway,
    bridge: DEFAULT_NETWORK.bridge,
    labels: {},
    user: false,
    config: DEFAULT_NETWORK,
  };
}

function userInfo(def: NetworkDefinition): NetworkInfo {
  return {
    id: def.id,
    name: def.name,
    driver: 'bridge',
    created: def.created,
    subnet: def.subnet,
    gateway: def.gateway,
    bridge: def.bridge,
    labels: def.labels,
    user: true,
    config: bridgeConfigOf(def),
  };
}

export class Networks {
  constructor(readonly containers: Containers) {}

  private get ctx() {
    return this.containers.ctx;
  }

  private registry() {
    return networkRegistry(this.ctx);
  }

  async create(req: { name: string; subnet?: string; gateway?: string; driver?: string; labels?: string[] }): Promise<NetworkInfo> {
    const def = await this.registry().create({
      name: req.name,
      ...(req.subnet !== undefined ? { subnet: req.subnet } : {}),
      ...(req.gateway !== undefined ? { gateway: req.gateway } : {}),
      ...(req.driver !== undefined ? { driver: req.driver } : {}),
      labels: labelsOf(req.labels),
    });
    recordNetworkEvent(this.ctx, 'create', def);
    return userInfo(def);
  }

  /** The default network first, then the user networks by name. */
  async list(): Promise<NetworkInfo[]> {
    return [defaultInfo(), ...(await this.registry().list()).map(userInfo)];
  }

  async get(ref: string): Promise<NetworkInfo> {
    if (isDefaultNetworkName(ref)) return defaultInfo();
    const def = defaultInfo();
    if (ref.length >= 3 && def.id.startsWith(ref)) return def;
    return userInfo(await this.registry().get(ref));
  }

  /** Who is on the network, host-wide; names resolved for this root's containers and pods. */
  endpoints(net: NetworkInfo): NetworkEndpointInfo[] {
    const stateDir = networkPaths(this.ctx).stateDir;
    const pods = new PodStore(this.ctx);
    return networkMembers(net.config).map((m: NetworkMember) => {
      const attachment = m.setup ? attachmentsOf(m.setup).find((a) => a.network.name === net.config.name) : undefined;
      const foreign = m.stateDir !== stateDir;
      const name = foreign ? m.id : (this.containers.store.get(m.id)?.name ?? pods.get(m.id)?.name ?? m.id);
      return { id: m.id, name, ip: m.ip, prefixLength: parseSubnet(net.subnet).prefixLength, mac: attachment?.mac ?? '', foreign };
    });
  }

  /** Refused while any endpoint (of any --root) is on it; takes down its bridge, firewall elements and leases. */
  async remove(ref: string): Promise<NetworkInfo> {
    const net = await this.get(ref);
    if (!net.user) throw new UsageError(`${net.name} is a pre-defined network and cannot be removed`);
    const users = this.endpoints(net);
    if (users.length > 0) throw new ConflictError(`error while removing network: network ${net.name} id ${net.id} has active endpoints (${users.map((u) => u.name).join(', ')})`);
    await removeBridgeNetwork({ ...networkPaths(this.ctx), network: net.config, hostWide: true });
    await this.registry().remove((await this.registry().get(net.id)));
    recordNetworkEvent(this.ctx, 'destroy', net);
    return net;
  }

  /** Removes every user network without endpoints; returns their names. */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const net of await this.list()) {
      if (!net.user || this.endpoints(net).length > 0) continue;
      await this.remove(net.id);
      removed.push(net.name);
    }
    return removed;
  }

  /** The id of the network namespace a container owns, with a reason when it has none to connect. */
  private ownerOf(record: ContainerRecord): string {
    if (record.pod) throw new UsageError(`container ${record.name} runs in pod ${record.pod.slice(0, 12)}: its network is the pod's (choose it with pod create --network)`);
    if (!readEndpoint(networkPaths(this.ctx).stateDir, record.id)) {
      throw new UsageError(`container ${record.name} cannot be connected to a network: it uses --network ${record.hostConfig.networkMode}, not a network namespace of its own`);
    }
    return record.id;
  }

  async connect(netRef: string, containerRef: string, opts: { ip?: string; aliases?: string[] } = {}): Promise<void> {
    const net = await this.get(netRef);
    const record = this.containers.lookup(containerRef);
    const id = this.ownerOf(record);
    await connectEndpoint({
      ...networkPaths(this.ctx),
      id,
      network: net.config,
      ...(opts.ip ? { ip: opts.ip } : {}),
      ...(opts.aliases?.length ? { aliases: opts.aliases } : {}),
    });
    recordNetworkEvent(this.ctx, 'connect', net, id);
    await refreshHosts([net.config]);
  }

  async disconnect(netRef: string, containerRef: string): Promise<void> {
    const net = await this.get(netRef);
    const record = this.containers.lookup(containerRef);
    const id = this.ownerOf(record);
    const paths = networkPaths(this.ctx);
    if (!readEndpoint(paths.stateDir, id) || !attachmentsOf(readEndpoint(paths.stateDir, id)!).some((a) => a.network.name === net.config.name))
      throw new ConflictError(`container ${record.name} is not connected to network ${net.name}`);
    await disconnectEndpoint({ ...paths, id, networkName: net.config.name });
    recordNetworkEvent(this.ctx, 'disconnect', net, id);
    await refreshHosts([net.config], [{ stateDir: paths.stateDir, id }]);
  }

  /** Names of the networks a container (or its pod) is on, for inspect and ps. */
  networksOf(record: ContainerRecord): { name: string; ip: string; prefixLength: number; gateway: string; mac: string }[] {
    const stateDir = networkPaths(this.ctx).stateDir;
    const setup = readEndpoint(stateDir, record.id) ?? (record.pod ? readEndpoint(stateDir, record.pod) : undefined);
    if (!setup) return [];
    return attachmentsOf(setup).map((a) => ({
      name: a.network.name === DEFAULT_NETWORK.name ? 'bridge' : a.network.name,
      ip: a.ip,
      prefixLength: a.prefixLength,
      gateway: a.gateway,
      mac: a.mac ?? '',
    }));
  }
}

function labelsOf(items: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of items ?? []) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}
