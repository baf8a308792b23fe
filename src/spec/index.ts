// Image config + Docker run options -> OCI runtime config.json (the Spec).
// Deterministic: the same inputs (and host facts) give the same document.
// The only I/O is reading the image's /etc/passwd and /etc/group (safely,
// inside rootfsDir) and the host facts of SpecHost, which callers may supply.
import { SpecError, UsageError } from '../errors.js';
import type { ImageConfig } from '../oci/image.js';
import type { LinuxDevice, LinuxDeviceCgroup, LinuxResources, Mount, NamespaceType, Process, Spec } from '../oci/runtime.js';
import { computeCapabilities } from './capabilities.js';
import {
  CPU_PERIOD,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH,
  DEFAULT_READONLY_PATHS,
  OCI_VERSION,
  defaultDeviceRules,
  defaultDevices,
  defaultMounts,
  privilegedDeviceRules,
} from './defaults.js';
import { resolveHost, type ResolvedHost, type SpecHost } from './host.js';
import { mountDepth, toOciMount } from './mounts.js';
import type { ExecOptions, NamespaceMode, RunOptions } from './options.js';
import { defaultSeccompProfile } from './seccomp-default.js';
import { buildRlimits } from './rlimits.js';
import { parseSignal } from './units.js';
import { resolveUser } from './user.js';

export * from './options.js';
export type { SpecHost, DeviceInfo } from './host.js';
export { resolveUser, resolveUserFrom, parsePasswd, parseGroup, type ResolvedUser } from './user.js';
export { resolveInRootfs, readRootfsFile } from './rootfs.js';
export { RLIMIT_UNLIMITED } from './rlimits.js';
export { parseBool, parseBytes, parseSignal, signalNumber } from './units.js';
export { DEFAULT_SHM_SIZE } from './defaults.js';
export { imageVolumeRequests, validateVolumeName, VOLUME_NAME_PATTERN } from './mounts.js';

/** Where --init's binary is mounted, and what runs as PID 1 (Docker's path). */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

/**
 * The process arguments by Docker's rules:
 * - --entrypoint X: [X, ...user args] (the image's Cmd is dropped)
 * - otherwise: entrypoint (the image's, or none after --entrypoint '') followed
 *   by the user's args, or the image's Cmd when there are none.
 */
export function composeArgs(image: ImageConfig, opts: Pick<RunOptions, 'entrypoint' | 'command'>): string[] {
  const cfg = image.config ?? {};
  const userArgs = opts.command ?? [];
  let args: string[];
  if (opts.entrypoint !== undefined && opts.entrypoint.length > 0) args = [...opts.entrypoint, ...userArgs];
  else {
    const entrypoint = opts.entrypoint ?? cfg.Entrypoint ?? [];
    const cmd = userArgs.length > 0 ? userArgs : (cfg.Cmd ?? []);
    args = [...entrypoint, ...cmd];
  }
  if (args.length === 0) throw new UsageError('no command specified: the image has no Entrypoint or Cmd, and none was given');
  return args;
}

/**
 * The signal `stop` sends first: --stop-signal, else the image's StopSignal,
 * else SIGTERM; canonical name ("SIGTERM") or number string.
 */
export function effectiveStopSignal(image: ImageConfig, opts: Pick<RunOptions, 'stopSignal'>): string {
  if (opts.stopSignal) return opts.stopSignal;
  const fromImage = image.config?.StopSignal;
  if (fromImage) {
    try {
      return parseSignal(fromImage, 'the image StopSignal');
    } catch {
      // A broken image value should not make the container unstoppable.
    }
  }
  return 'SIGTERM';
}

/**
 * Apply env entries to a list, Docker's way: "K=V" replaces K in place or is
 * appended; a bare "K" removes K.
 */
export function applyEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out = [...base];
  for (const entry of overrides) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    const i = out.findIndex((e) => e === key || e.startsWith(`${key}=`));
    if (eq < 0) {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = entry;
    else out.push(entry);
  }
  return out;
}

function envHas(env: readonly string[], key: string): boolean {
  return env.some((e) => e.startsWith(`${key}=`));
}

/**
 * The container's env: PATH (default), HOSTNAME, TERM=xterm with a tty, then
 * the image's Env and the user's -e/--env-file applied over them (later wins),
 * then HOME from passwd when still unset.
 */
export function composeEnv(
  imageEnv: readonly string[],
  userEnv: readonly string[],
  ctx: { hostname?: string; tty?: boolean; home: string },
): string[] {
  const base = [`PATH=${DEFAULT_PATH}`];
  if (ctx.hostname) base.push(`HOSTNAME=${ctx.hostname}`);
  if (ctx.tty) base.push('TERM=xterm');
  const env = applyEnv(applyEnv(base, imageEnv), userEnv);
  if (!envHas(env, 'HOME')) env.push(`HOME=${ctx.home}`);
  return env;
}

function joinedPath(kind: 'network' | 'ipc' | 'uts' | 'pid', mode: NamespaceMode, paths: RunOptions['namespacePaths']): string | undefined {
  if (mode.mode === 'path') return mode.path!;
  const given = paths?.[kind];
  if (mode.mode === 'container' && !given) {
    throw new SpecError(`--${kind} container:${mode.container}: the container's ${kind} namespace path was not resolved (namespacePaths.${kind})`);
  }
  return given;
}

/**
 * Namespaces in Docker's order (mount, network, uts, pid, ipc, cgroup); "host" modes share the caller's.
 * The cgroup namespace is private unless --cgroupns host (Docker's default on cgroup v2; tsrun's on every host).
 */
export function buildNamespaces(opts: RunOptions): { type: NamespaceType; path?: string }[] {
  const out: { type: NamespaceType; path?: string }[] = [{ type: 'mount' }];
  const add = (type: NamespaceType, kind: 'network' | 'ipc' | 'uts' | 'pid', mode: NamespaceMode) => {
    if (mode.mode === 'host') return;
    const path = joinedPath(kind, mode, opts.namespacePaths);
    out.push(path ? { type, path } : { type });
  };
  add('network', 'network', opts.network ?? { mode: 'bridge', network: 'bridge' });
  add('uts', 'uts', opts.uts ?? { mode: 'private' });
  add('pid', 'pid', opts.pid ?? { mode: 'private' });
  add('ipc', 'ipc', opts.ipc ?? { mode: 'private' });
  if (opts.cgroupns !== 'host') out.push({ type: 'cgroup' });
  return out;
}

/**
 * Mounts in Docker's order: the standard mounts (minus any a user mount
 * replaces), then the user's mounts, the /etc files and the init binary,
 * sorted parents-first by path depth (stable, so equal depths keep the
 * order -v, --mount, --tmpfs, /etc/resolv.conf, /etc/hostname, /etc/hosts).
 */
export function buildMounts(opts: RunOptions): Mount[] {
  const ipc = opts.ipc ?? { mode: 'private' };
  const ownShm = ipc.mode === 'private' || ipc.mode === 'shareable' || ((ipc.mode === 'container' || ipc.mode === 'path') && !opts.shmSource);
  const defaults = defaultMounts({ privileged: !!opts.privileged, shmSize: opts.shmSize, shm: ownShm });
  const bind = (source: string, destination: string, readonly: boolean): Mount => ({
    destination,
    type: 'bind',
    source,
    options: ['rbind', 'rprivate', ...(readonly ? ['ro'] : [])],
  });
  if (ipc.mode === 'host') defaults.push(bind('/dev/shm', '/dev/shm', false));
  else if (opts.shmSource && (ipc.mode === 'container' || ipc.mode === 'path')) defaults.push(bind(opts.shmSource, '/dev/shm', false));

  const user = (opts.mounts ?? []).map(toOciMount);
  const userTargets = new Set(user.map((m) => m.destination));
  const extra: Mount[] = [...user];
  const etc = opts.etcFiles ?? {};
  const etcList: [string | undefined, string][] = [
    [etc.resolvConf, '/etc/resolv.conf'],
    [etc.hostname, '/etc/hostname'],
    [etc.hosts, '/etc/hosts'],
  ];
  for (const [source, destination] of etcList) {
    // A user's own mount of the same file wins, as in Docker.
    if (source && !userTargets.has(destination)) extra.push(bind(source, destination, !!opts.readOnly));
  }
  if (opts.init) {
    if (!opts.initPath) throw new SpecError('--init needs an init binary (RunOptions.initPath): none was found');
    extra.push(bind(opts.initPath, INIT_PATH_IN_CONTAINER, true));
  }
  const sorted = extra.map((m, i) => ({ m, i })).sort((a, b) => mountDepth(a.m.destination) - mountDepth(b.m.destination) || a.i - b.i);
  return [...defaults.filter((d) => !userTargets.has(d.destination)), ...sorted.map((s) => s.m)];
}

function deviceRule(d: { type: 'c' | 'b'; major: number; minor: number }, access: string): LinuxDeviceCgroup {
  return { allow: true, type: d.type, major: d.major, minor: d.minor, access };
}

/** Device nodes and device-cgroup rules: the defaults, --device additions, everything with --privileged. */
export function buildDevices(opts: RunOptions, host: ResolvedHost): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  const devices = new Map<string, LinuxDevice>();
  for (const d of defaultDevices()) devices.set(d.path, d);
  const rules = opts.privileged ? privilegedDeviceRules() : defaultDeviceRules();
  if (opts.privileged) for (const d of host.hostDevices()) devices.set(d.path, d);
  for (const req of opts.devices ?? []) {
    const info = host.statDevice(req.hostPath);
    devices.set(req.containerPath, {
      path: req.containerPath,
      type: info.type,
      major: info.major,
      minor: info.minor,
      fileMode: info.mode,
      uid: info.uid,
      gid: info.gid,
    });
    if (!opts.privileged) rules.push(deviceRule(info, req.permissions));
  }
  return { devices: [...devices.values()], rules };
}

/** linux.resources from the resource flags (Docker's derivations: swap defaults to twice the memory, --cpus as quota/period). */
export function buildResources(opts: RunOptions, rules: LinuxDeviceCgroup[], host: ResolvedHost): LinuxResources {
  const r = opts.resources ?? {};
  const out: LinuxResources = { devices: rules };

  const memory: NonNullable<LinuxResources['memory']> = {};
  if (r.memory !== undefined) {
    memory.limit = r.memory;
    // Docker: with --memory and no --memory-swap, swap may use as much again.
    memory.swap = r.memorySwap ?? r.memory * 2;
  } else if (r.memorySwap === -1) memory.swap = -1;
  if (r.memoryReservation !== undefined && r.memoryReservation > 0) memory.reservation = r.memoryReservation;
  if (r.memorySwappiness !== undefined) memory.swappiness = r.memorySwappiness;
  if (r.oomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length > 0) out.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (r.cpuShares !== undefined) cpu.shares = r.cpuShares;
  if (r.nanoCpus !== undefined) {
    const count = host.cpuCount();
    if (r.nanoCpus < 1e7 || r.nanoCpus > count * 1e9) {
      throw new UsageError(`invalid --cpus ${r.nanoCpus / 1e9}: the range of CPUs is from 0.01 to ${count}.00, as there are only ${count} CPUs available`);
    }
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.floor((r.nanoCpus * CPU_PERIOD) / 1e9);
  }
  if (r.cpuQuota !== undefined) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod !== undefined) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus !== undefined) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems !== undefined) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  // The OCI runtimes write "max" for a negative limit.
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit > 0 ? r.pidsLimit : -1 };

  const blockIO: NonNullable<LinuxResources['blockIO']> = {};
  if (r.blkioWeight !== undefined) blockIO.weight = r.blkioWeight;
  const rates = (list: { path: string; rate: number }[] | undefined) =>
    list?.map((d) => {
      const info = host.statDevice(d.path);
      if (info.type !== 'b') throw new UsageError(`cannot limit I/O of ${d.path}: not a block device`);
      return { major: info.major, minor: info.minor, rate: d.rate };
    });
  const readBps = rates(r.deviceReadBps);
  const writeBps = rates(r.deviceWriteBps);
  if (readBps?.length) blockIO.throttleReadBpsDevice = readBps;
  if (writeBps?.length) blockIO.throttleWriteBpsDevice = writeBps;
  if (Object.keys(blockIO).length > 0) out.blockIO = blockIO;
  return out;
}

/**
 * The OCI config for a container of `image` run with `opts`. rootfsDir is the
 * container's (mounted) root filesystem: spec.root.path is set to it, and its
 * /etc/passwd and /etc/group resolve the user. Warnings (clamped ulimits,
 * capabilities the caller lacks) go to host.warn.
 *
 * The engine fills these RunOptions before calling: hostname (default: the
 * short container id), etcFiles, namespacePaths (container:X joins and the
 * bridge netns), shmSource, initPath, cgroupsPath.
 */
export function buildSpec(image: ImageConfig, opts: RunOptions, rootfsDir: string, hostFacts: SpecHost = {}): Spec {
  const host = resolveHost(hostFacts);
  const cfg = image.config ?? {};
  const privileged = !!opts.privileged;

  let args = composeArgs(image, opts);
  if (opts.init) args = [INIT_PATH_IN_CONTAINER, '--', ...args];

  const user = resolveUser(rootfsDir, opts.user ?? cfg.User, opts.groupAdd ?? []);
  const env = composeEnv(cfg.Env ?? [], opts.env ?? [], { hostname: opts.hostname, tty: opts.tty, home: user.home });
  const cwd = opts.workdir ?? (cfg.WorkingDir ? (cfg.WorkingDir.startsWith('/') ? cfg.WorkingDir : `/${cfg.WorkingDir}`) : '/');

  const caps = computeCapabilities(opts, host.boundingCapabilities(), host.warn);
  const rlimits = buildRlimits(opts.ulimits ?? [], host.processLimits(), host.warn);

  const proc: Process = {
    terminal: !!opts.tty,
    user: { uid: user.uid, gid: user.gid },
    args,
    env,
    cwd,
    capabilities: { bounding: caps, effective: [...caps], permitted: [...caps] },
    noNewPrivileges: !!opts.noNewPrivileges,
  };
  if (user.additionalGids.length > 0) proc.user.additionalGids = user.additionalGids;
  if (rlimits.length > 0) proc.rlimits = rlimits;

  const { devices, rules } = buildDevices(opts, host);
  const uts = opts.uts ?? { mode: 'private' };
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: proc,
    root: { path: rootfsDir, readonly: !!opts.readOnly },
  };
  // A hostname needs a UTS namespace of our own.
  if (opts.hostname && uts.mode === 'private') spec.hostname = opts.hostname;
  spec.mounts = buildMounts(opts);
  if (opts.annotations && Object.keys(opts.annotations).length > 0) spec.annotations = { ...opts.annotations };

  spec.linux = {
    namespaces: buildNamespaces(opts),
    devices,
    resources: buildResources(opts, rules, host),
  };
  if (opts.cgroupsPath) spec.linux.cgroupsPath = opts.cgroupsPath;
  if (opts.sysctls && Object.keys(opts.sysctls).length > 0) spec.linux.sysctl = { ...opts.sysctls };
  if (!privileged && !opts.unmaskSystemPaths) {
    spec.linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    spec.linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
  }
  // Docker's default profile, unless --privileged or --security-opt seccomp=unconfined.
  if (!privileged && opts.seccomp !== 'unconfined') spec.linux.seccomp = defaultSeccompProfile(caps);
  return spec;
}

/**
 * The process for `exec` in a container built from `spec`: the container's
 * env with -e applied, its cwd unless -w, its user unless -u (resolved in
 * rootfsDir; HOME follows the new user unless -e sets it), a terminal with
 * -t (TERM=xterm when unset), all available capabilities with --privileged.
 */
export function buildExecProcess(spec: Spec, exec: ExecOptions, rootfsDir: string, hostFacts: SpecHost = {}): Process {
  const base = spec.process;
  if (!base) throw new SpecError('the container has no process in its config: cannot exec');
  if (exec.command.length === 0) throw new UsageError('no command specified for exec');
  const execEnv = exec.env ?? [];
  let env = [...(base.env ?? [])];
  let user = { ...base.user };
  if (exec.user !== undefined) {
    const resolved = resolveUser(rootfsDir, exec.user);
    user = { uid: resolved.uid, gid: resolved.gid };
    if (resolved.additionalGids.length > 0) user.additionalGids = resolved.additionalGids;
    env = applyEnv(env, [`HOME=${resolved.home}`]);
  }
  if (exec.tty && !envHas(env, 'TERM')) env.push('TERM=xterm');
  env = applyEnv(env, execEnv);

  const proc: Process = {
    terminal: !!exec.tty,
    user,
    args: [...exec.command],
    env,
    cwd: exec.workdir ?? base.cwd,
    noNewPrivileges: !!base.noNewPrivileges,
  };
  if (exec.privileged) {
    const host = resolveHost(hostFacts);
    const caps = computeCapabilities({ privileged: true }, host.boundingCapabilities(), host.warn);
    proc.capabilities = { bounding: caps, effective: [...caps], permitted: [...caps] };
  } else if (base.capabilities) {
    proc.capabilities = structuredClone(base.capabilities);
  }
  if (base.rlimits) proc.rlimits = structuredClone(base.rlimits);
  return proc;
}
