// The container lifecycle behind `tsrun run/create/start/stop/kill/rm/...`.
// It wires the layers: the image store gives the layer trees, snapshot mounts the
// overlay, spec turns image + flags into config.json, and a launcher (our own C
// helper, or runc/crun) runs the bundle. There is no daemon: every call reads
// the state from disk and the launcher's monitor lock tells live from dead.
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { CannotInvokeError, CommandNotFoundError, ConflictError, NotFoundError, StateError, UsageError } from '../errors.js';
import type { ImageConfig } from '../oci/image.js';
import type { Process, Spec, State } from '../oci/runtime.js';
import { writeFileAtomic } from '../util/fs.js';
import { parseSignal } from '../util/signals.js';
import type { EngineContext } from './context.js';
import { ContainerStore, randomName, type ContainerMount, type ContainerRecord, type ContainerState, type RestartPolicy } from './container-store.js';
import { writeEtcFiles } from './etc-files.js';
import { launcherFor, type AnyLauncher, type ExitStatus } from './launchers.js';
import { resolveImage, type LocalImage, type PullPolicy } from './image-access.js';
import { openStore } from './pull.js';
import { treeSize } from './container-usage.js';
import { claimUnusedRootfs, isMounted, mountRootfs, removeRootfsUseLock, unmountRootfs, useRootfs } from './rootfs.js';
import { parseRestartPolicy, restartDelay, shouldRestart } from './restart.js';
import { forgetBackoff, holdBackoff, isWaitingOutBackoff } from './restart-backoff.js';
import { FileLock } from '../util/lock.js';
import { ensureDir } from '../util/fs.js';
import { layout } from './context.js';
import { applyEnv, buildExecProcess, buildSpec, composeArgs, imageVolumeRequests, parseExecFlags, parseRunFlags, resolveInRootfs, type MountRequest, type RunOptions } from '../spec/index.js';
import { attachNetwork, detachNetwork, isLoopbackOnly, networkModeName, registerHosts, resolveJoinedNamespaces } from './container-network.js';
import { connectAttachSocket, ExitHandoff, Launcher, LOOPBACK_UP_ANNOTATION, spawnBackoffWaiter, type AttachedSession } from '../runtime/index.js';
import { findInit } from './init.js';
import { reviveNetwork } from './network-revival.js';
import { parsePortMappings } from '../network/index.js';
import { joinPod } from './pod-join.js';
import { removeCgroupOf } from './container-resources.js';
import { afterPodMemberExit } from './rkt/exit-policy.js';
import { recordVolumeEvent, Volumes } from './volumes.js';
import { volumesFromRequests } from './volumes-from.js';
import { recordContainerEvent } from './events.js';
import { randomHex } from '../util/random.js';
import { crashPoint } from '../util/crash-point.js';

export interface CreateRequest {
  image: string;
  /** COMMAND and ARGs after the image name. */
  command: string[];
  /** commander's option object of `run`/`create` (see cli/docker/run-flags.ts). */
  flags: Record<string, unknown>;
  pull?: PullPolicy;
  platform?: string;
  /** Called before pulling a missing image (Docker prints "Unable to find image ..."). */
  onPull?: (reference: string) => void;
  onPullEvent?: (event: unknown) => void;
  /** Pod (name or id) to join; `flags.pod` (--pod) works too. */
  pod?: string;
}

/** How the monitor of a detached container calls back into tsrun once it exits. */
export interface ExitHook {
  /** argv prefix that runs this CLI: [node, script]. */
  cli: string[];
}

export interface ContainerView {
  record: ContainerRecord;
  state: ContainerState;
}

export class Containers {
  readonly store: ContainerStore;
  /** Non-fatal notes for the user (ignored flags, cgroup settings the host cannot honour); the CLI prints them. */
  onWarning?: (message: string, record?: ContainerRecord) => void;

  constructor(readonly ctx: EngineContext, private readonly exitHook?: ExitHook) {
    this.store = new ContainerStore(ctx);
  }

  /**
   * Serialises the steps that change a container's life across processes: start (from its rootfs
   * mount until the launcher has the container), the exit handlers, stop's end, rm, rename.
   */
  private async withContainerLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const lock = await this.containerLock(id);
    try {
      return await fn();
    } finally {
      this.releaseContainerLock(id, lock);
    }
  }

  private containerLock(id: string): Promise<FileLock> {
    return FileLock.acquire(join(this.locksDir(), `${id}.lock`));
  }

  /**
   * Lets go of the container's lock; its file goes too once the container does not exist (rm, an
   * --rm exit, or an exit hook or stop that came after the removal), so no lock file outlives it.
   */
  private releaseContainerLock(id: string, lock: FileLock): void {
    if (this.store.exists(id)) lock.release();
    else lock.releaseAndRemove();
  }

  private locksDir(): string {
    return ensureDir(layout(this.ctx).locks);
  }

  /** A tsrun command line on this engine's state (what the exit hooks run), or undefined without a CLI to run. */
  private tsrunCommand(...args: string[]): string[] | undefined {
    return this.exitHook && [...this.exitHook.cli, '--root', this.ctx.root, '--runroot', this.ctx.runroot, ...args];
  }

  /** Run by the container's monitor at its exit: ours, also in front of an external runtime's container (oci-binary.ts). */
  private exitCommand(record: ContainerRecord): string[] | undefined {
    return this.tsrunCommand('container', 'cleanup', record.id);
  }

  /**
   * Run by the monitor's exit command after a detached container exits: records the exit,
   * then removes the container (--rm) or restarts it as its policy says, with Docker's backoff
   * (waited out by the helper, which then runs `container restart-after-backoff`); a container
   * left stopped has its rootfs unmounted.
   */
  async afterExit(id: string): Promise<'removed' | 'stopped' | 'restarting'> {
    if (!this.exitHook) throw new StateError('afterExit is the exit command of a tsrun CLI: it needs that CLI to restart containers');
    const decision = await this.withContainerLock(id, async () => {
      const record = this.store.get(id);
      if (!record) return 'stopped' as const;
      if (this.state(record).status === 'running') return 'stopped' as const;
      if (isWaitingOutBackoff(this.ctx, record)) return 'restarting' as const; // this exit's wait runs already
      this.noteDie(record);
      const state = this.state(record);
      if (record.restarting) return 'restarting' as const; // `restart` starts it again itself
      record.state = { ...state, status: 'exited' };
      if (record.hostConfig.autoRemove) {
        await this.removeLocked(record, { force: true, volumes: true });
        return 'removed' as const;
      }
      const exitCode = state.exitCode ?? 0;
      if (!shouldRestart(record.hostConfig.restartPolicy, exitCode, record.restartCount, Boolean(record.manuallyStopped))) {
        this.store.save(record);
        this.releaseRootfsLocked(record);
        return 'stopped' as const;
      }
      const ranMs = Date.parse(state.finishedAt ?? new Date().toISOString()) - Date.parse(state.startedAt ?? record.created);
      const { delayMs, quickRestarts } = restartDelay(record.quickRestarts ?? 0, ranMs);
      // Held for the whole wait: with the record's mark, it is what makes ps and inspect say "restarting".
      const token = new Date(Date.now() + delayMs).toISOString();
      const hold = holdBackoff(this.ctx, id, token);
      if (!hold) return 'restarting' as const; // a wait with this very mark is held already
      record.quickRestarts = quickRestarts;
      record.restartCount += 1; // counted as the wait begins, as Docker's
      record.restartBackoff = { delayMs, restartAt: token };
      this.store.save(record);
      return { delayMs, hold, token };
    });
    // Its volumes' mounts go with their last live user (rm did it for a removed one); a restart mounts them again, as Docker.
    const stored = decision === 'removed' ? undefined : this.store.get(id);
    if (stored) await this.releaseVolumes(stored);
    if (typeof decision === 'string') {
      if (decision === 'stopped') await afterPodMemberExit(this, id); // pod exit rules (rkt's halt)
      return decision;
    }
    // The wait runs in the helper (a few hundred kB, not this ~45 MB process, which exits now):
    // it takes the hold over and then runs `container restart-after-backoff`.
    const argv = this.tsrunCommand('container', 'restart-after-backoff', id, decision.token)!;
    decision.hold.passToChild((fd) => spawnBackoffWaiter(fd, decision.delayMs, argv));
    return 'restarting';
  }

  /**
   * The end of a restart backoff: starts the container if the restart is still wanted, that is if
   * its record still carries this wait's mark (`token`): stop and rm -f take it away, and a later
   * exit's wait has another. Checked and started under the container's lock, so a stop that came
   * in time always wins.
   */
  async restartAfterBackoff(id: string, token: string): Promise<'restarted' | 'stopped'> {
    try {
      return await this.withContainerLock(id, async () => {
        const record = this.store.get(id);
        if (record?.restartBackoff?.restartAt !== token || record.manuallyStopped) return 'stopped' as const;
        delete record.restartBackoff; // saved with the start's state
        await this.startUnder(undefined, record, { attach: false, keepStopMark: true }); // under the lock held here
        return 'restarted' as const;
      });
    } finally {
      forgetBackoff(this.ctx, id, token);
    }
  }

  launcher(record: ContainerRecord): AnyLauncher {
    return launcherFor(this.ctx, record.hostConfig.runtime);
  }

  async create(req: CreateRequest): Promise<ContainerRecord> {
    const opts = parseRunFlags(req.flags);
    for (const w of opts.warnings ?? []) this.onWarning?.(w);
    const restartPolicy = parseRestartPolicy(req.flags.restart as string | undefined);
    const autoRemove = Boolean(req.flags.rm);
    if (autoRemove && restartPolicy.name !== 'no') {
      throw new UsageError('conflicting options: cannot specify both --restart and --rm');
    }
    const runtime = (req.flags.runtime as string | undefined) ?? 'tsrun';
    launcherFor(this.ctx, runtime); // validates the runtime name early
    // --pod: join the pod's namespaces and cgroup (pod-join.ts); the record names the pod.
    const podRef = req.pod ?? (req.flags.pod as string | undefined);
    if (podRef) req = { ...req, pod: await joinPod(this.ctx, podRef, opts, req.flags) };

    this.store.repair();
    // The image store's lease keeps rmi/prune from deleting the image before the container records it.
    return openStore(this.ctx).withLease(async () => {
      const image = await resolveImage(this.ctx, req.image, {
        pull: req.pull ?? 'missing',
        platform: req.platform,
        onPull: req.onPull,
        onEvent: req.onPullEvent,
      });
      const lease = await this.store.creationLease();
      try {
        return await this.createLeased(req, opts, image, restartPolicy, autoRemove, runtime);
      } finally {
        lease.release();
      }
    });
  }

  private async createLeased(
    req: CreateRequest,
    opts: RunOptions,
    image: LocalImage,
    restartPolicy: RestartPolicy,
    autoRemove: boolean,
    runtime: string,
  ): Promise<ContainerRecord> {
    const id = ContainerStore.newId();
    const name = this.claimNameFor(id, req.flags.name as string | undefined);
    try {
      // --volumes-from adds the mounts of other containers that -v/--mount/--tmpfs leave free; the
      // image's VOLUME paths that none of them covers get anonymous volumes.
      const own = opts.mounts ?? [];
      const mounts = [...own, ...volumesFromRequests(opts.volumesFrom ?? [], (ref) => this.lookup(ref), own)];
      // --volume-driver applies to the image's VOLUME paths too, as in Docker.
      const imageVolumes = imageVolumeRequests(image.config.config?.Volumes, mounts).map((m) => (opts.volumeDriver ? { ...m, volumeDriver: opts.volumeDriver } : m));
      opts = { ...opts, mounts: [...mounts, ...imageVolumes] };
      const config = image.config.config ?? {};
      const argv = composeArgs(image.config, { entrypoint: opts.entrypoint, command: req.command });
      // As Docker: the host's name under the host's network, else the short ID.
      const hostname = opts.hostname ?? (opts.network?.mode === 'host' ? hostHostname() : id.slice(0, 12));
      const record: ContainerRecord = {
        id,
        name,
        created: new Date().toISOString(),
        image: req.image,
        imageId: image.id,
        path: argv[0]!,
        args: argv.slice(1),
        config: {
          env: applyEnv(config.Env ?? [], opts.env ?? []), // as Docker's Config.Env: the image's, with -e and --env-file
          workingDir: opts.workdir ?? config.WorkingDir ?? '/',
          user: opts.user ?? config.User ?? '',
          tty: Boolean(opts.tty),
          openStdin: Boolean(opts.interactive),
          // As Docker: stdin opened for an attached client is closed when that client's ends.
          stdinOnce: Boolean(opts.interactive) && !req.flags.detach,
          stopSignal: opts.stopSignal ?? config.StopSignal ?? 'SIGTERM',
          stopTimeout: opts.stopTimeout ?? 10,
          labels: { ...(config.Labels ?? {}), ...(opts.labels ?? {}) },
          hostname,
          entrypoint: opts.entrypoint ?? config.Entrypoint ?? null,
          cmd: req.command.length > 0 ? req.command : opts.entrypoint?.length ? [] : config.Cmd ?? null,
        },
        hostConfig: {
          autoRemove,
          restartPolicy,
          readonlyRootfs: Boolean(opts.readOnly),
          networkMode: networkModeName(opts.network),
          binds: (req.flags.volume as string[] | undefined) ?? [],
          volumesFrom: (req.flags.volumesFrom as string[] | undefined) ?? [],
          init: Boolean(opts.init),
          runtime,
        },
        lowerDirs: image.lowerDirs,
        ...(req.pod ? { pod: req.pod } : {}),
        state: { status: 'created' },
        restartCount: 0,
      };
      const paths = this.store.paths(id);
      const volumes = new Volumes(this.ctx);
      // Held from finding or creating the volumes until the record names them, so volume rm/prune cannot take them meanwhile.
      const volumeLease = await volumes.lease();
      try {
        record.mounts = [];
        await this.resolveMounts(volumes, opts.mounts ?? [], record.mounts);
        this.store.create(record, (tmp) => {
          for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(tmp, d));
        });
      } catch (err) {
        volumeLease.release();
        await volumes.removeAnonymousOf(record).catch(() => undefined);
        throw err;
      } finally {
        volumeLease.release();
      }
      try {
        await this.prepareBundle(record, image.config, opts, req.command, (req.flags.publish as string[] | undefined) ?? []);
      } catch (err) {
        await detachNetwork(this.ctx, record.id).catch(() => undefined);
        unmountRootfs(paths.rootfs);
        this.store.remove(record);
        await volumes.removeAnonymousOf(record).catch(() => undefined);
        throw err;
      }
      recordContainerEvent(this.ctx, record, 'create');
      return record;
    } catch (err) {
      this.store.releaseName(name, id);
      throw err;
    }
  }

  /**
   * Finds or creates the volumes of `mounts` (an anonymous one gets a fresh name)
   * and fills in their host directories; appends to `out` what the record keeps
   * for inspect and for `rm -v` (as it goes, so a failure midway still names the
   * anonymous volumes to remove). The caller holds the volumes' lease.
   */
  private async resolveMounts(volumes: Volumes, mounts: MountRequest[], out: ContainerMount[]): Promise<void> {
    for (const m of mounts) {
      if (m.type === 'bind') {
        out.push({ type: 'bind', source: m.source!, destination: m.target, mode: m.readonly ? 'ro' : '', rw: !m.readonly, propagation: m.propagation ?? 'rprivate' });
      } else if (m.type === 'volume') {
        const anonymous = m.volumeName === undefined || Boolean(m.sharedFrom?.anonymous);
        // Shared by --volumes-from: the volume must still be there (its container may have gone with rm -v meanwhile).
        if (m.sharedFrom && !volumes.find(m.volumeName!)) throw new NotFoundError('volume', `${m.volumeName} (of container ${m.sharedFrom.container})`);
        const { volume } = await volumes.createLocked({ name: m.volumeName, driver: m.volumeDriver, labels: m.volumeLabels, options: m.volumeOptions });
        m.volumeName = volume.name;
        m.source = volume.mountpoint;
        // A volume with mount options (or a plugin's) takes the image's content at its first start, once its filesystem is mounted.
        const copyUpPending = !m.noCopy && volumes.withMountOptions([volume.name]).length > 0;
        out.push({ type: 'volume', name: volume.name, source: volume.mountpoint, destination: m.target, mode: m.mode ?? '', rw: !m.readonly, anonymous, ...(copyUpPending ? { copyUpPending } : {}), ...(volume.driver !== 'local' ? { driver: volume.driver } : {}) });
      }
    }
  }

  /** Claims the given name, or a generated one: a generated name that is taken is simply drawn again. */
  private claimNameFor(id: string, given: string | undefined): string {
    if (given !== undefined) {
      this.store.claimName(given, id);
      return given;
    }
    for (let attempt = 0; ; attempt++) {
      const name = randomName();
      try {
        this.store.claimName(name, id);
        return name;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 20) throw err;
      }
    }
  }

  /** Mounts the rootfs, prepares the network and writes the bundle's config.json. */
  private async prepareBundle(record: ContainerRecord, imageConfig: ImageConfig, opts: RunOptions, command: string[], publishFlags: string[]): Promise<void> {
    const paths = this.store.paths(record.id);
    this.mountRootfsOf(record, { fresh: true });
    // Docker's copy-up: an empty volume takes the image's content at its path (unless nocopy).
    const volumes = new Volumes(this.ctx);
    for (const m of opts.mounts ?? []) {
      if (m.type === 'volume' && !m.noCopy && m.volumeName) await volumes.populate(m.volumeName, resolveInRootfs(paths.rootfs, m.target));
    }
    const joined = resolveJoinedNamespaces(this, opts);
    const ports = parsePortMappings(publishFlags, Object.keys(imageConfig.config?.ExposedPorts ?? {}), Boolean(opts.publishAll));
    const net = await attachNetwork(this.ctx, record, opts, ports);
    const etc = writeEtcFiles(paths.etc, {
      hostname: record.config.hostname,
      addHosts: opts.addHosts,
      dns: opts.dns,
      dnsSearch: opts.dnsSearch,
      ownAddresses: net?.hostsEntries,
      hostNetwork: opts.network?.mode === 'host',
    });
    await registerHosts(this.ctx, record, etc.hosts); // peers on user networks, both ways
    const spec = buildSpec(
      imageConfig,
      {
        ...opts,
        command,
        hostname: record.config.hostname,
        etcFiles: etc,
        namespacePaths: { ...joined, ...(net ? { network: net.netnsPath } : {}) },
        initPath: opts.init ? findInit() : undefined,
        cgroupsPath: `${opts.cgroupParent ?? '/tsrun'}/${record.id}`,
      },
      paths.rootfs,
    );
    if (isLoopbackOnly(opts)) spec.annotations = { ...spec.annotations, [LOOPBACK_UP_ANNOTATION]: 'true' };
    // Compact: V8's JSON.stringify has a fast path only without indentation (~0.8 ms for a spec with its seccomp profile).
    writeFileAtomic(join(paths.bundle, 'config.json'), JSON.stringify(spec));
  }

  private specIfPresent(record: ContainerRecord): Spec | undefined {
    try {
      return this.spec(record);
    } catch {
      return undefined;
    }
  }

  spec(record: ContainerRecord): Spec {
    return JSON.parse(readFileSync(join(this.store.paths(record.id).bundle, 'config.json'), 'utf8')) as Spec;
  }

  /** The live state: the launcher's view (monitor lock), else what was recorded; "restarting" while a backoff is waited out. */
  state(record: ContainerRecord): ContainerState {
    const state = this.launcherState(record);
    if (state.status !== 'exited') return state;
    return isWaitingOutBackoff(this.ctx, record) || this.restartComing(record, state) ? { ...state, restarting: true } : state;
  }

  /**
   * Docker says "restarting" from the exit on. Ours is exited until the exit command (started by
   * the monitor as it ends) has recorded the backoff: meanwhile, one whose exit is not handled yet
   * (its record still says running) and whose policy restarts it reads restarting too, as long as
   * that exit command runs (killed, it leaves a plain exited container).
   */
  private restartComing(record: ContainerRecord, state: ContainerState): boolean {
    if (record.state.status !== 'running' || record.state.dieRecorded) return false;
    if (!shouldRestart(record.hostConfig.restartPolicy, state.exitCode ?? 0, record.restartCount, Boolean(record.manuallyStopped))) return false;
    return this.launcher(record).monitorProcessRuns(record.id);
  }

  private launcherState(record: ContainerRecord): ContainerState {
    let live: State | undefined;
    try {
      live = this.launcher(record).state(record.id);
    } catch {
      live = undefined;
    }
    if (!live) return record.state.status === 'running' ? { ...record.state, status: 'exited', exitCode: record.state.exitCode ?? 255 } : record.state;
    if (live.status === 'running' || live.status === 'paused') return { ...record.state, status: 'running', pid: live.pid, paused: live.status === 'paused' };
    if (live.status === 'created' || live.status === 'creating') return { ...record.state, status: 'created', pid: live.pid };
    const exit = this.launcher(record).exitStatus(record.id);
    return {
      ...record.state,
      status: 'exited',
      pid: 0,
      exitCode: exit?.exitCode ?? record.state.exitCode ?? 255,
      oomKilled: exit?.oomKilled ?? false,
      finishedAt: exit?.finishedAt ?? record.state.finishedAt,
    };
  }

  list(all: boolean): ContainerView[] {
    this.store.repair();
    return this.store
      .list()
      .map((record) => ({ record, state: this.state(record) }))
      .filter((v) => all || v.state.status === 'running' || v.state.restarting) // Docker lists a restarting one too
      .sort((a, b) => b.record.created.localeCompare(a.record.created));
  }

  lookup(nameOrId: string): ContainerRecord {
    return this.store.lookup(nameOrId);
  }

  /**
   * Starts a created or exited container. Attached: relays stdio and returns the
   * exit code (`session`: how its monitor stands towards our terminal and signals).
   * Detached: returns once the process runs.
   */
  async start(record: ContainerRecord, opts: { attach: boolean; interactive?: boolean; keepStopMark?: boolean; session?: AttachedSession }): Promise<number | undefined> {
    return this.startUnder(await this.containerLock(record.id), record, opts);
  }

  /**
   * start() with the container's lock: `lock` is released once the launcher has the container
   * (or its start failed), so that no exit handler of a previous run unmounts the rootfs in
   * between; undefined when the caller holds the lock (and keeps it).
   */
  private async startUnder(
    lock: FileLock | undefined,
    record: ContainerRecord,
    opts: { attach: boolean; interactive?: boolean; keepStopMark?: boolean; session?: AttachedSession },
  ): Promise<number | undefined> {
    let running: Promise<ExitStatus | undefined>;
    let volumeHold: FileLock | undefined;
    // Attached, what follows the exit (recordExit) is ours while we hold this; killed at any moment, the monitor's exit command does it.
    const handoff = opts.attach ? new ExitHandoff() : undefined;
    try {
      const current = this.state(record);
      // A restarting one is started by the process waiting out its backoff: as Docker, starting it is a no-op.
      if (current.status === 'running' || current.restarting) {
        if (opts.attach) throw new StateError(`container ${record.name} is already ${current.restarting ? 'restarting' : 'running'}`);
        return undefined;
      }
      const prepared = await this.prepareStart(record, Boolean(opts.keepStopMark));
      volumeHold = prepared.volumeHold;
      running = prepared.launcher.run(record.id, prepared.paths.bundle, {
        detach: !opts.attach,
        logPath: prepared.paths.log,
        stdin: Boolean(opts.interactive ?? record.config.openStdin),
        // Attached, the monitor runs it only if we let go of the hand-off before done() (killed): --rm still removes it.
        exitCommand: this.exitCommand(record),
        exitHandoff: handoff,
        attachSocket: true, // `tsrun attach` (an OCI runtime's container has one with a terminal)
        dieWithMonitor: true, // a killed monitor leaves no live container that ps calls exited (ours; a runtime's lives on)
        onWarning: (m) => this.onWarning?.(m, record),
        ...opts.session,
      });
      // Detached, run() settles once the process runs; attached, only at its exit: watch for it to be live.
      await (opts.attach ? this.untilLiveOrSettled(record, running) : running.then(noop, noop));
    } finally {
      // The volumes' lease too: no releaseUnused() elsewhere unmounts a volume before the container counts as live.
      volumeHold?.release();
      if (lock) this.releaseContainerLock(record.id, lock);
    }
    let exit: ExitStatus | undefined;
    try {
      exit = await running;
    } catch (err) {
      // The failure is ours to record (and --rm): the exit command is not needed, unless we fail at that too.
      try {
        await this.startFailed(record, err, { lockHeld: lock === undefined });
        handoff?.done();
      } finally {
        handoff?.release(); // without done(): the exit command takes over
      }
      throw err;
    }
    if (!exit) return undefined;
    await this.recordExit(record, exit);
    handoff?.done();
    return exit.exitCode;
  }

  /**
   * Clears what a previous run left, brings back the network, the rootfs and the volumes'
   * mounts, and records the start. `volumeHold` (when the container has volumes with
   * mount options) is the volumes' lease: release it once the container is live.
   * The caller holds the container's lock (until the container is live, too).
   */
  private async prepareStart(
    record: ContainerRecord,
    keepStopMark: boolean,
  ): Promise<{ launcher: AnyLauncher; paths: ReturnType<ContainerStore['paths']>; volumeHold?: FileLock }> {
    const launcher = this.launcher(record);
    const paths = this.store.paths(record.id);
    // A previous run leaves the launcher's state behind: clear it before a new start.
    await launcher.delete(record.id, true).catch(() => undefined);
    await reviveNetwork(this.ctx, record, paths.etc);
    this.mountRootfsOf(record); // unmounted at its last stop (or never, after a kill -9 or a reboot)
    let volumeHold: FileLock | undefined;
    try {
      volumeHold = await this.mountVolumes(record);
      this.copyUpMountedVolumes(record, paths.rootfs);
      crashPoint('after-volume-mount');
      record.state = { status: 'running', startedAt: new Date().toISOString() };
      if (!keepStopMark) record.manuallyStopped = false;
      this.store.save(record);
    } catch (err) {
      volumeHold?.release();
      await this.releaseVolumes(record);
      this.releaseRootfsLocked(record);
      throw err;
    }
    // Docker's order: each volume's `mount`, then the container's `start`.
    const volumes = new Volumes(this.ctx);
    for (const m of this.volumeMounts(record)) {
      const driver = volumes.find(m.name!)?.driver ?? 'local';
      recordVolumeEvent(this.ctx, 'mount', m.name!, { container: record.id, destination: m.destination, driver, propagation: '', 'read/write': String(m.rw) });
    }
    // Recorded here, before the process can exit, so that `start` always precedes its `die`.
    recordContainerEvent(this.ctx, record, 'start');
    return { launcher, paths, volumeHold };
  }

  private volumeMounts(record: ContainerRecord): ContainerMount[] {
    return (record.mounts ?? []).filter((m) => m.type === 'volume' && m.name);
  }

  private volumeNames(record: ContainerRecord): string[] {
    return this.volumeMounts(record).map((m) => m.name!);
  }

  /** Mounts the container's volumes that have mount options (Docker's local driver); returns the volumes' lease, held, if there were any. */
  private async mountVolumes(record: ContainerRecord): Promise<FileLock | undefined> {
    const volumes = new Volumes(this.ctx);
    const names = volumes.withMountOptions(this.volumeNames(record));
    if (names.length === 0) return undefined;
    const lease = await volumes.lease();
    try {
      const pluginPaths = await volumes.mountLocked(names, record.id); // a plugin's Mount ID: the container's id, as Docker's
      // Saved with the running state by the caller: inspect's Source is the plugin's path.
      for (const m of this.volumeMounts(record)) {
        const path = pluginPaths.get(m.name!);
        if (path !== undefined) m.pluginPath = path;
      }
    } catch (err) {
      lease.release();
      // What did mount (other volumes, a plugin's Mount) is undone: the container never starts.
      await this.releaseVolumes(record);
      throw err;
    }
    return lease;
  }

  /**
   * Docker's copy-up into the volumes with mount options, on the container's first start:
   * they are mounted now (the caller holds the volumes' lease), so the image's content lands
   * in their filesystem. Done once: the caller saves the record without the marks.
   */
  private copyUpMountedVolumes(record: ContainerRecord, rootfs: string): void {
    const volumes = new Volumes(this.ctx);
    for (const m of record.mounts ?? []) {
      if (!m.copyUpPending || !m.name) continue;
      volumes.populateMountedLocked(m.name, resolveInRootfs(rootfs, m.destination));
      delete m.copyUpPending;
    }
  }

  /**
   * Resolves once the launcher shows the container (then it counts as live: the exit
   * handlers leave its rootfs and volumes mounted) or its start settled, whichever first.
   */
  private untilLiveOrSettled(record: ContainerRecord, starting: Promise<unknown>): Promise<void> {
    return new Promise((resolve) => {
      const deadline = Date.now() + 120_000;
      let timer: NodeJS.Timeout | undefined;
      // The poll's timer goes with the first answer: left running, it kept a quick container's
      // `run` alive for the rest of its 10 ms after everything was done.
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      starting.then(finish, finish);
      const poll = () => {
        if (this.isLive(record) || Date.now() >= deadline) finish();
        else timer = setTimeout(poll, 10);
      };
      poll();
    });
  }

  /**
   * Mounts the container's overlay rootfs unless it is. Callers hold the container's lock (or
   * create it, at create: `fresh`, its directories were made a moment ago and nothing is mounted
   * there, so the mount table is not read).
   */
  private mountRootfsOf(record: ContainerRecord, opts: { fresh?: boolean } = {}): void {
    const paths = this.store.paths(record.id);
    if (opts.fresh || !isMounted(paths.rootfs)) mountRootfs(record.lowerDirs, paths.upper, paths.work, paths.rootfs, { volatile: record.hostConfig.autoRemove });
  }

  /**
   * Docker's unmount of a stopped container's rootfs: its upper and work dirs stay (start,
   * diff, cp, export and commit work from them). Only for a container that is not live, under
   * the container's lock, which start holds from its mount until the launcher has the
   * container: so this never takes the rootfs from under a start. One that cp or export uses
   * right now stays mounted: they unmount it when done. A failure is a warning: the mount of
   * a stopped container is harmless, and the next stop, start or rm deals with it.
   */
  private releaseRootfsLocked(record: ContainerRecord): void {
    // An --rm container's overlay is mounted volatile, which marks its work dir: the kernel then
    // refuses to mount that upper/work pair again. It stays mounted until its removal (at its exit).
    if (record.hostConfig.autoRemove || this.isLive(record)) return;
    const rootfs = this.store.paths(record.id).rootfs;
    if (!isMounted(rootfs)) return;
    const unused = claimUnusedRootfs(this.locksDir(), record.id);
    if (!unused) return;
    try {
      unmountRootfs(rootfs);
    } catch (err) {
      this.onWarning?.(`cannot unmount the rootfs of ${record.name}: ${err instanceof Error ? err.message : String(err)}`, record);
    } finally {
      unused.release();
    }
  }

  /**
   * `create` alone leaves no mount behind, as Docker's: the rootfs that create mounted (to prepare
   * the bundle) is unmounted again; start mounts it. Not for `run`, which starts at once.
   */
  async unmountCreated(record: ContainerRecord): Promise<void> {
    await this.withContainerLock(record.id, async () => this.releaseRootfsLocked(record));
  }

  /**
   * Runs `fn` on the container's rootfs, mounted: a stopped container's is mounted for the
   * duration (cp, export) and unmounted after, unless the container started meanwhile.
   */
  async withRootfs<T>(record: ContainerRecord, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const rootfs = this.store.paths(record.id).rootfs;
    const use = await useRootfs(this.locksDir(), record.id);
    try {
      if (!isMounted(rootfs)) await this.withContainerLock(record.id, async () => this.mountRootfsOf(record));
      return await fn(rootfs);
    } finally {
      use.release();
      // Also when it was running: it may have stopped meanwhile, and its exit handler left the unmount to us.
      if (this.store.get(record.id)) await this.withContainerLock(record.id, async () => this.releaseRootfsLocked(record));
      // Removed meanwhile: rm left the use lock's file to us (the last user).
      else removeRootfsUseLock(this.locksDir(), record.id);
    }
  }

  /** Whether the launcher has the container up (creating, created, running or paused): what keeps its rootfs and volumes mounted. */
  readonly isLive = (record: ContainerRecord): boolean => {
    try {
      return this.launcher(record).state(record.id).status !== 'stopped';
    } catch {
      return false;
    }
  };

  /**
   * Unmounts the container's volumes with mount options that no live container uses
   * any more (Docker's active count, recomputed from the records: nothing to go stale
   * after a kill -9). A failure is a warning: the container's own change is done.
   */
  private async releaseVolumes(record: ContainerRecord): Promise<void> {
    const names = this.volumeNames(record);
    if (names.length === 0) return;
    await new Volumes(this.ctx)
      .releaseUnused(names, this.isLive)
      .catch((err) => this.onWarning?.(`cannot unmount the volumes of ${record.name}: ${err instanceof Error ? err.message : String(err)}`, record));
  }

  /**
   * Unmounts every volume with mount options that no live container uses: what a kill -9
   * (of tsrun between mounting and starting, or of a monitor) leaves. Returns the volumes.
   */
  async releaseLeftoverVolumeMounts(): Promise<string[]> {
    return new Volumes(this.ctx).releaseUnused(undefined, this.isLive).catch((err) => {
      this.onWarning?.(`cannot unmount leftover volume mounts: ${err instanceof Error ? err.message : String(err)}`);
      return [];
    });
  }

  /** `lockHeld`: the caller holds the container's lock (restart-after-backoff; never with --rm, which excludes restart policies). */
  private async startFailed(record: ContainerRecord, err: unknown, opts: { lockHeld?: boolean } = {}): Promise<void> {
    // Docker's State.ExitCode for a start that failed: 127 not found, 126 cannot invoke, else 128.
    const exitCode = err instanceof CommandNotFoundError ? 127 : err instanceof CannotInvokeError ? 126 : 128;
    record.state = { status: 'exited', exitCode, error: err instanceof Error ? err.message : String(err), finishedAt: new Date().toISOString() };
    const settle = async (): Promise<void> => {
      this.store.save(record);
      this.noteDie(record, exitCode);
      this.releaseRootfsLocked(record);
    };
    if (opts.lockHeld) await settle();
    else await this.withContainerLock(record.id, settle);
    if (record.hostConfig.autoRemove) await this.remove(record, { force: true, volumes: true });
    else await this.releaseVolumes(record);
  }

  /** Whether startAttached() can start this container: a monitor with an attach socket, and a CLI for the exit command. */
  canStartAttached(record: ContainerRecord): boolean {
    return this.exitCommand(record) !== undefined && this.servesAttach(record);
  }

  /**
   * Whether the container's monitor serves attach clients: ours always; an OCI runtime's (runc,
   * crun) when the container has a terminal, whose pty the monitor receives from the runtime.
   */
  private servesAttach(record: ContainerRecord): boolean {
    return this.launcher(record) instanceof Launcher || Boolean(record.config.tty);
  }

  /**
   * Starts the container as a detached one (its monitor outlives the caller and its
   * exit command applies --rm and the restart policy), with a client connected to its
   * attach socket before its process runs, so the client misses none of the output.
   * `run -it` and `start -ai` relay the terminal through it: detaching leaves a container
   * that `attach` takes back and whose exit is handled as any detached one's.
   */
  async startAttached(record: ContainerRecord, opts: { consoleSize?: { height: number; width: number } } = {}): Promise<Socket> {
    const exitCommand = this.exitCommand(record);
    const launcher = this.launcher(record);
    if (!this.servesAttach(record)) {
      throw new StateError(`container ${record.name} runs under ${record.hostConfig.runtime} without a terminal: it cannot be attached to`);
    }
    if (!exitCommand) throw new StateError(`container ${record.name} cannot be started attached: there is no tsrun command for its exit`);
    // Held from the rootfs mount until the container is created (live), as in start().
    const lock = await this.containerLock(record.id);
    let volumeHold: FileLock | undefined;
    let createFailure: { err: unknown } | undefined;
    try {
      const current = this.state(record);
      if (current.status === 'running' || current.restarting) throw new StateError(`container ${record.name} is already ${current.restarting ? 'restarting' : 'running'}`);
      const prepared = await this.prepareStart(record, false);
      volumeHold = prepared.volumeHold;
      await launcher
        .create(record.id, prepared.paths.bundle, {
          detach: true,
          logPath: prepared.paths.log,
          stdin: record.config.openStdin,
          exitCommand,
          attachSocket: true,
          dieWithMonitor: true,
          consoleSize: opts.consoleSize,
          onWarning: (m) => this.onWarning?.(m, record),
        })
        .catch((err: unknown) => (createFailure = { err }));
    } finally {
      volumeHold?.release(); // created: the container is live now
      this.releaseContainerLock(record.id, lock);
    }
    if (createFailure) {
      await this.startFailed(record, createFailure.err);
      throw createFailure.err;
    }
    let sock: Socket | undefined;
    try {
      const path = launcher.attachSocket(record.id);
      if (!path) throw new StateError(`container ${record.name} has no attach socket`);
      sock = await connectAttachSocket(path);
      await launcher.start(record.id);
      return sock;
    } catch (err) {
      sock?.destroy();
      // Not started (or not reported as started): take it down and report a failed start.
      await launcher.kill(record.id, 'SIGKILL', true).catch(() => undefined);
      await waitUntil(() => this.state(record).status !== 'running', 10_000);
      await this.startFailed(record, err);
      throw err;
    }
  }

  /**
   * Once the client of startAttached() saw the container end: --rm's removal is done
   * before the caller returns, as Docker's `run --rm` (the exit command may be removing
   * it at the same time: removal is serialised and idempotent).
   */
  async finishAttached(record: ContainerRecord): Promise<void> {
    if (!record.hostConfig.autoRemove) return;
    // Removed before the exit command ran: its `die` must still precede the `destroy`.
    await this.withContainerLock(record.id, async () => {
      if (this.store.get(record.id) && this.state(record).status !== 'running') this.noteDie(record);
    });
    await this.remove(record, { force: true, volumes: true });
  }

  /**
   * Records this run's `die` once: the exit command, stop, rm -f and an attached run all
   * see the exit, and the first marks the record. Callers hold the container's lock.
   */
  private noteDie(record: ContainerRecord, exitCode?: number): void {
    const stored = this.store.get(record.id);
    if (!stored || stored.state.dieRecorded) return;
    const code = exitCode ?? this.state(stored).exitCode ?? 0;
    stored.state = { ...stored.state, dieRecorded: true };
    this.store.save(stored);
    record.state = { ...record.state, dieRecorded: true };
    recordContainerEvent(this.ctx, stored, 'die', { exitCode: String(code) });
    // Docker unmounts a stopped container's volumes after its `die`: one `unmount` each, once per run as the die.
    const volumes = new Volumes(this.ctx);
    for (const m of this.volumeMounts(stored)) recordVolumeEvent(this.ctx, 'unmount', m.name!, { container: stored.id, driver: volumes.find(m.name!)?.driver ?? 'local' });
  }

  private async recordExit(record: ContainerRecord, exit: ExitStatus): Promise<void> {
    await this.withContainerLock(record.id, async () => this.noteDie(record, exit.exitCode));
    record.state = {
      ...record.state,
      status: 'exited',
      exitCode: exit.exitCode,
      oomKilled: exit.oomKilled ?? false,
      finishedAt: exit.finishedAt,
    };
    // Restarted from elsewhere while attached here: that restart owns the container now.
    if (this.store.get(record.id)?.restarting) return;
    if (record.hostConfig.autoRemove) {
      await this.remove(record, { force: true, volumes: true });
      return;
    }
    await this.withContainerLock(record.id, async () => {
      if (!this.store.get(record.id)) return;
      this.store.save(record);
      this.releaseRootfsLocked(record);
    });
    await this.releaseVolumes(record);
  }

  async run(req: CreateRequest & { detach: boolean }): Promise<{ record: ContainerRecord; exitCode?: number }> {
    const record = await this.create(req);
    const exitCode = await this.start(record, { attach: !req.detach, interactive: Boolean(req.flags.interactive) });
    return { record, exitCode };
  }

  async kill(record: ContainerRecord, signal: string | number = 'SIGKILL'): Promise<void> {
    const sig = parseSignal(signal);
    if (this.state(record).status !== 'running') throw new StateError(`container ${record.name} is not running`);
    if (sig === parseSignal('SIGKILL')) {
      record.manuallyStopped = true;
      this.store.save(record);
    }
    await this.launcher(record).kill(record.id, sig, true);
    recordContainerEvent(this.ctx, record, 'kill', { signal: String(sig) });
  }

  /**
   * Docker's restart: stop (STOPSIGNAL, then SIGKILL after the timeout) and start again, detached.
   * Neither --rm nor a restart policy acts on the exit in between.
   */
  async restart(record: ContainerRecord, timeoutSec?: number, signal?: string): Promise<{ forced: boolean }> {
    record.restarting = true;
    this.store.save(record);
    try {
      const stopped = await this.stop(record, timeoutSec, signal);
      // An exit hook that ran meanwhile may have saved the record: start from the stored one.
      const current = this.store.get(record.id) ?? record;
      current.restarting = true;
      await this.start(current, { attach: false });
      Object.assign(record, current);
      recordContainerEvent(this.ctx, record, 'restart');
      return stopped;
    } finally {
      // Under the lock: an exit of the new run may be recording its restart backoff right now.
      await this.withContainerLock(record.id, async () => {
        const current = this.store.get(record.id);
        if (current?.restarting) {
          delete current.restarting;
          this.store.save(current);
        }
      });
      delete record.restarting;
    }
  }

  /**
   * Records the user's stop on the stored record (not a stale copy): no restart policy acts on the
   * container until it is started again, and a restart waiting out its backoff is called off. Under
   * the container's lock, so the backoff's waiter either sees this before starting, or has started
   * a run that the caller then stops.
   */
  private async markStopped(record: ContainerRecord): Promise<void> {
    await this.withContainerLock(record.id, async () => {
      const stored = this.store.get(record.id);
      record.manuallyStopped = true;
      delete record.restartBackoff;
      if (!stored) return; // removed meanwhile
      stored.manuallyStopped = true;
      if (stored.restartBackoff) forgetBackoff(this.ctx, stored.id, stored.restartBackoff.restartAt);
      delete stored.restartBackoff;
      this.store.save(stored);
    });
  }

  /** STOPSIGNAL (or `signal`, this once), then SIGKILL after the timeout; explains a PID 1 that ignored the signal. */
  async stop(record: ContainerRecord, timeoutSec?: number, signal?: string): Promise<{ forced: boolean }> {
    await this.markStopped(record);
    if (this.state(record).status !== 'running') {
      // A mount a kill -9 left (of tsrun mid-start, or of an exit handler) goes too.
      await this.withContainerLock(record.id, async () => this.releaseRootfsAfterStopLocked(record));
      return { forced: false };
    }
    const launcher = this.launcher(record);
    const timeout = timeoutSec ?? record.config.stopTimeout;
    const stopSignal = parseSignal(signal ?? record.config.stopSignal);
    await launcher.kill(record.id, stopSignal, false).catch(() => undefined);
    recordContainerEvent(this.ctx, record, 'kill', { signal: String(stopSignal) });
    const exited = await waitUntil(() => this.state(record).status !== 'running', timeout * 1000);
    if (!exited) {
      await launcher.kill(record.id, parseSignal('SIGKILL'), true).catch(() => undefined);
      recordContainerEvent(this.ctx, record, 'kill', { signal: String(parseSignal('SIGKILL')) });
      await waitUntil(() => this.state(record).status !== 'running', 10_000);
    }
    // Docker's order is kill, die, stop: the die is ours if the exit command has not recorded it yet.
    // The exit command unmounts the rootfs too, but a runtime's container started with a terminal has none.
    await this.withContainerLock(record.id, async () => {
      this.noteDie(record);
      this.releaseRootfsAfterStopLocked(record);
    });
    recordContainerEvent(this.ctx, record, 'stop');
    // Its volumes' mounts likewise (for a runtime's container with a terminal, this is the only release).
    await this.releaseVolumes(record);
    return { forced: !exited };
  }

  /** Unmounts the rootfs at the end of a stop, unless `restart` starts the container again right away. Under the container's lock. */
  private releaseRootfsAfterStopLocked(record: ContainerRecord): void {
    const stored = this.store.get(record.id);
    if (stored && !stored.restarting) this.releaseRootfsLocked(stored);
  }

  async wait(record: ContainerRecord): Promise<number> {
    await waitUntil(() => this.state(record).status !== 'running', Number.POSITIVE_INFINITY);
    return this.state(record).exitCode ?? 0;
  }

  /** `volumes`: also its anonymous volumes (rm -v; --rm does it too), unless another container uses them. */
  async remove(record: ContainerRecord, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    if (opts.force && this.state(record).status === 'running') {
      // Keep the exit hook from restarting what is being removed.
      record.manuallyStopped = true;
      this.store.save(record);
    }
    await this.withContainerLock(record.id, () => this.removeLocked(record, opts));
  }

  private async removeLocked(record: ContainerRecord, opts: { force?: boolean; volumes?: boolean }): Promise<void> {
    const stored = this.store.get(record.id);
    if (!stored) return;
    // Its backoff's waiter finds the record gone and starts nothing: only -f may do that, as Docker.
    if (!opts.force && this.state(stored).restarting) {
      throw new ConflictError(`cannot remove container "${record.name}": container is restarting: stop the container before removing or force remove`);
    }
    const launcher = this.launcher(record);
    const status = this.state(record).status;
    if (status === 'running') {
      if (!opts.force) {
        throw new ConflictError(`cannot remove container "${record.name}": container is running: stop the container before removing or force remove`);
      }
      await launcher.kill(record.id, parseSignal('SIGKILL'), true).catch(() => undefined);
      recordContainerEvent(this.ctx, record, 'kill', { signal: String(parseSignal('SIGKILL')) });
      await waitUntil(() => this.state(record).status !== 'running', 10_000);
      this.noteDie(record);
    }
    let launcherKnewIt = true;
    await launcher.delete(record.id, true).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
      launcherKnewIt = false;
    });
    // A kill -9 of tsrun between creating the cgroup and writing the launcher's state leaves a cgroup no launcher knows
    // (one that knew the container removed its cgroup with it).
    if (!launcherKnewIt) removeCgroupOf(this.specIfPresent(record));
    await detachNetwork(this.ctx, record.id);
    unmountRootfs(this.store.paths(record.id).rootfs);
    if (stored.restartBackoff) forgetBackoff(this.ctx, record.id, stored.restartBackoff.restartAt);
    this.store.remove(record);
    // Its lock files go with it: the rootfs use lock's now (unless a cp holds it), the container lock's as it is released.
    removeRootfsUseLock(this.locksDir(), record.id);
    recordContainerEvent(this.ctx, record, 'destroy');
    // Its record is gone, so it no longer counts as a user: after a kill -9 of its monitor this is what unmounts.
    await this.releaseVolumes(record);
    if (opts.volumes) {
      // The container is gone already: a volume that cannot go is worth a warning, not a failed rm.
      await new Volumes(this.ctx).removeAnonymousOf(record).catch((err) => this.onWarning?.(`cannot remove the anonymous volumes of ${record.name}: ${err instanceof Error ? err.message : String(err)}`, record));
    }
  }

  /**
   * The host pids of a running container's processes, as Docker's top lists them: those of its
   * cgroup (a container sharing the host's pid namespace has only its own there), else those
   * of the pid namespace of `pid`, its PID 1 (runc or crun, whose cgroups tsrun does not read).
   */
  processIds(record: ContainerRecord, pid: number): number[] {
    const launcher = this.launcher(record);
    if (launcher instanceof Launcher) {
      try {
        const pids = launcher.cgroupOf(record.id).pids();
        if (pids.length > 0) return pids;
      } catch {
        /* no cgroup (not made, or gone): the pid namespace says it */
      }
    }
    return pidsInNamespaceOf(pid);
  }

  /** Under the container's lock, on the stored record: its exit hook may be saving it right now. */
  async rename(record: ContainerRecord, newName: string): Promise<void> {
    await this.withContainerLock(record.id, async () => {
      const stored = this.store.get(record.id);
      if (!stored) throw new NotFoundError('container', record.name);
      const oldName = stored.name;
      this.store.rename(stored, newName);
      record.name = stored.name;
      recordContainerEvent(this.ctx, stored, 'rename', { oldName: `/${oldName}` });
    });
  }

  async exec(
    record: ContainerRecord,
    req: { command: string[]; env?: string[]; workdir?: string; user?: string; tty?: boolean; interactive?: boolean; detach?: boolean; privileged?: boolean },
  ): Promise<number | undefined> {
    if (this.state(record).status !== 'running') throw new StateError(`container ${record.id.slice(0, 12)} is not running`);
    if (req.command.length === 0) throw new UsageError('exec needs a command to run');
    const execOpts = parseExecFlags({ ...req }, {});
    const process: Process = buildExecProcess(this.spec(record), execOpts, this.store.paths(record.id).rootfs);
    // Docker's exec events: the action names the command, execID ties the three together.
    const execID = randomHex(32);
    const command = req.command.join(' ');
    recordContainerEvent(this.ctx, record, `exec_create: ${command}`, { execID });
    recordContainerEvent(this.ctx, record, `exec_start: ${command}`, { execID });
    const exit = await this.launcher(record).exec(record.id, process, { detach: Boolean(req.detach), stdin: Boolean(req.interactive) });
    if (exit) recordContainerEvent(this.ctx, record, 'exec_die', { execID, exitCode: String(exit.exitCode) });
    return exit?.exitCode;
  }

  /** Where `attach` connects: the monitor's attach socket of a running container (Docker's refusals otherwise). */
  attachTarget(record: ContainerRecord): { socket: string; tty: boolean; openStdin: boolean; stdinOnce: boolean } {
    const state = this.state(record);
    if (state.restarting) throw new StateError('You cannot attach to a restarting container, wait until it is running');
    if (state.status !== 'running') throw new StateError('You cannot attach to a stopped container, start it first');
    if (state.paused) throw new StateError('You cannot attach to a paused container, unpause it first');
    const launcher = this.launcher(record);
    const socket = 'attachSocket' in launcher ? launcher.attachSocket(record.id) : undefined;
    if (!socket) {
      throw new StateError(
        record.hostConfig.runtime === 'tsrun'
          ? `container ${record.name} has no attach socket (its monitor predates attach): restart it to attach`
          : record.config.tty
            ? `container ${record.name} has no attach socket (started before ${record.hostConfig.runtime}'s containers had one): restart it to attach`
            : `container ${record.name} runs under ${record.hostConfig.runtime} without a terminal: it cannot be attached to`,
      );
    }
    recordContainerEvent(this.ctx, record, 'attach');
    // StdinOnce closes a pipe; a pty's input is never closed (Docker's CloseStdin && !TTY).
    return { socket, tty: record.config.tty, openStdin: record.config.openStdin, stdinOnce: Boolean(record.config.stdinOnce) && !record.config.tty };
  }

  logPath(record: ContainerRecord): string {
    return this.store.paths(record.id).log;
  }

  isRunning(record: ContainerRecord): boolean {
    return this.state(record).status === 'running';
  }

  /** Containers using an image, for rmi's "in use" check. */
  usersOfImage(imageId: string): ContainerRecord[] {
    return this.store.list().filter((r) => r.imageId === imageId);
  }

  /**
   * At boot (no daemon kept them): start the containers whose restart policy says so.
   * "always" and "unless-stopped" come back unless the user stopped them, as Docker does.
   */
  async bootRestart(): Promise<{ started: string[]; failed: { name: string; error: string }[] }> {
    const out = { started: [] as string[], failed: [] as { name: string; error: string }[] };
    for (const { record, state } of this.list(true)) {
      const policy = record.hostConfig.restartPolicy.name;
      if (state.status === 'running' || record.manuallyStopped || (policy !== 'always' && policy !== 'unless-stopped')) continue;
      try {
        await this.start(record, { attach: false, keepStopMark: true });
        out.started.push(record.name);
      } catch (err) {
        out.failed.push({ name: record.name, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return out;
  }

  /**
   * Removes every container that is not running (and that `include` lets go: prune's --filter);
   * returns their ids and the bytes their layers held.
   */
  async prune(include: (record: ContainerRecord) => boolean = () => true): Promise<{ removed: string[]; reclaimed: number }> {
    const out = { removed: [] as string[], reclaimed: 0 };
    for (const { record, state } of this.list(true)) {
      if (state.status === 'running' || state.restarting || !include(record)) continue; // Docker prunes only stopped ones
      const bytes = treeSize(this.store.paths(record.id).upper);
      try {
        // Not forced: one that was started (or began restarting) since the listing is refused
        // under its lock, and stays.
        await this.remove(record, { force: false });
      } catch (err) {
        if (err instanceof ConflictError) continue;
        throw err;
      }
      out.removed.push(record.id);
      out.reclaimed += bytes;
    }
    // Each rm released its own; this also takes the mounts whose container record went in a crash.
    await this.releaseLeftoverVolumeMounts();
    this.removeOrphanLockFiles();
    return out;
  }

  /**
   * Deletes the lock files (container lock, rootfs use lock) of containers that no longer exist:
   * those of removals from before rm deleted them, or of a removal killed midway. One held right
   * now stays: its holder deletes it on release, or the next prune does.
   */
  private removeOrphanLockFiles(): void {
    const dir = this.locksDir();
    for (const name of readdirSync(dir)) {
      const id = /^([0-9a-f]{64})(\.rootfs)?\.lock$/.exec(name)?.[1];
      if (id === undefined || this.store.exists(id)) continue;
      FileLock.tryAcquire(join(dir, name))?.releaseAndRemove();
    }
  }

}


function labelsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of (value as string[] | undefined) ?? []) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

function noop(): void {}

async function waitUntil(cond: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Every host pid in the same pid namespace as `pid`. */
function pidsInNamespaceOf(pid: number): number[] {
  const ns = readlinkSync(`/proc/${pid}/ns/pid`);
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === ns) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}
