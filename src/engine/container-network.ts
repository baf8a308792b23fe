// A container's network and the namespaces it joins, per Docker's modes:
// bridge (default: a veth on tsrun0 with a leased address), none (only lo),
// host (the host's stack), container:NAME (another container's namespaces).
import { join } from 'node:path';
import { StateError, UsageError } from '../errors.js';
import { formatPortMapping, hostsEntries, netnsPath, readEndpoint, setupNetwork, teardownNetwork, type NetworkSetup, type PortSpecMapping } from '../network/index.js';
import type { NamespaceMode, RunOptions } from '../spec/index.js';
import type { ContainerRecord } from './container-store.js';
import type { Containers } from './containers.js';
import type { EngineContext } from './context.js';

export function networkPaths(ctx: EngineContext) {
  return { stateDir: join(ctx.root, 'network'), runroot: ctx.runroot };
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
  if (mode.mode === 'bridge' && mode.network && mode.network !== 'bridge' && mode.network !== 'tsrun') {
    throw new UsageError(`network ${mode.network} not found: user-defined networks are not supported yet`);
  }
  const setup = await setupNetwork({
    ...networkPaths(ctx),
    id: record.id,
    mode: 'bridge',
    hostname: record.config.hostname,
    ports,
  });
  return { netnsPath: setup.netnsPath, hostsEntries: hostsEntries(setup, [record.config.hostname]), setup };
}

export async function detachNetwork(ctx: EngineContext, id: string): Promise<void> {
  await teardownNetwork({ ...networkPaths(ctx), id });
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
    if (kind === 'network' && other.hostConfig.networkMode === 'bridge') {
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
