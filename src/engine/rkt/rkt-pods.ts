// rkt pods over the engine. A tsrkt pod IS an engine pod (pods.ts, named
// `rkt-<uuid>`, holding the shared net/ipc/uts namespaces) whose apps are engine
// containers (named `rkt-<uuid>-<app>`, labelled with the UUID and app name), so
// `tsrun pod ps` and `tsrun ps` show them. This layer adds what rkt had: the
// RFC 4122 UUID, the phase directories with their flock (pod-dirs.ts), the appc
// pod manifest, rkt's exit rules (exit-policy.ts) and gc, rkt's image IDs
// (image-id.ts), volumes with implicit ones for unfilled mount points
// (mount-points.ts), the pod-wide resolv.conf/hosts (dns.ts) and stdio modes
// (stdio.ts). Pod volumes and those files live under ROOT/rkt/volumes/<uuid>/
// (the files in its ".etc", never a volume's name), deleted with the pod.
//
// Liveness without a daemon: while tsrkt prepares, starts or deletes a pod it
// holds the pod dir's flock (a foreground `tsrkt run` keeps it until the pod
// ends, like rkt's stage1). Each app's monitor (the C helper) holds its own
// container lock for as long as the app runs. So a pod in run/ is running while
// its lock or any app's monitor lock is held: kill -9 of `tsrkt run` leaves the
// apps running and the pod "running"; once they are gone it reads "exited".
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, describeError, NotFoundError, StateError, UsageError } from '../../errors.js';
import { attachmentsOf, DEFAULT_NETWORK, readEndpoint } from '../../network/index.js';
import { readRootfsFile, resolveInRootfs } from '../../spec/index.js';
import { FileLock } from '../../util/lock.js';
import { networkPaths, resolveNetwork } from '../container-network.js';
import type { ContainerRecord, ContainerState } from '../container-store.js';
import type { Containers } from '../containers.js';
import type { EngineContext } from '../context.js';
import { resolveImage, type LocalImage } from '../image-access.js';
import { familiarName } from '../images.js';
import { ensurePodReady } from '../pod-join.js';
import { parsePodNetworks, Pods, type PodRecord } from '../pods.js';
import { copyUp } from '../volume-copy.js';
import { parseDnsFlags, renderHosts, renderResolvConf, type RktDnsConfig } from './dns.js';
import { markImageUsed } from './image-use.js';
import { engineImageRef, findImageByRktId, looksLikeRktImageId, rktImageIdOf, rktImageIdOfStored } from './image-id.js';
import { containerFlagsFor, insecureRunOptions, registryOptionsFor, type InsecureOptions, type InsecureRunOption } from './insecure-options.js';
import { buildPodManifest, appJson, volumeJson, type PodManifest, type ResolvedApp } from './manifest.js';
import { dockerMountPoints, implicitVolumeWarning, planAppMounts } from './mount-points.js';
import { PodDirs, type PodLocation } from './pod-dirs.js';
import { DEFAULT_STDIO, engineStdio, type RktStdio } from './stdio.js';
import {
  claimHalt, enginePodName, readHalt, readManifest, readMeta, writeManifest, writeMeta, type HaltRecord, type RktAppMeta, type RktPodMeta,
} from './pod-files.js';
import { cpuToCpus, emptyPodSpec, enginePullPolicy, memoryToBytes, portNameOf, type RktAppSpec, type RktMount, type RktPodSpec, type RktVolume } from './pod-spec.js';
import { gcAction, podState, type GcOptions, type PodState } from './pod-state.js';

export const RKT_UUID_LABEL = 'io.tsrun.rkt.uuid';
export const RKT_APP_LABEL = 'io.tsrun.rkt.app';
/** Seconds an app gets between SIGTERM and SIGKILL when its pod halts or stops. */
export const RKT_STOP_TIMEOUT = 5;

export function rktBase(ctx: EngineContext): string {
  return join(ctx.root, 'rkt');
}

export function podDirsOf(ctx: EngineContext): PodDirs {
  return new PodDirs(join(rktBase(ctx), 'pods'));
}

export interface RktAppView {
  name: string;
  image: string;
  /** tsrun's image ID and rkt's (the latter as recorded, else computed; tsrun's when the image is gone). */
  imageId: string;
  rktImageId: string;
  stdio: RktStdio;
  containerId?: string;
  record?: ContainerRecord;
  state?: ContainerState;
}

export interface RktPodView {
  loc: PodLocation;
  state: PodState;
  meta?: RktPodMeta;
  apps: RktAppView[];
  /** "default:ip4=10.88.0.5", "host", "none" or "". */
  networks: string;
  /** Pid of the first running app (tsrkt pods have no stage1 process). */
  pid?: number;
  halt?: HaltRecord;
}

export interface PreparedPod {
  loc: PodLocation;
  lock: FileLock;
}

export interface GcReport {
  marked: string[];
  removed: string[];
  failed: { uuid: string; error: string }[];
}

/** "127.0.0.1:5000/library/busybox:1.36" -> "busybox": rkt's default app name. */
export function defaultAppName(image: string): string {
  const noDigest = image.replace(/^docker:\/\//, '').split('@')[0]!;
  const last = noDigest.split('/').pop()!.split(':')[0]!;
  const name = last.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return name || 'app';
}

/** docker://busybox and busybox both name the Docker image busybox. */
export function imageReference(image: string): string {
  return image.replace(/^docker:\/\//, '');
}

/** NAME=VALUE lines of a --set-env-file (blank lines and # comments skipped). */
export function parseEnvFileText(text: string, file: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (!line.includes('=')) throw new UsageError(`invalid line "${line}" in --set-env-file ${file}: use NAME=VALUE`);
    out.push(line);
  }
  return out;
}

/** The NAME=VALUE lines of every --set-env-file, in order; a file that cannot be read is a usage error naming it. */
export function readSetEnvFiles(files: readonly string[]): string[] {
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --set-env-file ${file}`, { cause: err });
    }
    return parseEnvFileText(text, file);
  });
}

/**
 * rkt's precedence, lowest first: parent (--inherit-env) < image < --set-env-file
 * < --set-env < --environment. Returns what the engine applies over the image's Env.
 */
export function composeAppEnv(opts: {
  parent?: NodeJS.ProcessEnv;
  imageEnv: string[];
  setEnvFile: string[];
  setEnv: string[];
  environment: string[];
}): string[] {
  const imageKeys = new Set(opts.imageEnv.map((e) => e.split('=')[0]));
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(opts.parent ?? {})) if (v !== undefined && !imageKeys.has(k)) out.set(k, v);
  for (const e of [...opts.setEnvFile, ...opts.setEnv, ...opts.environment]) {
    const i = e.indexOf('=');
    out.set(e.slice(0, i), e.slice(i + 1));
  }
  return [...out].map(([k, v]) => `${k}=${v}`);
}

export class RktPods {
  readonly dirs: PodDirs;
  readonly pods: Pods;

  constructor(readonly ctx: EngineContext, readonly containers: Containers) {
    this.dirs = podDirsOf(ctx);
    this.pods = new Pods(ctx, containers);
  }

  resolve(prefix: string): PodLocation {
    return this.dirs.resolve(prefix);
  }

  private volumeDir(uuid: string, name: string): string {
    return join(rktBase(this.ctx), 'volumes', uuid, name);
  }

  /** The pod-wide resolv.conf and hosts of --dns* / --hosts-entry (".etc" is no AC name, so no volume's). */
  private etcDir(uuid: string): string {
    return join(rktBase(this.ctx), 'volumes', uuid, '.etc');
  }

  private writeDnsFiles(uuid: string, dns: RktDnsConfig): void {
    if (dns.resolv !== 'stage0' && dns.hosts !== 'stage0') return;
    const dir = this.etcDir(uuid);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (dns.resolv === 'stage0') writeFileSync(join(dir, 'resolv.conf'), renderResolvConf(dns), { mode: 0o644 });
    if (dns.hosts === 'stage0') writeFileSync(join(dir, 'hosts'), renderHosts(dns), { mode: 0o644 });
  }

  /** Bind mounts (-v) that give an app the pod's resolv.conf and hosts; the host's are read-only, as in rkt. */
  private dnsBinds(uuid: string, dns: RktDnsConfig | undefined): string[] {
    const out: string[] = [];
    if (dns?.resolv === 'host') out.push('/etc/resolv.conf:/etc/resolv.conf:ro');
    else if (dns?.resolv === 'stage0') out.push(`${join(this.etcDir(uuid), 'resolv.conf')}:/etc/resolv.conf`);
    if (dns?.hosts === 'host') out.push('/etc/hosts:/etc/hosts:ro');
    else if (dns?.hosts === 'stage0') out.push(`${join(this.etcDir(uuid), 'hosts')}:/etc/hosts`);
    return out;
  }

  /** What the engine resolves for an app's image (an rkt ID becomes tsrun's), and the name tsrkt shows. */
  private imageOf(app: RktAppSpec): { ref: string; display: string } {
    if (!looksLikeRktImageId(app.image)) return { ref: engineImageRef(this.ctx, app.image), display: imageReference(app.image) };
    const rec = findImageByRktId(this.ctx, app.image);
    return { ref: rec.id, display: rec.repoTags[0] ? familiarName(rec.repoTags[0]) : app.image };
  }

  /**
   * embryo -> prepare: resolves the images, writes the manifest, creates the
   * engine pod and one container per app. Returns with the pod in prepare/ and
   * its lock held: the caller moves it on (prepared/ or run/). On failure
   * everything made so far is removed.
   */
  async prepare(
    spec: RktPodSpec,
    podMounts: RktMount[],
    opts: {
      mutable?: boolean;
      onPull?: (ref: string) => void;
      onWarning?: (message: string) => void;
      /** --insecure-options: tls/http for the fetches, capabilities/paths/seccomp for the apps. */
      insecure?: InsecureOptions;
    } = {},
  ): Promise<PreparedPod> {
    const insecure = opts.insecure ?? new Set();
    const registry = registryOptionsFor(insecure);
    const dns = parseDnsFlags(spec);
    await this.checkBeforeImages(spec);
    const { loc: embryo, lock } = this.dirs.createEmbryo();
    let loc: PodLocation = embryo;
    try {
      loc = this.dirs.move(embryo, 'prepare')!;
      const uuid = loc.uuid;
      const hostname = spec.hostname ?? `rkt-${uuid}`;
      const meta: RktPodMeta = {
        uuid, created: new Date().toISOString(), mutable: Boolean(opts.mutable), interactive: spec.interactive, hostname, net: spec.net, apps: [],
        ...(dns.resolv !== 'default' || dns.hosts !== 'default' ? { dns } : {}),
      };
      writeMeta(loc.dir, meta);

      const images: LocalImage[] = [];
      const refs: { ref: string; display: string }[] = [];
      for (const app of spec.apps) {
        const ref = this.imageOf(app);
        refs.push(ref);
        images.push(await resolveImage(this.ctx, ref.ref, { pull: enginePullPolicy(spec.pullPolicy), onPull: opts.onPull, registry }));
      }
      for (const img of images) markImageUsed(this.ctx, img.id);
      const names = new Set<string>();
      const resolved = spec.apps.map((app, i) => {
        const r = this.resolveApp(app, images[i]!, refs[i]!, spec, podMounts, insecureRunOptions(insecure));
        if (names.has(r.name)) throw new UsageError(`two apps are named "${r.name}": give one of them --name`);
        names.add(r.name);
        return r;
      });
      for (const r of resolved) for (const v of r.implicit) opts.onWarning?.(implicitVolumeWarning(v.mountPoint));
      meta.apps = resolved.map((r) => ({
        name: r.name, image: r.image, imageId: r.imageId, rktImageId: r.rktImageId, stdio: r.stdio,
        ...(r.implicit.length > 0 ? { implicitVolumes: r.implicit.map((v) => v.name) } : {}),
      }));
      writeManifest(loc.dir, buildPodManifest(resolved, spec, hostname));
      if (!opts.mutable) meta.recreate = { apps: resolved, volumes: spec.volumes };
      writeMeta(loc.dir, meta);
      this.writeDnsFiles(uuid, dns);

      const publish = this.publishSpecs(spec, images);
      const pod = await this.pods.create({
        name: enginePodName(uuid),
        hostname,
        network: spec.net === 'default' ? 'bridge' : spec.net,
        publish,
        labels: [`${RKT_UUID_LABEL}=${uuid}`],
      });
      meta.enginePod = pod.id;
      writeMeta(loc.dir, meta);

      this.makeEmptyVolumes(uuid, spec.volumes);
      for (let i = 0; i < resolved.length; i++) {
        const record = await this.createApp(uuid, pod, resolved[i]!, spec.volumes, meta.dns);
        meta.apps[i]!.containerId = record.id;
        writeMeta(loc.dir, meta);
      }
      return { loc, lock };
    } catch (err) {
      await this.destroy(this.dirs.find(loc.uuid) ?? loc).catch(() => undefined);
      lock.release();
      throw err;
    }
  }

  /**
   * The flags whose answer is on this host rather than in their syntax (which the CLI checks
   * as it parses): every --net network exists and every --set-env-file reads. Checked before
   * any image is fetched or pod dir made, so a bad flag fails fast and nothing is pulled for it.
   */
  private async checkBeforeImages(spec: RktPodSpec): Promise<void> {
    for (const name of parsePodNetworks(spec.net) ?? []) {
      try {
        await resolveNetwork(this.ctx, name);
      } catch (err) {
        if (err instanceof NotFoundError) throw new UsageError(`--net ${name}: no such network: create it with tsrun network create ${name}`);
        throw err;
      }
    }
    readSetEnvFiles(spec.setEnvFile);
  }

  private resolveApp(
    app: RktAppSpec,
    image: LocalImage,
    ref: { ref: string; display: string },
    spec: RktPodSpec,
    podMounts: RktMount[],
    insecure: readonly InsecureRunOption[] = [],
  ): ResolvedApp {
    const cfg = image.config.config ?? {};
    const base = app.exec !== undefined ? [app.exec] : [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
    const exec = [...base, ...app.args];
    if (exec.length === 0) throw new UsageError(`image ${app.image} has no command to run: give the app --exec`);
    const [imageUser = '0', imageGroup = ''] = (cfg.User || '0').split(':');
    const setEnvFile = readSetEnvFiles(spec.setEnvFile);
    const environment = composeAppEnv({
      parent: spec.inheritEnv ? process.env : undefined,
      imageEnv: cfg.Env ?? [],
      setEnvFile,
      setEnv: spec.setEnv,
      environment: app.environment,
    });
    const name = app.name ?? defaultAppName(ref.display);
    const mountPoints = dockerMountPoints(cfg.Volumes);
    const { mounts, implicit } = planAppMounts(name, mountPoints, podMounts, app.mounts, spec.volumes);
    const stdio: RktStdio = { ...DEFAULT_STDIO, ...app.stdio };
    if (!spec.interactive) engineStdio(stdio, name); // refuses what the engine cannot do
    return {
      name,
      image: ref.display,
      ref: ref.ref,
      imageId: image.id,
      rktImageId: rktImageIdOf(this.ctx, image),
      exec,
      user: app.user ?? imageUser,
      group: app.group ?? imageGroup,
      workingDirectory: app.workingDir ?? (cfg.WorkingDir || '/'),
      environment,
      mountPoints,
      mounts,
      implicit,
      ...(app.memory !== undefined ? { memoryBytes: Number(memoryToBytes(app.memory)) } : {}),
      ...(app.cpu !== undefined ? { cpus: Number(cpuToCpus(app.cpu)) } : {}),
      stdio,
      interactive: spec.interactive,
      ...(insecure.length > 0 ? { insecure: [...insecure] } : {}),
    };
  }

  /** --port NAME:[IP:]PORT -> Docker -p specs, NAME being a port the apps' images expose ("80-tcp"). */
  private publishSpecs(spec: RktPodSpec, images: LocalImage[]): string[] {
    const exposed = new Map<string, string>();
    for (const img of images) for (const p of Object.keys(img.config.config?.ExposedPorts ?? {})) exposed.set(portNameOf(p), p.includes('/') ? p : `${p}/tcp`);
    return spec.ports.map((p) => {
      const target = exposed.get(p.name) ?? (/^\d+-(tcp|udp)$/.test(p.name) ? p.name.replace('-', '/') : undefined);
      if (!target) throw new UsageError(`--port ${p.name}: no app exposes a port of that name (known: ${[...exposed.keys()].join(', ') || 'none'})`);
      return `${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort}:${target}`;
    });
  }

  private makeEmptyVolumes(uuid: string, volumes: readonly RktVolume[]): void {
    for (const v of volumes) {
      if (v.kind !== 'empty') continue;
      const dir = this.volumeDir(uuid, v.name);
      mkdirSync(dir, { recursive: true, mode: v.mode ?? 0o755 });
      if (v.mode !== undefined) chmodSync(dir, v.mode); // whatever the umask
      if (v.uid !== undefined || v.gid !== undefined) chownSync(dir, v.uid ?? 0, v.gid ?? 0);
    }
  }

  /**
   * The engine container of one app: its mounts (pod volumes, implicit
   * volumes, the pod's resolv.conf/hosts), stdio modes and limits. Once it
   * exists (rootfs mounted), implicit volumes take the image's content at their
   * path and --dns=none gives it the image's own resolv.conf.
   */
  private async createApp(uuid: string, pod: PodRecord, app: ResolvedApp, volumes: readonly RktVolume[], dns: RktDnsConfig | undefined): Promise<ContainerRecord> {
    this.makeEmptyVolumes(uuid, app.implicit);
    const volume = app.mounts.map((m) => {
      const v: RktVolume = volumes.find((x) => x.name === m.volume) ?? app.implicit.find((x) => x.name === m.volume)!;
      const source = v.kind === 'host' ? v.source! : this.volumeDir(uuid, v.name);
      return `${source}:${m.path}${m.readOnly ? ':ro' : ''}`;
    });
    volume.push(...this.dnsBinds(uuid, dns));
    const stdio = app.interactive ? { interactive: true, tty: Boolean(process.stdin.isTTY) } : engineStdio(app.stdio, app.name);
    const flags: Record<string, unknown> = {
      name: `rkt-${uuid}-${app.name}`,
      entrypoint: app.exec[0],
      env: app.environment,
      workdir: app.workingDirectory,
      user: app.group ? `${app.user}:${app.group}` : app.user,
      volume,
      label: [`${RKT_UUID_LABEL}=${uuid}`, `${RKT_APP_LABEL}=${app.name}`],
      stopTimeout: String(RKT_STOP_TIMEOUT),
      ...(app.memoryBytes !== undefined ? { memory: String(app.memoryBytes) } : {}),
      ...(app.cpus !== undefined ? { cpus: String(app.cpus) } : {}),
      ...(stdio.interactive ? { interactive: true } : {}),
      ...(stdio.tty ? { tty: true } : {}),
      ...containerFlagsFor(app.insecure ?? []),
    };
    // The image is already local (resolved under the pull policy): never pull again here.
    const record = await this.containers.create({ image: app.ref, command: app.exec.slice(1), flags, pull: 'never', pod: pod.id });
    try {
      const paths = this.containers.store.paths(record.id);
      for (const v of app.implicit) copyUp(resolveInRootfs(paths.rootfs, v.copyFrom), this.volumeDir(uuid, v.name));
      if (dns?.resolv === 'none') {
        let text = '';
        try {
          text = readRootfsFile(paths.rootfs, '/etc/resolv.conf') ?? '';
        } catch {
          /* not a regular file in the image: none */
        }
        writeFileSync(join(paths.etc, 'resolv.conf'), text);
      }
    } catch (err) {
      await this.containers.remove(record, { force: true, volumes: true }).catch(() => undefined);
      throw err;
    }
    return record;
  }

  /** prepare/ -> prepared/ (tsrkt prepare); the lock is released. */
  finishPrepare(p: PreparedPod): PodLocation {
    const loc = this.dirs.move(p.loc, 'prepared');
    p.lock.release();
    if (!loc) throw new StateError(`pod ${p.loc.uuid} vanished while it was being prepared`);
    return loc;
  }

  /** Takes the lock of a prepared pod for run-prepared; ConflictError when someone else works on it. */
  lockPrepared(loc: PodLocation): PreparedPod {
    if (loc.phase !== 'prepared') throw new StateError(`pod ${loc.uuid} is not prepared (it is in ${loc.phase}): only prepared pods can be run`);
    const lock = this.dirs.tryLock(loc);
    if (!lock) throw new ConflictError(`pod ${loc.uuid} is locked by another process (being run or removed)`);
    return { loc, lock };
  }

  /**
   * run-prepared's --dns* / --hosts-entry (the caller merged them with
   * prepare's, dns.ts): the pod's files are rewritten and, since an app's
   * mounts are fixed when its container is made, each app's container is made
   * again from what prepare resolved. The caller holds the pod's lock.
   */
  async changeDns(p: PreparedPod, dns: RktDnsConfig): Promise<void> {
    const meta = readMeta(p.loc.dir);
    if (!meta) throw new StateError(`pod ${p.loc.uuid} has no pod.json: it was not prepared by tsrkt`);
    if (!meta.recreate) throw new StateError(`pod ${p.loc.uuid} was prepared by an older tsrkt: prepare it again to change its DNS settings`);
    const pod = meta.enginePod ? this.pods.store.get(meta.enginePod) : undefined;
    if (!pod) throw new NotFoundError('engine pod', enginePodName(p.loc.uuid));
    meta.dns = dns;
    this.writeDnsFiles(p.loc.uuid, dns);
    writeMeta(p.loc.dir, meta);
    for (let i = 0; i < meta.apps.length; i++) {
      const app = meta.apps[i]!;
      const old = app.containerId ? this.containers.store.get(app.containerId) : undefined;
      if (old) await this.containers.remove(old, { force: true });
      delete app.containerId; // a crash before the new one exists leaves no stale ID
      writeMeta(p.loc.dir, meta);
      app.containerId = (await this.createApp(p.loc.uuid, pod, meta.recreate.apps[i]!, meta.recreate.volumes, dns)).id;
      writeMeta(p.loc.dir, meta);
    }
  }

  /**
   * prepare/ or prepared/ -> run/, then starts the apps detached (each with its
   * monitor and the exit hook that applies rkt's rules). The caller keeps the
   * lock while it waits for the pod, and releases it. Interactive pods start
   * their one app attached and return its exit code.
   */
  async start(p: PreparedPod): Promise<{ loc: PodLocation; exitCode?: number }> {
    const loc = this.dirs.move(p.loc, 'run');
    if (!loc) throw new StateError(`pod ${p.loc.uuid} vanished before it could run`);
    p.loc = loc;
    const meta = readMeta(loc.dir);
    if (!meta) throw new StateError(`pod ${loc.uuid} has no pod.json: it was not prepared by tsrkt`);
    meta.started = new Date().toISOString();
    writeMeta(loc.dir, meta);
    // Rebuilds the shared namespaces if a reboot took them since prepare.
    const pod = meta.enginePod ? this.pods.store.get(meta.enginePod) : undefined;
    if (pod) await ensurePodReady(this.ctx, pod);
    if (meta.interactive) {
      const record = this.appRecord(meta.apps[0]!);
      const exitCode = await this.containers.start(record, { attach: true, interactive: true });
      return { loc, exitCode };
    }
    const failures: string[] = [];
    for (const app of meta.apps) {
      try {
        const record = this.appRecord(app);
        if (this.containers.state(record).status !== 'running') await this.containers.start(record, { attach: false });
      } catch (err) {
        failures.push(`${app.name}: ${describeError(err)}`);
      }
    }
    if (failures.length > 0) {
      // rkt's rule for a failing app: the pod halts.
      claimHalt(loc.dir, { reason: 'app-failed', app: meta.apps.find((a) => failures[0]!.startsWith(`${a.name}:`))?.name, exitCode: 254, at: new Date().toISOString() });
      await this.stopApps(loc, meta, false);
      throw new StateError(`pod ${loc.uuid}: some apps failed to start: ${failures.join('; ')}`);
    }
    return { loc };
  }

  private appRecord(app: RktAppMeta): ContainerRecord {
    const record = app.containerId ? this.containers.store.get(app.containerId) : undefined;
    if (!record) throw new NotFoundError('app container', `${app.name} (${app.containerId ?? 'never created'})`);
    return record;
  }

  /** `holdingLock`: the caller holds the pod's lock itself, so the lock says nothing about others. */
  view(loc: PodLocation, holdingLock = false): RktPodView {
    const meta = readMeta(loc.dir);
    const apps: RktAppView[] = (meta?.apps ?? []).map((a) => {
      const record = a.containerId ? this.containers.store.get(a.containerId) : undefined;
      const rktImageId = a.rktImageId ?? rktImageIdOfStored(this.ctx, a.imageId) ?? a.imageId;
      return { ...a, rktImageId, stdio: a.stdio ?? { ...DEFAULT_STDIO }, ...(record ? { record, state: this.containers.state(record) } : {}) };
    });
    const running = apps.filter((a) => a.state?.status === 'running');
    const locked = !holdingLock && this.dirs.isLocked(loc);
    const state = podState({
      phase: loc.phase,
      locked,
      appRunning: running.length > 0,
      sandboxUp: Boolean(meta?.mutable && meta.started && !meta.sandboxStopped),
    });
    let networks = '';
    const contained = meta && meta.net !== 'host' && meta.net !== 'none';
    if (contained && meta.enginePod && (loc.phase === 'run' || loc.phase === 'prepared')) {
      // rkt's "name:ip4=address" for each network, the default one named "default".
      const endpoint = readEndpoint(networkPaths(this.ctx).stateDir, meta.enginePod);
      networks = endpoint
        ? attachmentsOf(endpoint).map((a) => `${a.network.name === DEFAULT_NETWORK.name ? 'default' : a.network.name}:ip4=${a.ip}`).join(',')
        : '';
    } else if (meta && !contained) networks = meta.net;
    const halt = readHalt(loc.dir);
    return { loc, state, ...(meta ? { meta } : {}), apps, networks, ...(running[0]?.state?.pid ? { pid: running[0].state.pid } : {}), ...(halt ? { halt } : {}) };
  }

  /** Every pod, oldest first. */
  list(): RktPodView[] {
    return this.dirs
      .list()
      .map((loc) => this.view(loc))
      .sort((a, b) => (a.meta?.created ?? '').localeCompare(b.meta?.created ?? ''));
  }

  manifest(loc: PodLocation): PodManifest {
    const m = readManifest(loc.dir);
    if (!m) throw new NotFoundError('pod manifest', loc.uuid);
    return m as PodManifest;
  }

  /**
   * rkt's exit status of a pod: the code of the app whose failure halted it,
   * else the first app (by exit time) that failed, else 0.
   */
  exitCode(v: RktPodView): number {
    if (v.halt?.reason === 'app-failed' && v.halt.exitCode !== undefined) return v.halt.exitCode;
    const failed = v.apps
      .filter((a) => a.state?.status === 'exited' && (a.state.exitCode ?? 0) !== 0)
      .sort((a, b) => (a.state!.finishedAt ?? '').localeCompare(b.state!.finishedAt ?? ''));
    return failed[0]?.state?.exitCode ?? 0;
  }

  /** True once no app runs any more (and the pod is no sandbox that is up). */
  hasEnded(loc: PodLocation): boolean {
    const v = this.view(loc);
    if (v.meta?.mutable && !v.meta.sandboxStopped) return false;
    return !v.apps.some((a) => a.state?.status === 'running');
  }

  /** TERM then KILL after the app's timeout (RKT_STOP_TIMEOUT); force: KILL at once. */
  async stop(loc: PodLocation, opts: { force?: boolean } = {}): Promise<void> {
    if (loc.phase !== 'run') throw new StateError(`pod ${loc.uuid} is not running (it is ${this.view(loc).state})`);
    const meta = readMeta(loc.dir);
    if (!meta) return;
    claimHalt(loc.dir, { reason: 'stopped', at: new Date().toISOString() });
    if (meta.mutable && !meta.sandboxStopped) {
      meta.sandboxStopped = true;
      writeMeta(loc.dir, meta);
    }
    await this.stopApps(loc, meta, Boolean(opts.force));
  }

  /** Stops every running app of the pod except `except` (the exit policy's halt). */
  async stopApps(loc: PodLocation, meta: RktPodMeta, force: boolean, except?: string): Promise<void> {
    const running = meta.apps
      .filter((a) => a.name !== except && a.containerId)
      .map((a) => this.containers.store.get(a.containerId!))
      .filter((r): r is ContainerRecord => r !== undefined && this.containers.state(r).status === 'running');
    await Promise.all(
      running.map((r) => (force ? this.containers.kill(r, 'SIGKILL').catch(() => undefined) : this.containers.stop(r, RKT_STOP_TIMEOUT))),
    );
    if (force) await Promise.all(running.map((r) => this.containers.wait(r)));
  }

  /**
   * rkt rm: removes a pod that is not running, at once (exited, prepared,
   * aborted, garbage). The pod goes to garbage/ (or exited-garbage/) first, so
   * a kill -9 in the middle leaves a pod that gc or another rm finishes.
   */
  async remove(loc: PodLocation): Promise<void> {
    const lock = this.dirs.tryLock(loc);
    if (!lock) throw new ConflictError(`pod ${loc.uuid} is in use (${this.view(loc).state}): stop it first`);
    try {
      const v = this.view(loc, true);
      if (v.state === 'running') throw new ConflictError(`pod ${loc.uuid} is running: stop it before removing it`);
      await this.destroy(loc);
    } finally {
      lock.release();
    }
  }

  /** Moves the pod to its garbage phase, removes its apps, engine pod and volumes, then its directory. */
  private async destroy(loc: PodLocation): Promise<void> {
    let cur = loc;
    if (cur.phase === 'run') cur = this.dirs.move(cur, 'exited-garbage') ?? cur;
    else if (cur.phase !== 'exited-garbage' && cur.phase !== 'garbage') cur = this.dirs.move(cur, 'garbage') ?? cur;
    const meta = readMeta(cur.dir);
    for (const app of meta?.apps ?? []) {
      const record = app.containerId ? this.containers.store.get(app.containerId) : undefined;
      if (record) await this.containers.remove(record, { force: true, volumes: true }); // and any anonymous volume the engine made for it
    }
    // The engine pod by its name finds it even when a crash came before pod.json recorded it.
    let pod: PodRecord | undefined;
    try {
      pod = meta?.enginePod ? this.pods.store.get(meta.enginePod) : undefined;
      pod ??= this.pods.store.lookup(enginePodName(cur.uuid));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (pod) await this.pods.remove(pod, { force: true });
    rmSync(join(rktBase(this.ctx), 'volumes', cur.uuid), { recursive: true, force: true });
    this.dirs.removeDir(cur);
  }

  /**
   * rkt gc: marks exited pods (run/ -> exited-garbage/, which starts their grace
   * period), deletes those whose grace period is over, expires old prepared
   * pods and removes crash debris (aborted prepares, orphaned embryos and
   * garbage). Pods whose lock a live process holds are left alone.
   */
  async gc(opts: GcOptions, now = Date.now()): Promise<GcReport> {
    const report: GcReport = { marked: [], removed: [], failed: [] };
    for (const loc of this.dirs.list()) {
      const v = this.view(loc);
      const action = gcAction({ state: v.state, enteredAt: this.dirs.enteredAt(loc), locked: this.dirs.isLocked(loc) }, now, opts);
      if (action === 'keep') continue;
      const lock = this.dirs.tryLock(loc);
      if (!lock) continue;
      try {
        if (action === 'mark') {
          if (this.view(loc, true).state !== 'exited') continue; // an app was started meanwhile
          const marked = this.dirs.move(loc, 'exited-garbage');
          if (marked) report.marked.push(loc.uuid);
          // A zero grace period sweeps in the same run, as rkt's gc does.
          if (marked && !opts.markOnly && opts.gracePeriodMs <= 0) {
            await this.destroy(marked);
            report.removed.push(loc.uuid);
          }
          continue;
        }
        await this.destroy(loc);
        report.removed.push(loc.uuid);
      } catch (err) {
        report.failed.push({ uuid: loc.uuid, error: describeError(err) });
      } finally {
        lock.release();
      }
    }
    return report;
  }

  /** The app `enter` runs in: --app, else the only app. */
  appFor(v: RktPodView, appName?: string): RktAppView {
    if (appName !== undefined) {
      const a = v.apps.find((x) => x.name === appName);
      if (!a) throw new NotFoundError('app', `${appName} in pod ${v.loc.uuid} (apps: ${v.apps.map((x) => x.name).join(', ') || 'none'})`);
      return a;
    }
    if (v.apps.length === 1) return v.apps[0]!;
    if (v.apps.length === 0) throw new StateError(`pod ${v.loc.uuid} has no apps`);
    throw new UsageError(`pod ${v.loc.uuid} has several apps (${v.apps.map((a) => a.name).join(', ')}): choose one with --app`);
  }

  /** Default command of enter: rkt's /bin/bash, or /bin/sh when the image has no bash. */
  enterCommand(app: RktAppView, cmd: string[]): { command: string[]; note?: string } {
    if (cmd.length > 0) return { command: cmd };
    const rootfs = app.containerId ? this.containers.store.paths(app.containerId).rootfs : '';
    const has = (p: string) => {
      try {
        lstatSync(join(rootfs, p));
        return true;
      } catch {
        return false;
      }
    };
    if (has('bin/bash')) return { command: ['/bin/bash'] };
    return { command: ['/bin/sh'], note: `app ${app.name} has no /bin/bash: entering with /bin/sh` };
  }

  async enter(v: RktPodView, appName: string | undefined, cmd: string[], opts: { tty: boolean; interactive: boolean }): Promise<{ exitCode: number; note?: string }> {
    if (v.state !== 'running') throw new StateError(`pod ${v.loc.uuid} is not running (it is ${v.state})`);
    const app = this.appFor(v, appName);
    if (!app.record || app.state?.status !== 'running') throw new StateError(`app ${app.name} of pod ${v.loc.uuid} is not running`);
    const { command, note } = this.enterCommand(app, cmd);
    const code = await this.containers.exec(app.record, { command, tty: opts.tty, interactive: opts.interactive });
    return { exitCode: code ?? 0, ...(note ? { note } : {}) };
  }

  // ------------------------------------------------------------ mutable pods (rkt app ...)

  /** rkt app sandbox: an empty, mutable pod, running at once. */
  async sandbox(spec: RktPodSpec): Promise<PodLocation> {
    const p = await this.prepare({ ...spec, apps: [] }, [], { mutable: true });
    try {
      const { loc } = await this.start(p);
      return loc;
    } finally {
      p.lock.release();
    }
  }

  private async withMutablePod<T>(loc: PodLocation, fn: (meta: RktPodMeta, loc: PodLocation) => Promise<T>): Promise<T> {
    const v = this.view(loc);
    if (!v.meta?.mutable) throw new StateError(`pod ${loc.uuid} is not mutable: create it with 'tsrkt app sandbox'`);
    if (v.state !== 'running') throw new StateError(`pod ${loc.uuid} is not running (it is ${v.state})`);
    // Serialise app changes of one pod (pod.json is read-modify-write).
    const lock = await FileLock.acquire(join(rktBase(this.ctx), `.app-${loc.uuid}.lock`));
    try {
      const cur = this.dirs.find(loc.uuid);
      const meta = cur && readMeta(cur.dir);
      if (!cur || !meta) throw new NotFoundError('pod', loc.uuid);
      return await fn(meta, cur);
    } finally {
      lock.release();
    }
  }

  /** rkt app add: one app from a local image, created but not started. */
  async addApp(
    loc: PodLocation,
    app: RktAppSpec,
    spec: Pick<RktPodSpec, 'setEnv' | 'setEnvFile' | 'inheritEnv'>,
    opts: { onWarning?: (message: string) => void } = {},
  ): Promise<string> {
    return this.withMutablePod(loc, async (meta, cur) => {
      const ref = this.imageOf(app);
      const image = await resolveImage(this.ctx, ref.ref, { pull: 'never' });
      markImageUsed(this.ctx, image.id);
      const full: RktPodSpec = { ...emptyPodSpec(), ...spec, apps: [app], net: meta.net, pullPolicy: 'never' };
      const resolved = this.resolveApp(app, image, ref, full, []);
      if (meta.apps.some((a) => a.name === resolved.name)) throw new ConflictError(`pod ${cur.uuid} already has an app named ${resolved.name}: give --name`);
      const pod = meta.enginePod ? this.pods.store.get(meta.enginePod) : undefined;
      if (!pod) throw new NotFoundError('engine pod', enginePodName(cur.uuid));
      for (const v of resolved.implicit) opts.onWarning?.(implicitVolumeWarning(v.mountPoint));
      const record = await this.createApp(cur.uuid, pod, resolved, [], meta.dns);
      meta.apps.push({
        name: resolved.name, image: resolved.image, imageId: resolved.imageId, rktImageId: resolved.rktImageId, containerId: record.id, stdio: resolved.stdio,
        ...(resolved.implicit.length > 0 ? { implicitVolumes: resolved.implicit.map((v) => v.name) } : {}),
      });
      writeMeta(cur.dir, meta);
      const manifest = this.manifest(cur);
      manifest.apps.push(appJson(resolved));
      manifest.volumes.push(...resolved.implicit.map(volumeJson));
      writeManifest(cur.dir, manifest);
      return resolved.name;
    });
  }

  /** rkt app start: idempotent. */
  async startApp(loc: PodLocation, name: string): Promise<void> {
    await this.withMutablePod(loc, async (meta) => {
      const app = meta.apps.find((a) => a.name === name);
      if (!app) throw new NotFoundError('app', name);
      const record = this.appRecord(app);
      if (this.containers.state(record).status !== 'running') await this.containers.start(record, { attach: false });
    });
  }

  async stopApp(loc: PodLocation, name: string): Promise<void> {
    await this.withMutablePod(loc, async (meta) => {
      const app = meta.apps.find((a) => a.name === name);
      if (!app) throw new NotFoundError('app', name);
      await this.containers.stop(this.appRecord(app), RKT_STOP_TIMEOUT);
    });
  }

  async removeApp(loc: PodLocation, name: string): Promise<void> {
    await this.withMutablePod(loc, async (meta, cur) => {
      const app = meta.apps.find((a) => a.name === name);
      if (!app) throw new NotFoundError('app', name);
      const record = app.containerId ? this.containers.store.get(app.containerId) : undefined;
      if (record) await this.containers.remove(record, { force: true, volumes: true });
      meta.apps = meta.apps.filter((a) => a.name !== name);
      writeMeta(cur.dir, meta);
      // Its implicit volumes go with it: an app added again under its name starts from the image's content.
      const implicit = new Set(app.implicitVolumes ?? []);
      for (const v of implicit) rmSync(this.volumeDir(cur.uuid, v), { recursive: true, force: true });
      const manifest = this.manifest(cur);
      manifest.apps = manifest.apps.filter((a) => (a as { name: string }).name !== name);
      manifest.volumes = manifest.volumes.filter((v) => !implicit.has((v as { name: string }).name));
      writeManifest(cur.dir, manifest);
    });
  }
}
