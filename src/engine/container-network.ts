// A container's network and the namespaces it joins, per Docker's modes:
// bridge (default: a veth on tsrun0 with a leased address), a user network by
// name (a veth on that network's bridge; peers resolve each other by name),
// none (only lo), host (the host's stack), container:NAME (another
// container's namespaces).
import { join } from 'node:path';
import { StateError, UsageError } from '../errors.js';
import {
  attachmentsOf,
  DEFAULT_NETWORK,
  formatPortMapping,
  hostRanges,
  hostsEntries,
  NetworkRegistry,
  netnsPath,
  parseRange,
  readEndpoint,
  setHostsFile,
  setupNetwork,
  teardownNetwork,
  type BridgeNetworkConfig,
  type NetworkDefinition,
  type NetworkSetup,
  type PortSpecMapping,
} from '../network/index.js';
import type { NamespaceMode, RunOptions } from '../spec/index.js';
import type { ContainerRecord } from './container-store.js';
import type { Containers } from './containers.js';
import type { EngineContext } from './context.js';
import { ContainerStore } from './container-store.js';
import { recordAttachmentEvents } from './network-events.js';
import { refreshHosts } from './network-hosts.js';

export function networkPaths(ctx: EngineContext) {
  return { stateDir: join(ctx.root, 'network'), runroot: ctx.runroot };
}

/** The host-wide user networks as this root sees them (its copies restore them after a reboot). */
export function networkRegistry(ctx: EngineContext): NetworkRegistry {
  const defaultSubnet = parseRange(DEFAULT_NETWORK.subnet)!;
  return new NetworkRegistry(networkPaths(ctx).stateDir, DEFAULT_NETWORK.table, async () => [defaultSubnet, ...(await hostRanges())]);
}

export function bridgeConfigOf(def: NetworkDefinition): BridgeNetworkConfig {
  return { name: def.name, bridge: def.bridge, subnet: def.subnet, table: def.table };
}

/** 'bridge', 'default' and the default network's own name all mean the default network. */
export function isDefaultNetworkName(name: string | undefined): boolean {
  return name === undefined || name === 'bridge' || name === 'default' || name === DEFAULT_NETWORK.name;
}

/** The bridge config for --network NAME: undefined for the default network, NotFoundError for an unknown name. */
export async function resolveNetwork(ctx: EngineContext, name: string | undefined): Promise<BridgeNetworkConfig | undefined> {
  if (isDefaultNetworkName(name)) return undefined;
  return bridgeConfigOf(await networkRegistry(ctx).get(name!));
}

/** The names peers resolve a container by: its name, short id and hostname. */
export function containerNetworkNames(record: ContainerRecord): string[] {
  return [...new Set([record.name, record.id.slice(0, 12), record.config.hostname])];
}

export function networkModeName(mode: NamespaceMode | undefined): string {
  if (!mode) return 'bridge';
  if (mode.mode === 'container') return `container:${mode.container}`;
  if (mode.mode === 'path') return `ns:${mode.path}`;
  if (mode.mode === 'bridge' && mode.network && mode.network !== 'bridge') return mode.network;
  return mode.mode === 'private' ? 'bridge' : mode.mode;
}

export interface AttachedNetwork {
  netnsPath: string;
  hostsEntries: string[];
  setup: NetworkSetup;
}

/** True for --network none: the launcher creates the namespace and brings lo up (no netns file needed). */
export function isLoopbackOnly(opts: RunOptions): boolean {
  return opts.network?.mode === 'none';
}

/** Creates the container's own network namespace on the bridge; undefined for none, host and joined modes. */
export async function attachNetwork(
  ctx: EngineContext,
  record: ContainerRecord,
  opts: RunOptions,
  ports: PortSpecMapping[],
): Promise<AttachedNetwork | undefined> {
  const mode = opts.network ?? { mode: 'bridge' };
  if (mode.mode === 'host' || mode.mode === 'container' || mode.mode === 'path') {
    if (ports.length) {
      if (mode.mode !== 'path') throw new UsageError(`conflicting options: port publishing and the ${networkModeName(mode)} network mode`);
    }
    return undefined;
  }
  if (mode.mode === 'none') return undefined;
  const network = await resolveNetwork(ctx, mode.mode === 'bridge' ? mode.network : undefined);
  const setup = await setupNetwork({
    ...networkPaths(ctx),
    id: record.id,
    mode: 'bridge',
    hostname: record.config.hostname,
    ports,
    ...(network ? { network } : {}),
    names: containerNetworkNames(record),
    ...(network && opts.networkAliases?.length ? { aliases: opts.networkAliases } : {}),
    hostsFiles: [join(new ContainerStore(ctx).paths(record.id).etc, 'hosts')],
  });
  await recordAttachmentEvents(ctx, 'connect', record.id, attachmentsOf(setup).map((a) => a.network), networkRegistry(ctx));
  // On a user network the container resolves its own name too, as its peers do.
  const ownNames = network ? [...containerNetworkNames(record), ...(opts.networkAliases ?? [])] : [record.config.hostname];
  return { netnsPath: setup.netnsPath, hostsEntries: hostsEntries(setup, ownNames), setup };
}

/**
 * After the container's hosts file is written: list its peers in it and it in
 * theirs. A pod member's file is kept by the pod's endpoint. No-op off user networks.
 */
export async function registerHosts(ctx: EngineContext, record: ContainerRecord, hostsFile: string): Promise<void> {
  const paths = networkPaths(ctx);
  const own = readEndpoint(paths.stateDir, record.id);
  const owner = own ?? (record.pod ? readEndpoint(paths.stateDir, record.pod) : undefined);
  if (!owner) return;
  if (!own) await setHostsFile({ ...paths, id: owner.id, hostsFile });
  await refreshHosts(attachmentsOf(owner).map((a) => a.network));
}

/** Tears down the container's (or pod's) network; its peers on user networks stop listing it. */
export async function detachNetwork(ctx: EngineContext, id: string): Promise<void> {
  const paths = networkPaths(ctx);
  const setup = readEndpoint(paths.stateDir, id);
  await teardownNetwork({ ...paths, id });
  if (setup) {
    const networks = attachmentsOf(setup).map((a) => a.network);
    // Docker's disconnect events are a container's; a pod's namespace leaving has none.
    if (new ContainerStore(ctx).get(id)) await recordAttachmentEvents(ctx, 'disconnect', id, networks, networkRegistry(ctx));
    await refreshHosts(networks);
  } else {
    // A pod member: the pod's endpoint stops keeping its hosts file.
    const pod = new ContainerStore(ctx).get(id)?.pod;
    if (pod) await setHostsFile({ ...paths, id: pod, hostsFile: join(new ContainerStore(ctx).paths(id).etc, 'hosts'), remove: true });
  }
}

/** Namespace files for container:NAME modes: the other container's netns file, or its live process' namespaces. */
export function resolveJoinedNamespaces(containers: Containers, opts: RunOptions): RunOptions['namespacePaths'] {
  const out: NonNullable<RunOptions['namespacePaths']> = {};
  const kinds = ['network', 'ipc', 'uts', 'pid'] as const;
  for (const kind of kinds) {
    const mode = opts[kind];
    if (mode?.mode !== 'container' || !mode.container) continue;
    const other = containers.lookup(mode.container);
    if (kind === 'network' && other.hostConfig.networkMode === 'host') {
      throw new UsageError(`cannot join the network of container ${mode.container}: it uses the host's network; use --network host`);
    }
    // Bridge and user networks: the other container's namespace is a pinned file that outlives its process.
    if (kind === 'network' && readEndpoint(networkPaths(containers.ctx).stateDir, other.id)) {
      out.network = netnsPath(containers.ctx.runroot, other.id);
      continue;
    }
    const state = containers.state(other);
    if (state.status !== 'running' || !state.pid) throw new StateError(`cannot join container ${mode.container}: it is not running`);
    const proc = { network: 'net', ipc: 'ipc', uts: 'uts', pid: 'pid' }[kind];
    out[kind] = `/proc/${state.pid}/ns/${proc}`;
  }
  return out;
}

/** "0.0.0.0:8080->80/tcp" for each port the container publishes (ps, port). */
export function publishedPorts(ctx: EngineContext, id: string): string[] {
  return (readEndpoint(networkPaths(ctx).stateDir, id)?.ports ?? []).map(formatPortMapping);
}
