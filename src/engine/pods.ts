// Pods behind `tsrun pod ...` (and, later, tsrkt): a set of containers that share
// the network, IPC and UTS namespaces the pod holds, with ports published on the
// pod and a cgroup that is every member's parent. No daemon and no pause
// process (see pod-namespaces.ts): the pod is a record on disk plus pinned
// namespace files; its members are the containers whose record says `pod: <id>`,
// and its state is derived from theirs every time it is asked for.
import { join } from 'node:path';
import { listCgroups, openCgroup } from '../cgroup/index.js';
import { resourcesFromFlags } from './container-resources.js';
import { ConflictError, describeError, StateError, TsrunError, UsageError } from '../errors.js';
import { listEndpoints, parsePortMappings, readEndpoint, repairNetworks, type PortMapping, type RepairReport } from '../network/index.js';
import { ensureDir } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { parseSignal } from '../util/signals.js';
import { bridgeConfigOf, detachNetwork, networkPaths, networkRegistry, resolveNetwork } from './container-network.js';
import type { ContainerState } from './container-store.js';
import type { Containers, ContainerView } from './containers.js';
import { layout, type EngineContext } from './context.js';
import { launcherFor } from './launchers.js';
import { ensurePodReady, podCgroupPath } from './pod-join.js';
import { listPodRuntimeDirs, podNamespacePaths, removePodNamespaces } from './pod-namespaces.js';
import { PodStore, type PodNetworkMode, type PodRecord, type PodShare } from './pod-store.js';

export type { PodNetworkMode, PodRecord, PodShare } from './pod-store.js';
export { podCgroupPath } from './pod-join.js';

/** Podman's pod states (no Paused: tsrun has no pause verb). */
export type PodStatus = 'Created' | 'Running' | 'Degraded' | 'Exited';

export const DEFAULT_SHARE: PodShare[] = ['ipc', 'net', 'uts'];

/**
 * A pod's state from its members' as Podman derives it: no members or all
 * created -> Created; all running -> Running; some running -> Degraded; none
 * running and at least one exited -> Exited.
 */
export function podStatus(members: ContainerState['status'][]): PodStatus {
  const running = members.filter((s) => s === 'running').length;
  if (members.length > 0 && running === members.length) return 'Running';
  if (running > 0) return 'Degraded';
  if (members.some((s) => s === 'exited')) return 'Exited';
  return 'Created';
}

/** --share "ipc,net,uts" (Podman's default), "" or "none" for nothing; pid and cgroup are refused with a reason. */
export function parsePodShare(value: string | undefined): PodShare[] {
  if (value === undefined) return [...DEFAULT_SHARE];
  const out = new Set<PodShare>();
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (raw === 'none') continue;
    if (raw === 'net' || raw === 'ipc' || raw === 'uts') out.add(raw);
    else if (raw === 'pid') throw new UsageError('--share pid is not supported: a PID namespace dies with its init, and tsrun pods have no infra process to hold it');
    else if (raw === 'cgroup') throw new UsageError('--share cgroup is not supported: members already share the pod\'s cgroup parent');
    else throw new UsageError(`invalid --share "${raw}": use a comma-separated list of net, ipc, uts`);
  }
  return DEFAULT_SHARE.filter((s) => out.has(s));
}

export function parsePodNetwork(value: string | undefined): PodNetworkMode {
  if (value === undefined || value === '' || value === 'bridge' || value === 'default') return 'bridge';
  if (value === 'none' || value === 'host') return value;
  parsePodNetworks(value); // names of user networks: a bridge of their own
  return 'bridge';
}

/**
 * The user networks in a pod's --network: "NAME" or "a,b" (the first one is
 * eth0 and carries the default route); "bridge"/"default" in a list stands for
 * the default network. Undefined when the pod is on the default network only.
 */
export function parsePodNetworks(value: string | undefined): string[] | undefined {
  if (value === undefined || value === '' || value === 'bridge' || value === 'default' || value === 'none' || value === 'host') return undefined;
  const names = value.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (s === 'default' ? 'bridge' : s));
  for (const n of names) {
    if (n === 'none' || n === 'host') throw new UsageError(`invalid --network "${value}" for a pod: ${n} cannot be combined with other networks`);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(n)) throw new UsageError(`invalid --network "${value}" for a pod: "${n}" is not a network name`);
  }
  if (new Set(names).size !== names.length) throw new UsageError(`invalid --network "${value}" for a pod: a network is named twice`);
  return names;
}

export function parsePodExitPolicy(value: string | undefined): 'continue' | 'stop' {
  if (value === undefined || value === 'continue' || value === 'stop') return value ?? 'continue';
  throw new UsageError(`invalid --exit-policy "${value}": use continue or stop`);
}

export interface PodCreateRequest {
  name?: string;
  /** Default: the pod's name (Podman's choice). */
  hostname?: string;
  /** --share value; default ipc,net,uts. */
  share?: string;
  /** -p specs, Docker/Podman syntax. */
  publish?: string[];
  network?: string;
  /** "key=value" items. */
  labels?: string[];
  exitPolicy?: string;
  createCommand?: string[];
  /** run's limit flags for the pod's cgroup (memory, cpus, pidsLimit... as commander names them). */
  limits?: Record<string, unknown>;
  onWarning?: (message: string) => void;
}

export interface PodView {
  record: PodRecord;
  status: PodStatus;
  /** Oldest first. */
  members: ContainerView[];
}

export interface PodRepairReport {
  /** Pods whose creation was cut short (their leftovers were removed). */
  halfCreated: string[];
  /** Namespace dirs under <runroot>/pods that belonged to no pod. */
  namespaces: string[];
  /** Pod cgroups that belonged to no pod. */
  cgroups: string[];
  /** Launcher states (and their cgroups) of stopped containers whose record is gone. */
  containerStates: string[];
  network: RepairReport;
}

export class Pods {
  readonly store: PodStore;

  constructor(readonly ctx: EngineContext, readonly containers: Containers) {
    this.store = new PodStore(ctx);
  }

  /** Serialises start/stop/rm of one pod across processes. */
  private async withPodLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const lock = await FileLock.acquire(join(ensureDir(layout(this.ctx).locks), `pod-${id}.lock`));
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  async create(req: PodCreateRequest): Promise<PodRecord> {
    const share = parsePodShare(req.share);
    const networkMode = parsePodNetwork(req.network);
    const networks = parsePodNetworks(req.network);
    for (const n of networks ?? []) await resolveNetwork(this.ctx, n); // an unknown name fails before anything is made
    const exitPolicy = parsePodExitPolicy(req.exitPolicy);
    const publish = req.publish ?? [];
    const ports = parsePortMappings(publish);
    if (ports.length > 0 && (!share.includes('net') || networkMode !== 'bridge')) {
      throw new UsageError(`published ports need the pod to share its network namespace on a bridge network (--share net, --network bridge)`);
    }
    if (req.hostname !== undefined && !share.includes('uts')) throw new UsageError('--hostname needs the pod to share its UTS namespace (--share uts)');
    if (req.name !== undefined) PodStore.validateName(req.name);
    const limitWarnings: string[] = [];
    const resources = resourcesFromFlags(req.limits ?? {}, limitWarnings);
    for (const w of limitWarnings) req.onWarning?.(w);
    await this.repair(); // a kill -9 of an earlier create or rm leaves nothing behind for long

    const id = PodStore.newId();
    const name = req.name ?? `${id.slice(0, 12)}-pod`;
    const hostname = req.hostname ?? name;
    if (hostname.length > 64 || !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/.test(hostname)) {
      throw new UsageError(`invalid hostname format: "${hostname}"`);
    }
    const record: PodRecord = {
      id,
      name,
      created: new Date().toISOString(),
      hostname,
      share,
      networkMode,
      ...(networks ? { networks } : {}),
      ports: ports.map(({ hostPortEnd: _e, ...m }) => m),
      labels: labelsOf(req.labels),
      exitPolicy,
      cgroupParent: podCgroupPath(id),
      ...(Object.keys(resources).length > 0 ? { resources } : {}),
      ...(req.createCommand ? { createCommand: req.createCommand } : {}),
    };
    const lease = await this.store.creationLease();
    try {
      this.store.claimName(name, id);
      try {
        this.store.beginCreate(record);
        // Ranges and port 0 are resolved by the network module: ask it with the specs, keep what it chose.
        await ensurePodReady(this.ctx, { ...record, ports });
        const endpoint = readEndpoint(networkPaths(this.ctx).stateDir, id);
        if (endpoint) record.ports = endpoint.ports;
        this.store.commitCreate(record);
      } catch (err) {
        await this.teardown(record).catch(() => undefined);
        this.store.abortCreate(record);
        throw err;
      }
    } finally {
      lease.release();
    }
    return record;
  }

  lookup(nameOrId: string): PodRecord {
    return this.store.lookup(nameOrId);
  }

  /** The pod's containers, oldest first, with their live state. */
  members(pod: PodRecord): ContainerView[] {
    return this.containers.store
      .list()
      .filter((r) => r.pod === pod.id)
      .map((record) => ({ record, state: this.containers.state(record) }))
      .sort((a, b) => a.record.created.localeCompare(b.record.created));
  }

  view(pod: PodRecord): PodView {
    const members = this.members(pod);
    return { record: pod, status: podStatus(members.map((m) => m.state.status)), members };
  }

  /** Every pod, newest first. */
  list(): PodView[] {
    return this.store
      .list()
      .map((p) => this.view(p))
      .sort((a, b) => b.record.created.localeCompare(a.record.created));
  }

  /** Published ports as the network module resolved them (the record keeps the same after a rebuild). */
  ports(pod: PodRecord): PortMapping[] {
    return readEndpoint(networkPaths(this.ctx).stateDir, pod.id)?.ports ?? pod.ports;
  }

  /** Starts every member that is not running, oldest first; rebuilds missing namespaces first. */
  async start(pod: PodRecord): Promise<void> {
    await this.withPodLock(pod.id, async () => {
      await ensurePodReady(this.ctx, pod);
      const failures: string[] = [];
      for (const m of this.members(pod)) {
        if (m.state.status === 'running') continue;
        try {
          await this.containers.start(m.record, { attach: false });
        } catch (err) {
          failures.push(`${m.record.name}: ${describeError(err)}`);
        }
      }
      if (failures.length > 0) throw new StateError(`pod ${pod.name}: some containers failed to start: ${failures.join('; ')}`);
    });
  }

  /** Stops the running members (each with its stop signal and timeout); the namespaces stay for the next start. */
  async stop(pod: PodRecord, timeoutSec?: number): Promise<void> {
    await this.withPodLock(pod.id, async () => {
      const running = this.members(pod).filter((m) => m.state.status === 'running');
      await Promise.all(running.map((m) => this.containers.stop(m.record, timeoutSec)));
    });
  }

  async kill(pod: PodRecord, signal: string = 'SIGKILL'): Promise<void> {
    parseSignal(signal); // refuse a bad signal before touching anything
    const running = this.members(pod).filter((m) => m.state.status === 'running');
    if (running.length === 0) throw new StateError(`pod ${pod.name} has no running containers to kill`);
    for (const m of running) await this.containers.kill(m.record, signal);
  }

  async restart(pod: PodRecord, timeoutSec?: number): Promise<void> {
    await this.stop(pod, timeoutSec);
    await this.start(pod);
  }

  /**
   * Removes the members (running ones only with force), then the pod's network,
   * namespaces, cgroup and record. Each step tolerates what is already gone, so
   * `pod rm -f` after a kill -9 halfway finishes the job.
   */
  async remove(pod: PodRecord, opts: { force?: boolean; timeoutSec?: number } = {}): Promise<void> {
    await this.withPodLock(pod.id, async () => {
      if (!this.store.get(pod.id)) return;
      const members = this.members(pod);
      const running = members.filter((m) => m.state.status === 'running');
      if (running.length > 0 && !opts.force) {
        throw new ConflictError(
          `pod ${pod.name} has running containers (${running.map((m) => m.record.name).join(', ')}): stop the pod or use --force to remove it`,
        );
      }
      if (opts.timeoutSec !== undefined) await Promise.all(running.map((m) => this.containers.stop(m.record, opts.timeoutSec)));
      for (const m of members) await this.containers.remove(m.record, { force: true });
      await this.teardown(pod);
      this.store.remove(pod);
    });
  }

  /** Network, IPC/UTS/shm and cgroup of a pod; members must be gone. */
  private async teardown(pod: PodRecord): Promise<void> {
    const errors: unknown[] = [];
    await detachNetwork(this.ctx, pod.id).catch((e) => errors.push(e)); // peers on user networks forget the pod too
    try {
      removePodNamespaces(this.ctx, pod.id);
    } catch (e) {
      errors.push(e);
    }
    try {
      openCgroup(pod.cgroupParent).destroy();
    } catch (e) {
      errors.push(e);
    }
    if (errors.length > 0) throw new TsrunError('POD_TEARDOWN', `incomplete teardown of pod ${pod.name}: ${describeError(errors[0])}`, { cause: errors[0] });
  }

  /** Removes pods none of whose members runs (Podman's `pod prune`). */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const v of this.list()) {
      if (v.status === 'Running' || v.status === 'Degraded') continue;
      await this.remove(v.record, { force: true });
      removed.push(v.record.id);
    }
    return removed;
  }

  /**
   * Cleans what a kill -9 leaves: half-created pods, namespace dirs and pod
   * cgroups of pods that no longer exist, and the network endpoints (netns,
   * veth, nft entries, lease) of this root whose owner is neither a container
   * nor a pod. The network module records an endpoint before it creates
   * anything, so that finds every leftover of this root. `sweepNetwork` also
   * removes veths on the bridge and published ports that no endpoint of this
   * root accounts for (repairNetworks' sweep): right when this root is the only
   * tsrun on the host, wrong when other roots share the bridge (tests, other
   * users), whose live containers it would cut off. Skipped while another
   * process creates a pod.
   */
  async repair(opts: { sweepNetwork?: boolean } = {}): Promise<PodRepairReport> {
    const report: PodRepairReport = {
      halfCreated: [],
      namespaces: [],
      cgroups: [],
      containerStates: [],
      network: { endpoints: [], netns: [], veths: [], ports: [], leases: [] },
    };
    const lock = this.store.tryRepairLock();
    if (!lock) return report;
    try {
      report.halfCreated = this.store.repairLocked();
      for (const id of listPodRuntimeDirs(this.ctx)) {
        if (this.store.exists(id)) continue;
        removePodNamespaces(this.ctx, id);
        report.namespaces.push(podNamespacePaths(this.ctx, id).dir);
      }
      let cgroups: string[] = [];
      try {
        cgroups = listCgroups('/tsrun/pods');
      } catch {
        cgroups = [];
      }
      for (const path of cgroups) {
        const id = path.split('/').pop()!;
        if (this.store.exists(id)) continue;
        const cg = openCgroup(path);
        if (cg.pids().length > 0) continue; // someone's processes: never ours to kill here
        cg.destroy();
        report.cgroups.push(path);
      }
      // The launcher's state of a container whose record is gone (rm deletes the state first,
      // so only a crash or an older tsrun leaves one): delete it as rm would, cgroup included.
      // Only stopped ones: a live process without a record is someone's, never ours to kill here.
      const launcher = launcherFor(this.ctx, 'tsrun');
      for (const state of launcher.list()) {
        if (state.status !== 'stopped' || this.containers.store.exists(state.id) || this.store.exists(state.id)) continue;
        try {
          await launcher.delete(state.id, true, { skipHooks: true });
          report.containerStates.push(state.id);
        } catch {
          // left for the next prune
        }
      }
      const isLive = (id: string) => this.containers.store.exists(id) || this.store.exists(id);
      const paths = networkPaths(this.ctx);
      if (opts.sweepNetwork) {
        const userNetworks = (await networkRegistry(this.ctx).list()).map(bridgeConfigOf);
        report.network = await repairNetworks({ ...paths, isLive, userNetworks });
      } else {
        for (const e of listEndpoints(paths.stateDir)) {
          if (isLive(e.id)) continue;
          await detachNetwork(this.ctx, e.id); // its peers on user networks forget it too
          report.network.endpoints.push(e.id);
        }
      }
    } finally {
      lock.release();
    }
    return report;
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
