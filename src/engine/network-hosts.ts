// Name resolution on user networks: every member's /etc/hosts ends with a block
// listing its peers (the other members of each user network it is on). The
// file is bind-mounted into the running container, so it is rewritten in place
// (truncate and write the same inode): a rename would leave the container
// looking at the old file. The default network keeps Docker's behaviour and
// resolves no peers.
import { readFileSync, writeFileSync } from 'node:fs';
import { attachmentsOf, DEFAULT_NETWORK, leaseOwner, networkMembers, readEndpoint, withHostsLock, type BridgeNetworkConfig, type NetworkMember } from '../network/index.js';

/** First line of the block tsrun owns; everything from it to the end is rewritten. */
export const PEERS_MARK = '# tsrun: peers on user networks (kept up to date by tsrun)';

export function isUserNetwork(net: Pick<BridgeNetworkConfig, 'name'>): boolean {
  return net.name !== DEFAULT_NETWORK.name;
}

/** `text` with its peers block replaced by one listing `peers` (no block when there are none). */
export function withPeersBlock(text: string, peers: { ip: string; names: string[] }[]): string {
  const at = text.indexOf(PEERS_MARK);
  let base = at < 0 ? text : text.slice(0, at);
  if (base.length > 0 && !base.endsWith('\n')) base += '\n';
  const lines = peers.filter((p) => p.names.length > 0).map((p) => `${p.ip}\t${[...new Set(p.names)].join(' ')}`);
  return lines.length === 0 ? base : `${base}${PEERS_MARK}\n${lines.join('\n')}\n`;
}

/** The peers of `self` across the user networks it is on, from a per-refresh cache of each network's members. */
function peersOf(self: NetworkMember, membersOf: (net: BridgeNetworkConfig) => NetworkMember[]): { ip: string; names: string[] }[] {
  const out: { ip: string; names: string[] }[] = [];
  for (const a of self.setup ? attachmentsOf(self.setup) : []) {
    if (!isUserNetwork(a.network)) continue;
    for (const m of membersOf(a.network)) if (m.owner !== self.owner) out.push({ ip: m.ip, names: m.names });
  }
  return out;
}

/** Rewrite one file in place; false when it is gone (its container was removed). */
function rewriteInPlace(path: string, peers: { ip: string; names: string[] }[]): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const next = withPeersBlock(text, peers);
  if (next !== text) writeFileSync(path, next); // O_TRUNC on the existing inode
  return true;
}

/**
 * Bring the hosts files of every member of `networks` up to date, and those of
 * `alsoOwners` (one that just left a network is no longer a member of it).
 */
export async function refreshHosts(networks: BridgeNetworkConfig[], alsoOwners: { stateDir: string; id: string }[] = []): Promise<void> {
  const user = networks.filter(isUserNetwork);
  if (user.length === 0) return;
  await withHostsLock(async () => {
    const cache = new Map<string, NetworkMember[]>();
    const membersOf = (net: BridgeNetworkConfig) => {
      if (!cache.has(net.name)) cache.set(net.name, networkMembers(net));
      return cache.get(net.name)!;
    };
    const done = new Set<string>();
    for (const net of user)
      for (const m of membersOf(net)) {
        if (done.has(m.owner)) continue;
        done.add(m.owner);
        const peers = peersOf(m, membersOf);
        for (const file of m.hostsFiles) rewriteInPlace(file, peers);
      }
    for (const o of alsoOwners) {
      const owner = leaseOwner(o.stateDir, o.id);
      const setup = readEndpoint(o.stateDir, o.id);
      if (done.has(owner) || !setup) continue;
      const self: NetworkMember = { owner, stateDir: o.stateDir, id: o.id, ip: '', names: [], hostsFiles: setup.hostsFiles ?? [], setup };
      const peers = peersOf(self, membersOf);
      for (const file of self.hostsFiles) rewriteInPlace(file, peers);
    }
  });
}
