// After a reboot the runroot (a tmpfs) is empty: network namespace files, veths and
// leases are gone while containers under --root remain. Starting such a container
// rebuilds what it joins, at the same address and with the same host ports, so its
// bundle (which names the netns file by path) and its /etc/hosts stay valid.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachmentsOf, connectEndpoint, isNetnsMounted, readEndpoint, setupNetwork, teardownNetwork, type PortSpecMapping } from '../network/index.js';
import type { ContainerRecord } from './container-store.js';
import { networkPaths, networkRegistry } from './container-network.js';
import { recordAttachmentEvents } from './network-events.js';
import { refreshHosts } from './network-hosts.js';
import type { EngineContext } from './context.js';
import { ensurePodReady } from './pod-join.js';
import { PodStore } from './pod-store.js';

export async function reviveNetwork(ctx: EngineContext, record: ContainerRecord, etcDir: string): Promise<void> {
  if (record.pod) {
    await ensurePodReady(ctx, new PodStore(ctx).lookup(record.pod));
    return;
  }
  const paths = networkPaths(ctx);
  const endpoint = readEndpoint(paths.stateDir, record.id);
  // Only containers with a netns of their own on a bridge have one to rebuild.
  if (!endpoint || endpoint.mode !== 'bridge' || isNetnsMounted(endpoint.netnsPath)) return;
  const ports = endpoint.ports as PortSpecMapping[];
  // User networks' host-wide records lived in /run too: this root's copies put them back before their bridges return.
  if (endpoint.network || endpoint.extra?.length) await networkRegistry(ctx).list();
  await teardownNetwork({ ...paths, id: record.id });
  const first = endpoint.network;
  const setup = {
    ...paths,
    id: record.id,
    mode: 'bridge' as const,
    hostname: record.config.hostname,
    ports,
    // The same network(s), names and hosts files as before (a user network, not the default one).
    ...(first ? { network: first } : {}),
    ...(endpoint.names ? { names: endpoint.names } : {}),
    ...(first && endpoint.aliases?.[first.name] ? { aliases: endpoint.aliases[first.name] } : {}),
    ...(endpoint.hostsFiles ? { hostsFiles: endpoint.hostsFiles } : {}),
  };
  let revived;
  try {
    revived = await setupNetwork({ ...setup, ...(endpoint.ip ? { ip: endpoint.ip } : {}) });
  } catch (err) {
    if (!endpoint.ip) throw err;
    revived = await setupNetwork(setup); // its old address is taken now: any free one will do
  }
  if (endpoint.ip && revived.ip && revived.ip !== endpoint.ip) {
    // The container's own line in its hosts file (bind-mounted: rewrite in place, same inode).
    const hosts = join(etcDir, 'hosts');
    writeFileSync(hosts, readFileSync(hosts, 'utf8').split(endpoint.ip).join(revived.ip));
  }
  for (const x of endpoint.extra ?? []) {
    const aliases = endpoint.aliases?.[x.network.name];
    const again = { ...paths, id: record.id, network: x.network, ...(aliases ? { aliases } : {}) };
    await connectEndpoint({ ...again, ip: x.ip }).catch(() => connectEndpoint(again));
  }
  const networks = attachmentsOf(readEndpoint(paths.stateDir, record.id) ?? revived).map((a) => a.network);
  // The reboot took the old attachments (and the events log, in the runroot) with it: this start joins them anew.
  await recordAttachmentEvents(ctx, 'connect', record.id, networks, networkRegistry(ctx));
  await refreshHosts(networks);
}
