// Docker's network events in the events log: create and destroy of a user network, connect
// and disconnect of a container joining or leaving a network (the default one included, as
// Docker reports its "bridge"). Actor ID is the network's id; attributes are Docker's:
// container (on connect/disconnect), name and type (the driver, always bridge here).
import { createHash } from 'node:crypto';
import { DEFAULT_NETWORK, type BridgeNetworkConfig, type NetworkRegistry } from '../network/index.js';
import type { EngineContext } from './context.js';
import { recordEvent } from './events.js';

let defaultId: string | undefined;

/**
 * The default network's id: stable across calls and hosts, as a real id is for the network's life.
 * Computed on first use: hashing at load would load node:crypto at every start (~3 ms).
 */
export function defaultNetworkId(): string {
  return (defaultId ??= createHash('sha256').update(`tsrun-default-network:${DEFAULT_NETWORK.bridge}`).digest('hex'));
}

/** A network as its events name it. */
export interface NetworkActor {
  id: string;
  name: string;
}

export type NetworkAction = 'create' | 'destroy' | 'connect' | 'disconnect';

export function recordNetworkEvent(ctx: EngineContext, action: NetworkAction, net: NetworkActor, containerId?: string): void {
  // Keys in Go's sorted map order, so json prints them as Docker does.
  recordEvent(ctx, 'network', action, net.id, { ...(containerId ? { container: containerId } : {}), name: net.name, type: 'bridge' });
}

/** The id and name of the network behind a bridge config (the default one is Docker's "bridge"). */
async function actorOf(config: BridgeNetworkConfig, registry: NetworkRegistry): Promise<NetworkActor> {
  if (config.name === DEFAULT_NETWORK.name) return { id: defaultNetworkId(), name: 'bridge' };
  const def = await registry.find(config.name).catch(() => undefined);
  // A definition gone from the registry still names the network its container left.
  return def ? { id: def.id, name: def.name } : { id: config.name, name: config.name };
}

/** Records `action` (connect or disconnect) of container `containerId` for each of `networks`; never throws. */
export async function recordAttachmentEvents(
  ctx: EngineContext,
  action: 'connect' | 'disconnect',
  containerId: string,
  networks: BridgeNetworkConfig[],
  registry: NetworkRegistry,
): Promise<void> {
  for (const config of networks) {
    recordNetworkEvent(ctx, action, await actorOf(config, registry), containerId);
  }
}
