// tsrun pod inspect POD...: Podman's JSON (one object for one pod, an array for several)
import type { Command } from 'commander';
import { networkPaths } from '../../../engine/container-network.js';
import { podNamespacePaths } from '../../../engine/pod-namespaces.js';
import type { Pods, PodView } from '../../../engine/pods.js';
import { netnsPath, readEndpoint } from '../../../network/index.js';
import { action } from '../../common.js';
import { podsOf } from '../pod-access.js';
import { stdout } from '../../stdout.js';

function inspectPod(pods: Pods, v: PodView) {
  const { record } = v;
  const endpoint = readEndpoint(networkPaths(pods.ctx).stateDir, record.id);
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of pods.ports(record)) (bindings[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  const ns = podNamespacePaths(pods.ctx, record.id);
  const sharesNet = record.share.includes('net') && record.networkMode !== 'host';
  return {
    Id: record.id,
    Name: record.name,
    Created: record.created,
    CreateCommand: record.createCommand ?? [],
    ExitPolicy: record.exitPolicy,
    State: v.status,
    Hostname: record.hostname,
    Labels: record.labels,
    CreateCgroup: true,
    CgroupParent: record.cgroupParent.split('/').slice(0, -1).join('/') || '/',
    CgroupPath: record.cgroupParent,
    CreateInfra: false,
    SharedNamespaces: record.share,
    NumContainers: v.members.length,
    Containers: v.members.map((m) => ({ Id: m.record.id, Name: m.record.name, State: m.state.status })),
    InfraConfig: {
      PortBindings: bindings,
      HostNetwork: record.networkMode === 'host',
      NetworkMode: record.networkMode,
      Networks: sharesNet && record.networkMode === 'bridge' ? (record.networks ?? ['bridge']).map((n) => (n === 'bridge' ? 'tsrun' : n)) : [],
    },
    // tsrun's own: where the pod's namespaces are pinned (no infra process holds them).
    Namespaces: {
      ...(sharesNet ? { net: netnsPath(pods.ctx.runroot, record.id) } : {}),
      ...(record.share.includes('ipc') ? { ipc: ns.ipc, shm: ns.shm } : {}),
      ...(record.share.includes('uts') ? { uts: ns.uts } : {}),
    },
    NetworkSettings: endpoint ? { IPAddress: endpoint.ip ?? '', Gateway: endpoint.gateway ?? '', MacAddress: endpoint.mac ?? '', IPPrefixLen: endpoint.prefixLength ?? 0 } : {},
  };
}

export function registerPodInspect(pod: Command): void {
  pod
    .command('inspect')
    .description('display the configuration and state of pods')
    .argument('<pod...>')
    .action(
      action('tsrun', (names: string[], _flags: unknown, self: Command) => {
        const pods = podsOf(self);
        const out = names.map((n) => inspectPod(pods, pods.view(pods.lookup(n))));
        stdout.write(JSON.stringify(out.length === 1 ? out[0] : out, null, 4) + '\n');
      }),
    );
}
