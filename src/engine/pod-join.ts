// What `run --pod P` changes about a container: it joins the namespaces the pod
// holds (network, IPC, UTS per the pod's `share`), takes the pod's hostname and
// /dev/shm, and its cgroup goes under the pod's. Flags that would configure what
// the pod owns are refused with Podman's wording. Kept apart from pods.ts so
// containers.ts can use it without an import cycle.
import { openCgroup } from '../cgroup/index.js';
import { UsageError } from '../errors.js';
import { attachmentsOf, connectEndpoint, DEFAULT_NETWORK, netnsPath, readEndpoint, setupNetwork } from '../network/index.js';
import type { RunOptions } from '../spec/index.js';
import { networkPaths, resolveNetwork } from './container-network.js';
import type { EngineContext } from './context.js';
import { ensurePodNamespaces, podNamespacePaths } from './pod-namespaces.js';
import { PodStore, type PodRecord } from './pod-store.js';

export function podCgroupPath(id: string): string {
  return `/tsrun/pods/${id}`;
}

/**
 * Brings the pod's namespaces, network and cgroup into place; idempotent, so it
 * also rebuilds what a reboot or a kill -9 took away (host ports chosen at
 * creation are asked for again).
 */
export async function ensurePodReady(ctx: EngineContext, pod: PodRecord): Promise<void> {
  const cgroup = openCgroup(pod.cgroupParent);
  cgroup.create();
  // The pod's own limits hold all its members together (their cgroups are children of this one).
  if (pod.resources) cgroup.apply(pod.resources);
  await ensurePodNamespaces(ctx, pod.id, { ipc: pod.share.includes('ipc'), uts: pod.share.includes('uts'), hostname: pod.hostname });
  if (pod.share.includes('net') && pod.networkMode !== 'host') {
    const [first, ...more] = pod.networkMode === 'bridge' ? (pod.networks ?? []) : [];
    const firstNet = await resolveNetwork(ctx, first);
    const setup = await setupNetwork({
      ...networkPaths(ctx),
      id: pod.id,
      mode: pod.networkMode === 'none' ? 'none' : 'bridge',
      hostname: pod.hostname,
      ports: pod.ports,
      ...(firstNet ? { network: firstNet } : {}),
      names: [...new Set([pod.name, pod.hostname])],
    });
    // More than one network (tsrkt --net=a,b): the others as further interfaces.
    for (const name of more) {
      const net = (await resolveNetwork(ctx, name)) ?? DEFAULT_NETWORK;
      if (attachmentsOf(readEndpoint(networkPaths(ctx).stateDir, pod.id) ?? setup).some((a) => a.network.name === net.name)) continue;
      await connectEndpoint({ ...networkPaths(ctx), id: pod.id, network: net });
    }
  }
}

const given = (v: unknown) => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);

/** Refuses the run/create flags that configure what the pod owns. */
export function checkPodMemberFlags(pod: PodRecord, flags: Record<string, unknown>): void {
  const net = pod.share.includes('net');
  if (net && (given(flags.publish) || given(flags.publishAll))) {
    throw new UsageError(
      `invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod (pod ${pod.name})`,
    );
  }
  if (net && (given(flags.network) || given(flags.net))) {
    throw new UsageError(`invalid config provided: networks must be defined when the pod is created: network cannot be configured when it is shared with a pod (pod ${pod.name})`);
  }
  if (pod.share.includes('uts') && (given(flags.hostname) || given(flags.uts))) {
    throw new UsageError(`invalid config provided: cannot set the hostname or --uts when joining the pod's UTS namespace (pod ${pod.name}): set --hostname on pod create`);
  }
  if (pod.share.includes('ipc') && given(flags.ipc)) {
    throw new UsageError(`invalid config provided: cannot set --ipc when joining the pod's IPC namespace (pod ${pod.name})`);
  }
  if (given(flags.cgroupParent)) {
    throw new UsageError(`invalid config provided: --cgroup-parent cannot be set for a container in a pod (pod ${pod.name} is the cgroup parent)`);
  }
}

/**
 * Resolves `podRef`, makes sure its namespaces exist and points `opts` at them
 * (mutated in place, after parseRunFlags). Returns the pod's id for the container record.
 */
export async function joinPod(ctx: EngineContext, podRef: string, opts: RunOptions, flags: Record<string, unknown>): Promise<string> {
  const pod = new PodStore(ctx).lookup(podRef);
  checkPodMemberFlags(pod, flags);
  await ensurePodReady(ctx, pod);
  const ns = podNamespacePaths(ctx, pod.id);
  if (pod.share.includes('net')) {
    if (pod.networkMode === 'host') opts.network = { mode: 'host' };
    else {
      opts.network = { mode: 'path', path: netnsPath(ctx.runroot, pod.id) };
      const ip = readEndpoint(networkPaths(ctx).stateDir, pod.id)?.ip;
      if (ip) opts.addHosts = [...(opts.addHosts ?? []), `${pod.hostname}:${ip}`];
    }
  }
  if (pod.share.includes('ipc')) {
    opts.ipc = { mode: 'path', path: ns.ipc };
    opts.shmSource = ns.shm;
  }
  if (pod.share.includes('uts')) {
    opts.uts = { mode: 'path', path: ns.uts };
    opts.hostname = pod.hostname;
  }
  opts.cgroupParent = pod.cgroupParent;
  return pod.id;
}
