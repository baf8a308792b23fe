// Docker `run`/`create` flags, parsed and validated into RunOptions. The CLI
// declares the flags (cli/docker/run-flags.ts) and hands commander's option
// object to parseRunFlags; everything about their values lives here.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import { ALL_CAPABILITIES, MIN_MEMORY, NAMESPACED_SYSCTLS } from './defaults.js';
import { parseMount, parseTmpfs, parseVolume, parseVolumesFrom, type MountRequest, type VolumesFromRequest } from './mounts.js';
import { parseBool, parseBytes, parseCpuList, parseInteger, parseNanoCpus, parseSignal } from './units.js';

export type { MountRequest, VolumesFromRequest } from './mounts.js';

/**
 * How one namespace is set up.
 * - private: a new namespace (the default for every kind)
 * - host: the caller's namespace
 * - none: network: a new namespace with loopback only; ipc: a new namespace without /dev/shm
 * - bridge: network only: a new namespace the engine connects to `network` ("bridge" by default)
 * - shareable: ipc only: private, but others may join it (Docker's term)
 * - container: join the namespace of container `container` (the engine resolves it to a path)
 * - path: join the namespace file at `path` ("ns:/proc/123/ns/net", "ns:/run/netns/x")
 */
export interface NamespaceMode {
  mode: 'private' | 'host' | 'none' | 'bridge' | 'shareable' | 'container' | 'path';
  container?: string;
  path?: string;
  network?: string;
}

export interface Ulimit {
  /** Docker's short name: nofile, nproc, core... */
  name: string;
  /** -1 means unlimited. */
  soft: number;
  hard: number;
}

export interface DeviceRequest {
  hostPath: string;
  containerPath: string;
  /** Subset of "rwm". */
  permissions: string;
}

export interface PortMapping {
  /** "" = all addresses. */
  hostIp: string;
  /** 0 = any free port. */
  hostPort: number;
  /** Set when a host range was given for one container port: pick a free port in [hostPort, hostPortEnd]. */
  hostPortEnd?: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /** on-failure only; 0 = unlimited. */
  maxRetries?: number;
}

export interface DeviceRate {
  /** Host device path; the engine/spec stats it for major:minor. */
  path: string;
  /** Bytes per second. */
  rate: number;
}

export interface ResourceOptions {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap in bytes; -1 = unlimited swap. */
  memorySwap?: number;
  memoryReservation?: number;
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  /** --cpus as nano-CPUs (1.5 CPUs = 1_500_000_000). */
  nanoCpus?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** <= 0 means unlimited. */
  pidsLimit?: number;
  blkioWeight?: number;
  deviceReadBps?: DeviceRate[];
  deviceWriteBps?: DeviceRate[];
}

/** Host paths the engine prepared, bind-mounted over the image's files. */
export interface EtcFilePaths {
  hosts?: string;
  hostname?: string;
  resolvConf?: string;
}

/**
 * Docker run flags, parsed. Every field is optional so other front ends can
 * build one by hand; buildSpec treats a missing field as Docker's default.
 */
export interface RunOptions {
  /** Arguments after the image name; empty = the image's Cmd. */
  command?: string[];
  /** undefined = the image's; [] = reset by --entrypoint ''; [x] = --entrypoint x (one word, never split). */
  entrypoint?: string[];
  /** In order (env files first, then -e): "K=V" sets, a bare "K" removes K from the image's env. */
  env?: string[];
  workdir?: string;
  user?: string;
  groupAdd?: string[];
  tty?: boolean;
  interactive?: boolean;
  hostname?: string;
  readOnly?: boolean;
  privileged?: boolean;
  init?: boolean;
  /** Normalised "CAP_X" names or "ALL". */
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /** --security-opt seccomp=unconfined. The spec carries no seccomp profile yet either way. */
  seccomp?: 'default' | 'unconfined';
  /** --security-opt systempaths=unconfined: no masked or read-only /proc and /sys paths. */
  unmaskSystemPaths?: boolean;
  ulimits?: Ulimit[];
  sysctls?: Record<string, string>;
  /** "host:ip", validated (ip may be "host-gateway", for the engine to resolve). */
  addHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  /** --network-alias: more names peers on a user network resolve the container by. */
  networkAliases?: string[];
  publish?: PortMapping[];
  publishAll?: boolean;
  network?: NamespaceMode;
  ipc?: NamespaceMode;
  uts?: NamespaceMode;
  pid?: NamespaceMode;
  /** Default private: every container gets its own cgroup namespace (Docker on cgroup v1 hosts shares the host's). */
  cgroupns?: 'host' | 'private';
  /** Bytes of /dev/shm. */
  shmSize?: number;
  devices?: DeviceRequest[];
  /** -v, --mount and --tmpfs, in that order. */
  mounts?: MountRequest[];
  /** --volumes-from, in order: the engine adds the other containers' mounts that -v, --mount and --tmpfs leave free. */
  volumesFrom?: VolumesFromRequest[];
  /** --volume-driver: already applied to -v's volumes; the engine applies it to the image's VOLUME paths. */
  volumeDriver?: string;
  /** Canonical name ("SIGTERM") or number string. */
  stopSignal?: string;
  stopTimeout?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resources?: ResourceOptions;
  restart?: RestartPolicy;
  autoRemove?: boolean;
  cgroupParent?: string;
  /** Notes for the user found while parsing (the CLI prints them as "WARNING: ..."). */
  warnings?: string[];

  // ---- Filled in by the engine before buildSpec, never by parseRunFlags ----
  /** Host paths of the per-container /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etcFiles?: EtcFilePaths;
  /** Namespace files to join: for container:X modes, and the netns the engine prepared for bridge mode. */
  namespacePaths?: Partial<Record<'network' | 'ipc' | 'uts' | 'pid', string>>;
  /** Host path bind-mounted at /dev/shm when joining another container's IPC namespace. */
  shmSource?: string;
  /** Host path of the init binary (tini or similar) for --init; mounted at /sbin/docker-init. */
  initPath?: string;
  /** cgroupsPath of the spec, e.g. "/tsrun/<id>". */
  cgroupsPath?: string;
}

/** Where parseRunFlags looks things up; injectable for tests. */
export interface ParseContext {
  /** For "-e VAR" and bare env-file lines (default process.env). */
  hostEnv?: Record<string, string | undefined>;
  /** To resolve "-v ./dir:/x" (default process.cwd()). */
  cwd?: string;
  /** To read --env-file files (default fs.readFileSync as UTF-8). */
  readFile?: (path: string) => string;
}

// ---------------------------------------------------------------- helpers

/** Repeatable flags arrive as string[]; accept a lone string too. */
function list(value: unknown, flag: string): string[] {
  if (value === undefined || value === null || value === false) return [];
  if (Array.isArray(value)) return value.map((v) => String(v));
  if (typeof value === 'string' || typeof value === 'number') return [String(value)];
  throw new UsageError(`invalid value for ${flag}: expected a string or a list of strings`);
}

function single(value: unknown, flag: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    return String(value[value.length - 1]); // the last occurrence wins, like Docker
  }
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  throw new UsageError(`invalid value for ${flag}: expected a string`);
}

function splitKeyValue(item: string, flag: string, requireEquals: boolean): [string, string] {
  const eq = item.indexOf('=');
  if (eq < 0 && requireEquals) throw new UsageError(`invalid value "${item}" for ${flag}: expected key=value`);
  const key = eq < 0 ? item : item.slice(0, eq);
  if (key.trim() === '') throw new UsageError(`invalid value "${item}" for ${flag}: empty key`);
  return [key, eq < 0 ? '' : item.slice(eq + 1)];
}

// ---------------------------------------------------------------- env

/**
 * -e VAR=value, or -e VAR: copies the host's value when set; otherwise the
 * bare name is kept, which removes VAR from the image's env (Docker's rule).
 */
export function parseEnvFlag(item: string, hostEnv: Record<string, string | undefined> = process.env): string {
  const eq = item.indexOf('=');
  const key = eq < 0 ? item : item.slice(0, eq);
  if (key === '') throw new UsageError(`invalid environment variable: "${item}"`);
  if (eq >= 0) return item;
  const host = hostEnv[key];
  return host === undefined ? key : `${key}=${host}`;
}

/**
 * The lines of an --env-file: "VAR=value" (value kept verbatim, quotes and
 * trailing spaces included) or "VAR" (copied from the host when set, else
 * skipped). Only a line whose first non-blank character is # is a comment.
 */
export function parseEnvFile(text: string, file: string, hostEnv: Record<string, string | undefined> = process.env): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    const where = `${file} line ${index + 1}`;
    if (name === '') throw new UsageError(`invalid env file ${where}: no variable name in "${line}"`);
    if (/\s/.test(name)) throw new UsageError(`invalid env file ${where}: variable "${name}" contains whitespace`);
    if (eq >= 0) out.push(line);
    else if (hostEnv[name] !== undefined) out.push(`${name}=${hostEnv[name]}`);
  });
  return out;
}

// ---------------------------------------------------------------- capabilities and security

/** "net_admin", "CAP_NET_ADMIN", "all" -> "CAP_NET_ADMIN" / "ALL"; unknown names are refused. */
export function normalizeCapability(name: string, known: readonly string[]): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const cap = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!known.includes(cap)) throw new UsageError(`unknown capability: "${name}"`);
  return cap;
}

export interface SecurityOptions {
  noNewPrivileges?: boolean;
  seccomp?: 'default' | 'unconfined';
  unmaskSystemPaths?: boolean;
}

/** --security-opt values: no-new-privileges[:true|false], seccomp=unconfined, systempaths=unconfined; label/apparmor "off" values as no-ops. */
export function parseSecurityOpts(items: readonly string[]): SecurityOptions {
  const out: SecurityOptions = {};
  for (const item of items) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/.exec(item.trim());
    const key = m?.[1];
    const value = m?.[2];
    if (key === 'no-new-privileges') {
      out.noNewPrivileges = value === undefined ? true : parseBool(value, `--security-opt ${item}`);
    } else if (key === 'seccomp' && (value === 'unconfined' || value === 'default' || value === 'builtin')) {
      out.seccomp = value === 'unconfined' ? 'unconfined' : 'default';
    } else if (key === 'seccomp' && value !== undefined) {
      throw new UsageError(`--security-opt ${item}: seccomp profiles from files are not supported yet (only seccomp=unconfined)`);
    } else if (key === 'systempaths' && value === 'unconfined') {
      out.unmaskSystemPaths = true;
    } else if ((key === 'label' && value === 'disable') || (key === 'apparmor' && value === 'unconfined')) {
      // Neither SELinux nor AppArmor is applied by tsrun: turning them off is already true.
    } else if (key === 'label' || key === 'apparmor') {
      throw new UsageError(`--security-opt ${item}: ${key} profiles are not supported (tsrun applies neither SELinux nor AppArmor)`);
    } else {
      throw new UsageError(`invalid --security-opt "${item}"`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- ulimits, sysctls, hosts, devices, ports

/** RLIMIT_* by Docker's --ulimit name. */
export const ULIMIT_TYPES: Record<string, string> = {
  as: 'RLIMIT_AS',
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

/** --ulimit name=soft[:hard]; -1 = unlimited; soft must not exceed hard. */
export function parseUlimit(item: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(item.trim());
  if (!m) throw new UsageError(`invalid ulimit argument "${item}": expected name=soft[:hard]`);
  const name = m[1]!;
  if (!(name in ULIMIT_TYPES)) throw new UsageError(`invalid ulimit type "${name}" in "${item}" (one of ${Object.keys(ULIMIT_TYPES).join(', ')})`);
  const soft = parseInteger(m[2]!, `--ulimit ${name}`, -1);
  const hard = m[3] === undefined ? soft : parseInteger(m[3], `--ulimit ${name}`, -1);
  const rank = (v: number) => (v === -1 ? Infinity : v);
  if (rank(soft) > rank(hard)) throw new UsageError(`invalid ulimit "${item}": soft limit ${soft} is greater than hard limit ${hard}`);
  return { name, soft, hard };
}

/**
 * Only namespaced sysctls may be set, and not in a namespace shared with the
 * host (Docker's validation).
 */
export function validateSysctl(key: string, modes: { network: NamespaceMode; ipc: NamespaceMode; uts: NamespaceMode }): void {
  const shared = (m: NamespaceMode) => m.mode === 'host' || m.mode === 'container' || m.mode === 'path';
  const isIpc = (NAMESPACED_SYSCTLS.ipc as readonly string[]).includes(key) || NAMESPACED_SYSCTLS.ipcPrefixes.some((p) => key.startsWith(p));
  const isNet = NAMESPACED_SYSCTLS.netPrefixes.some((p) => key.startsWith(p));
  if (key === 'kernel.hostname') throw new UsageError(`sysctl "${key}" is not allowed: use --hostname`);
  if (key === 'kernel.domainname') {
    if (modes.uts.mode === 'host') throw new UsageError(`sysctl "${key}" is not allowed with --uts=host`);
    return;
  }
  if (isIpc) {
    if (shared(modes.ipc)) throw new UsageError(`sysctl "${key}" is not allowed: the IPC namespace is shared (--ipc ${describeMode(modes.ipc)})`);
    return;
  }
  if (isNet) {
    if (shared(modes.network)) throw new UsageError(`sysctl "${key}" is not allowed: the network namespace is shared (--network ${describeMode(modes.network)})`);
    return;
  }
  throw new UsageError(`sysctl "${key}" is not allowed: only namespaced sysctls (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*) can be set`);
}

function describeMode(m: NamespaceMode): string {
  if (m.mode === 'container') return `container:${m.container}`;
  if (m.mode === 'path') return `ns:${m.path}`;
  return m.mode;
}

const HOSTNAME_RE = /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

/** --hostname: RFC 1123 labels, at most 64 characters (HOST_NAME_MAX). */
export function parseHostname(value: string): string {
  if (value.length > 64 || !HOSTNAME_RE.test(value)) throw new UsageError(`invalid hostname format: "${value}"`);
  return value;
}

/** --add-host name:ip (or name=ip); the ip may be "host-gateway". Returns "name:ip". */
export function parseAddHost(item: string): string {
  const sep = /^[^:=]*[:=]/.exec(item);
  if (!sep) throw new UsageError(`invalid --add-host "${item}": expected name:ip`);
  const name = item.slice(0, sep[0].length - 1);
  let ip = item.slice(sep[0].length);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (name === '' || /\s/.test(name)) throw new UsageError(`invalid --add-host "${item}": bad host name`);
  if (ip !== 'host-gateway' && isIP(ip) === 0) throw new UsageError(`invalid --add-host "${item}": "${ip}" is not an IP address`);
  return `${name}:${ip}`;
}

function validDeviceMode(mode: string): boolean {
  return mode !== '' && /^[rwm]+$/.test(mode) && new Set(mode).size === mode.length;
}

/** --device /dev/x[:/dev/y][:rwm]. */
export function parseDevice(item: string): DeviceRequest {
  const parts = item.split(':');
  if (parts.length > 3 || parts[0] === '') throw new UsageError(`invalid --device "${item}": expected /dev/host[:/dev/container][:rwm]`);
  const hostPath = parts[0]!;
  let containerPath = hostPath;
  let permissions = 'rwm';
  if (parts.length === 3) {
    containerPath = parts[1]!;
    permissions = parts[2]!;
    if (!validDeviceMode(permissions)) throw new UsageError(`invalid --device "${item}": bad permissions "${permissions}" (a subset of rwm)`);
  } else if (parts.length === 2) {
    if (validDeviceMode(parts[1]!)) permissions = parts[1]!;
    else containerPath = parts[1]!;
  }
  if (!hostPath.startsWith('/')) throw new UsageError(`invalid --device "${item}": the host path "${hostPath}" must be absolute`);
  if (!containerPath.startsWith('/')) throw new UsageError(`invalid --device "${item}": the container path "${containerPath}" must be absolute`);
  return { hostPath: posix.normalize(hostPath), containerPath: posix.normalize(containerPath), permissions };
}

function parsePortRange(text: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`invalid ${what}: "${text}" is not a port or port range`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || hi < lo) throw new UsageError(`invalid ${what}: port range "${text}" must lie within 1-65535`);
  return [lo, hi];
}

/** -p [ip:][hostPort:]containerPort[/proto]; ranges "8000-8001:80-81"; IPv6 as "[::1]:8080:80". */
export function parsePublish(item: string): PortMapping[] {
  const what = `--publish "${item}"`;
  let rest = item;
  let protocol: PortMapping['protocol'] = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const proto = rest.slice(slash + 1).toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new UsageError(`invalid ${what}: unknown protocol "${proto}"`);
    protocol = proto;
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']:');
    if (close < 0) throw new UsageError(`invalid ${what}: unterminated IPv6 address`);
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
    if (isIP(hostIp) !== 6) throw new UsageError(`invalid ${what}: "${hostIp}" is not an IPv6 address`);
  }
  const parts = rest.split(':');
  let hostPart = '';
  let ctrPart: string;
  if (parts.length === 1) ctrPart = parts[0]!;
  else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
  else if (parts.length === 3 && hostIp === '') {
    hostIp = parts[0]!;
    hostPart = parts[1]!;
    ctrPart = parts[2]!;
    if (isIP(hostIp) === 0) throw new UsageError(`invalid ${what}: "${hostIp}" is not an IP address`);
  } else throw new UsageError(`invalid ${what}: expected [ip:][hostPort:]containerPort[/protocol]`);

  const [clo, chi] = parsePortRange(ctrPart, what);
  if (hostPart === '') {
    const out: PortMapping[] = [];
    for (let p = clo; p <= chi; p++) out.push({ hostIp, hostPort: 0, containerPort: p, protocol });
    return out;
  }
  const [hlo, hhi] = parsePortRange(hostPart, what);
  if (clo === chi && hhi > hlo) return [{ hostIp, hostPort: hlo, hostPortEnd: hhi, containerPort: clo, protocol }];
  if (hhi - hlo !== chi - clo) throw new UsageError(`invalid ${what}: host and container port ranges differ in size`);
  const out: PortMapping[] = [];
  for (let i = 0; i <= chi - clo; i++) out.push({ hostIp, hostPort: hlo + i, containerPort: clo + i, protocol });
  return out;
}

/** --restart no | always | unless-stopped | on-failure[:N]. */
export function parseRestart(value: string): RestartPolicy {
  const [name, count, ...extra] = value.split(':');
  if (extra.length > 0) throw new UsageError(`invalid restart policy "${value}"`);
  switch (name) {
    case '':
    case 'no':
    case 'always':
    case 'unless-stopped':
      if (count !== undefined) throw new UsageError(`invalid restart policy "${value}": a maximum retry count only goes with on-failure`);
      return { name: name === '' ? 'no' : name };
    case 'on-failure':
      return count === undefined ? { name } : { name, maxRetries: parseInteger(count, '--restart on-failure', 0) };
    default:
      throw new UsageError(`invalid restart policy "${value}" (no, always, unless-stopped, on-failure[:max-retries])`);
  }
}

// ---------------------------------------------------------------- namespaces

function parseJoin(value: string, flag: string): NamespaceMode | undefined {
  if (value.startsWith('container:')) {
    const container = value.slice('container:'.length);
    if (container === '') throw new UsageError(`invalid ${flag} "${value}": missing container name`);
    return { mode: 'container', container };
  }
  if (value.startsWith('ns:')) {
    const path = value.slice(3);
    if (!path.startsWith('/')) throw new UsageError(`invalid ${flag} "${value}": the namespace path must be absolute`);
    return { mode: 'path', path };
  }
  return undefined;
}

/** --network none | host | bridge | default | container:X | ns:PATH | <network name>. */
export function parseNetworkMode(value: string | undefined): NamespaceMode {
  if (value === undefined || value === '' || value === 'default' || value === 'bridge') return { mode: 'bridge', network: 'bridge' };
  if (value === 'none' || value === 'host') return { mode: value };
  const join = parseJoin(value, '--network');
  if (join) return join;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value)) throw new UsageError(`invalid --network "${value}"`);
  return { mode: 'bridge', network: value };
}

/** --ipc "" | private | shareable | none | host | container:X | ns:PATH. */
export function parseIpcMode(value: string | undefined): NamespaceMode {
  if (value === undefined || value === '' || value === 'private') return { mode: 'private' };
  if (value === 'shareable' || value === 'none' || value === 'host') return { mode: value };
  const join = parseJoin(value, '--ipc');
  if (join) return join;
  throw new UsageError(`invalid --ipc "${value}" (private, shareable, none, host, container:NAME)`);
}

/** --pid "" | host | container:X | ns:PATH. */
export function parsePidMode(value: string | undefined): NamespaceMode {
  if (value === undefined || value === '' || value === 'private') return { mode: 'private' };
  if (value === 'host') return { mode: 'host' };
  const join = parseJoin(value, '--pid');
  if (join) return join;
  throw new UsageError(`invalid --pid "${value}" (host, container:NAME)`);
}

/** --uts "" | host | ns:PATH. */
export function parseUtsMode(value: string | undefined): NamespaceMode {
  if (value === undefined || value === '' || value === 'private') return { mode: 'private' };
  if (value === 'host') return { mode: 'host' };
  const join = parseJoin(value, '--uts');
  if (join?.mode === 'path') return join;
  throw new UsageError(`invalid --uts "${value}" (host)`);
}

// ---------------------------------------------------------------- resources

function parseDeviceRates(items: string[], flag: string): DeviceRate[] {
  return items.map((item) => {
    const colon = item.lastIndexOf(':');
    if (colon <= 0) throw new UsageError(`invalid value "${item}" for ${flag}: expected /dev/device:rate`);
    const path = item.slice(0, colon);
    if (!path.startsWith('/')) throw new UsageError(`invalid value "${item}" for ${flag}: the device path must be absolute`);
    return { path, rate: parseBytes(item.slice(colon + 1), flag) };
  });
}

/** Resource flags with Docker's checks (6 MiB minimums, swap >= memory, --cpus vs --cpu-quota...). */
export function parseResources(raw: Record<string, unknown>, warnings: string[] = []): ResourceOptions {
  const r: ResourceOptions = {};
  const memory = single(raw.memory, '--memory');
  if (memory !== undefined) {
    r.memory = parseBytes(memory, '--memory');
    if (r.memory > 0 && r.memory < MIN_MEMORY) throw new UsageError(`invalid value "${memory}" for --memory: the minimum memory limit is 6MB`);
    if (r.memory === 0) delete r.memory; // Docker: 0 = no limit
  }
  const reservation = single(raw.memoryReservation, '--memory-reservation');
  if (reservation !== undefined) {
    r.memoryReservation = parseBytes(reservation, '--memory-reservation');
    if (r.memoryReservation > 0 && r.memoryReservation < MIN_MEMORY) {
      throw new UsageError(`invalid value "${reservation}" for --memory-reservation: the minimum memory reservation is 6MB`);
    }
    if (r.memory !== undefined && r.memoryReservation > r.memory) {
      throw new UsageError(`--memory-reservation ${reservation} is larger than --memory ${memory}: the memory limit must be at least the reservation`);
    }
  }
  const swap = single(raw.memorySwap, '--memory-swap');
  if (swap !== undefined) {
    r.memorySwap = swap.trim() === '-1' ? -1 : parseBytes(swap, '--memory-swap');
    if (r.memorySwap !== -1) {
      if (r.memory === undefined) throw new UsageError('--memory-swap needs --memory: always set the memory limit when setting a swap limit');
      if (r.memorySwap < r.memory) {
        throw new UsageError(`--memory-swap ${swap} is smaller than --memory ${memory}: memory-swap is memory plus swap and must be at least the memory limit`);
      }
    }
  }
  const swappiness = single(raw.memorySwappiness, '--memory-swappiness');
  if (swappiness !== undefined) {
    const n = parseInteger(swappiness, '--memory-swappiness', -1, 100);
    if (n >= 0) r.memorySwappiness = n;
  }
  if (parseBool(raw.oomKillDisable, '--oom-kill-disable')) {
    r.oomKillDisable = true;
    if (r.memory === undefined) warnings.push('disabling the OOM killer without a memory limit (--memory) lets the container exhaust host memory');
  }
  if (raw.kernelMemory !== undefined) warnings.push('--kernel-memory is not supported by the kernel any more and is ignored');

  const cpus = single(raw.cpus, '--cpus');
  if (cpus !== undefined) r.nanoCpus = parseNanoCpus(cpus);
  const period = single(raw.cpuPeriod, '--cpu-period');
  if (period !== undefined) {
    const n = parseInteger(period, '--cpu-period', 0, 1_000_000);
    if (n !== 0 && n < 1000) throw new UsageError(`invalid value "${period}" for --cpu-period: must be between 1000 and 1000000 microseconds`);
    if (n !== 0) r.cpuPeriod = n;
  }
  const quota = single(raw.cpuQuota, '--cpu-quota');
  if (quota !== undefined) {
    const n = parseInteger(quota, '--cpu-quota', -1);
    if (n > 0 && n < 1000) throw new UsageError(`invalid value "${quota}" for --cpu-quota: must be at least 1000 microseconds (or -1 for no limit)`);
    if (n > 0) r.cpuQuota = n;
  }
  if (r.nanoCpus !== undefined && (r.cpuPeriod !== undefined || r.cpuQuota !== undefined)) {
    throw new UsageError('conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set');
  }
  const shares = single(raw.cpuShares, '--cpu-shares');
  if (shares !== undefined) {
    const n = parseInteger(shares, '--cpu-shares', 0, 262144);
    if (n !== 0) r.cpuShares = Math.max(n, 2); // the kernel's minimum weight is 2
  }
  const cpusetCpus = single(raw.cpusetCpus, '--cpuset-cpus');
  if (cpusetCpus !== undefined && cpusetCpus !== '') r.cpusetCpus = parseCpuList(cpusetCpus, '--cpuset-cpus');
  const cpusetMems = single(raw.cpusetMems, '--cpuset-mems');
  if (cpusetMems !== undefined && cpusetMems !== '') r.cpusetMems = parseCpuList(cpusetMems, '--cpuset-mems');
  const pids = single(raw.pidsLimit, '--pids-limit');
  if (pids !== undefined) r.pidsLimit = parseInteger(pids, '--pids-limit', -1);
  const blkio = single(raw.blkioWeight, '--blkio-weight');
  if (blkio !== undefined) {
    const n = parseInteger(blkio, '--blkio-weight', 0, 1000);
    if (n !== 0 && n < 10) throw new UsageError(`invalid value "${blkio}" for --blkio-weight: must be between 10 and 1000`);
    if (n !== 0) r.blkioWeight = n;
  }
  const readBps = parseDeviceRates(list(raw.deviceReadBps, '--device-read-bps'), '--device-read-bps');
  if (readBps.length > 0) r.deviceReadBps = readBps;
  const writeBps = parseDeviceRates(list(raw.deviceWriteBps, '--device-write-bps'), '--device-write-bps');
  if (writeBps.length > 0) r.deviceWriteBps = writeBps;
  return r;
}

// ---------------------------------------------------------------- --pull

/** --pull: always, missing or never (empty means missing), refused otherwise in the Docker CLI's words. */
export function checkPullPolicy(value: string | undefined): void {
  if (value === undefined || value === '' || value === 'always' || value === 'missing' || value === 'never') return;
  throw new UsageError(`invalid pull option: '${value}': must be one of "always", "missing" or "never"`);
}

// ---------------------------------------------------------------- the whole flag set

/**
 * Parse commander's option object for `run`/`create` (cli/docker/run-flags.ts).
 *
 * Expected shape (camelCase keys as commander makes them; unknown keys such as
 * name, rm, detach, pull, platform, runtime, quiet are ignored except `rm`, and `pull`,
 * which is only checked):
 * - repeatable flags as string[] (a lone string is accepted): env, envFile,
 *   volume, mount, tmpfs, volumesFrom, groupAdd, capAdd, capDrop, securityOpt, ulimit,
 *   sysctl, addHost, dns, dnsSearch, publish, device, label, annotation,
 *   deviceReadBps, deviceWriteBps
 * - single-valued flags as string (numbers accepted; for a string[] the last
 *   wins): workdir, user, entrypoint ('' resets), hostname, network (or net),
 *   ipc, uts, pid, cgroupns, shmSize, stopSignal, stopTimeout, memory,
 *   memorySwap, memoryReservation, memorySwappiness, kernelMemory, cpus,
 *   cpuShares, cpuPeriod, cpuQuota, cpusetCpus, cpusetMems, pidsLimit,
 *   blkioWeight, restart, cgroupParent
 * - booleans (true/undefined): tty, interactive, readOnly, init, privileged,
 *   publishAll, oomKillDisable, rm
 * - command: string[], the arguments after the image name (optional)
 */
export function parseRunFlags(raw: Record<string, unknown>, ctx: ParseContext = {}): RunOptions {
  const hostEnv = ctx.hostEnv ?? process.env;
  const readFile = ctx.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const warnings: string[] = [];
  const opts: RunOptions = { warnings };

  checkPullPolicy(single(raw.pull, '--pull'));
  opts.command = list(raw.command, 'command');

  const entrypoint = single(raw.entrypoint, '--entrypoint');
  if (entrypoint !== undefined) opts.entrypoint = entrypoint === '' ? [] : [entrypoint];

  const env: string[] = [];
  for (const file of list(raw.envFile, '--env-file')) {
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      throw new UsageError(`cannot read --env-file ${file}`, { cause: err });
    }
    env.push(...parseEnvFile(text, file, hostEnv));
  }
  for (const item of list(raw.env, '--env')) env.push(parseEnvFlag(item, hostEnv));
  opts.env = env;

  const workdir = single(raw.workdir, '--workdir');
  if (workdir !== undefined && workdir !== '') {
    if (!workdir.startsWith('/')) throw new UsageError(`the working directory "${workdir}" is invalid: it needs to be an absolute path`);
    opts.workdir = posix.normalize(workdir).replace(/(.)\/+$/, '$1');
  }
  const user = single(raw.user, '--user');
  if (user !== undefined && user !== '') {
    if (/\s/.test(user) || user.split(':').length > 2) throw new UsageError(`invalid --user "${user}": expected user[:group]`);
    opts.user = user;
  }
  opts.groupAdd = list(raw.groupAdd, '--group-add').map((g) => {
    if (g === '' || g.includes(':')) throw new UsageError(`invalid --group-add "${g}"`);
    return g;
  });

  opts.tty = parseBool(raw.tty, '--tty');
  opts.interactive = parseBool(raw.interactive, '--interactive');
  opts.readOnly = parseBool(raw.readOnly, '--read-only');
  opts.init = parseBool(raw.init, '--init');
  opts.privileged = parseBool(raw.privileged, '--privileged');
  opts.publishAll = parseBool(raw.publishAll, '--publish-all');
  opts.autoRemove = parseBool(raw.rm, '--rm');

  // Capabilities: validated against the full list; a capability both added
  // and dropped is added (the Docker CLI's rule).
  const known = ALL_CAPABILITIES;
  const capAdd = [...new Set(list(raw.capAdd, '--cap-add').map((c) => normalizeCapability(c, known)))];
  const capDrop = [...new Set(list(raw.capDrop, '--cap-drop').map((c) => normalizeCapability(c, known)))].filter((c) => !capAdd.includes(c));
  opts.capAdd = capAdd;
  opts.capDrop = capDrop;

  const security = parseSecurityOpts(list(raw.securityOpt, '--security-opt'));
  opts.noNewPrivileges = security.noNewPrivileges ?? false;
  opts.seccomp = security.seccomp ?? 'default';
  if (security.unmaskSystemPaths) opts.unmaskSystemPaths = true;

  const ulimits = new Map<string, Ulimit>();
  for (const item of list(raw.ulimit, '--ulimit')) {
    const u = parseUlimit(item);
    ulimits.set(u.name, u); // a later --ulimit of the same name wins
  }
  opts.ulimits = [...ulimits.values()];

  // Namespaces first: several flags are judged against them.
  const network = parseNetworkMode(single(raw.network, '--network') ?? single(raw.net, '--net'));
  const ipc = parseIpcMode(single(raw.ipc, '--ipc'));
  const uts = parseUtsMode(single(raw.uts, '--uts'));
  const pid = parsePidMode(single(raw.pid, '--pid'));
  Object.assign(opts, { network, ipc, uts, pid });
  const cgroupns = single(raw.cgroupns, '--cgroupns');
  if (cgroupns !== undefined) {
    if (cgroupns !== 'host' && cgroupns !== 'private') throw new UsageError(`invalid --cgroupns "${cgroupns}" (host or private)`);
    opts.cgroupns = cgroupns;
  }
  const netJoined = network.mode === 'container' || network.mode === 'path';

  const hostname = single(raw.hostname, '--hostname');
  if (hostname !== undefined && hostname !== '') {
    if (netJoined) throw new UsageError('conflicting options: --hostname and --network container:... (the hostname comes from the other container)');
    if (uts.mode === 'host') throw new UsageError('conflicting options: --hostname and --uts=host');
    opts.hostname = parseHostname(hostname);
  }

  opts.sysctls = {};
  for (const item of list(raw.sysctl, '--sysctl')) {
    const [key, value] = splitKeyValue(item, '--sysctl', true);
    validateSysctl(key, { network, ipc, uts });
    opts.sysctls[key] = value;
  }

  opts.addHosts = list(raw.addHost, '--add-host').map(parseAddHost);
  opts.dns = list(raw.dns, '--dns').map((ip) => {
    if (isIP(ip) === 0) throw new UsageError(`invalid --dns "${ip}": not an IP address`);
    return ip;
  });
  opts.dnsSearch = list(raw.dnsSearch, '--dns-search');
  opts.networkAliases = list(raw.networkAlias, '--network-alias');
  for (const a of opts.networkAliases) if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(a)) throw new UsageError(`invalid --network-alias "${a}": a host name`);
  // Docker's rule: names are resolved on user networks only, so an alias anywhere else would do nothing.
  if (opts.networkAliases.length > 0 && !(network.mode === 'bridge' && network.network !== undefined && network.network !== 'bridge'))
    throw new UsageError('--network-alias is only supported for containers on user-defined networks (--network NAME)');
  opts.publish = list(raw.publish, '--publish').flatMap(parsePublish);
  if (netJoined) {
    if (opts.addHosts.length > 0) throw new UsageError('conflicting options: --add-host and --network container:... (custom host-to-IP mappings)');
    if (opts.dns.length > 0 || opts.dnsSearch.length > 0) throw new UsageError('conflicting options: --dns/--dns-search and --network container:...');
    if (opts.publish.length > 0 || opts.publishAll) throw new UsageError('conflicting options: --publish and --network container:... (ports are published by the other container)');
  }
  if ((network.mode === 'host' || network.mode === 'none') && (opts.publish.length > 0 || opts.publishAll)) {
    warnings.push(`published ports are discarded when using --network ${network.mode}`);
    opts.publish = [];
    opts.publishAll = false;
  }

  const shm = single(raw.shmSize, '--shm-size');
  if (shm !== undefined) {
    const bytes = parseBytes(shm, '--shm-size');
    if (bytes <= 0) throw new UsageError(`invalid value "${shm}" for --shm-size: must be greater than 0`);
    opts.shmSize = bytes;
  }

  opts.devices = list(raw.device, '--device').map(parseDevice);

  // -v, then --mount, then --tmpfs; one mount per destination.
  const cwd = ctx.cwd ?? process.cwd();
  // Docker's --volume-driver: the driver of the volumes -v and the image's VOLUME paths name (not --mount's).
  const volumeDriver = single(raw.volumeDriver, '--volume-driver');
  if (volumeDriver !== undefined && volumeDriver !== '') opts.volumeDriver = volumeDriver;
  const withDriver = (m: MountRequest): MountRequest => (m.type === 'volume' && opts.volumeDriver ? { ...m, volumeDriver: opts.volumeDriver } : m);
  const mounts = [
    ...list(raw.volume, '--volume').map((v) => withDriver(parseVolume(v, cwd))),
    ...list(raw.mount, '--mount').map(parseMount),
    ...list(raw.tmpfs, '--tmpfs').map(parseTmpfs),
  ];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.target)) throw new UsageError(`duplicate mount point: ${m.target}`);
    seen.add(m.target);
  }
  opts.mounts = mounts;
  opts.volumesFrom = list(raw.volumesFrom, '--volumes-from').map(parseVolumesFrom);

  const stopSignal = single(raw.stopSignal, '--stop-signal');
  if (stopSignal !== undefined) opts.stopSignal = parseSignal(stopSignal);
  const stopTimeout = single(raw.stopTimeout, '--stop-timeout');
  if (stopTimeout !== undefined) opts.stopTimeout = parseInteger(stopTimeout, '--stop-timeout', -1);

  opts.labels = {};
  for (const item of list(raw.label, '--label')) {
    const [k, v] = splitKeyValue(item, '--label', false);
    opts.labels[k] = v;
  }
  opts.annotations = {};
  for (const item of list(raw.annotation, '--annotation')) {
    const [k, v] = splitKeyValue(item, '--annotation', true);
    opts.annotations[k] = v;
  }

  opts.resources = parseResources(raw, warnings);

  const restart = single(raw.restart, '--restart');
  opts.restart = restart === undefined ? { name: 'no' } : parseRestart(restart);
  if (opts.autoRemove && opts.restart.name !== 'no') throw new UsageError('conflicting options: --restart and --rm');

  const cgroupParent = single(raw.cgroupParent, '--cgroup-parent');
  if (cgroupParent !== undefined && cgroupParent !== '') opts.cgroupParent = cgroupParent;

  return opts;
}

// ---------------------------------------------------------------- exec

export interface ExecOptions {
  command: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  tty?: boolean;
  interactive?: boolean;
  privileged?: boolean;
  detach?: boolean;
}

/**
 * Parse commander's options for `exec` plus its command. Shape: env and
 * envFile as string[]; workdir, user as string; tty, interactive,
 * privileged, detach as booleans; `command` the arguments after the container.
 */
export function parseExecFlags(raw: Record<string, unknown>, ctx: ParseContext = {}): ExecOptions {
  const hostEnv = ctx.hostEnv ?? process.env;
  const readFile = ctx.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const command = list(raw.command, 'command');
  if (command.length === 0) throw new UsageError('exec needs a command to run in the container');
  const env: string[] = [];
  for (const file of list(raw.envFile, '--env-file')) env.push(...parseEnvFile(readFile(file), file, hostEnv));
  for (const item of list(raw.env, '--env')) env.push(parseEnvFlag(item, hostEnv));
  const out: ExecOptions = {
    command,
    env,
    tty: parseBool(raw.tty, '--tty'),
    interactive: parseBool(raw.interactive, '--interactive'),
    privileged: parseBool(raw.privileged, '--privileged'),
    detach: parseBool(raw.detach, '--detach'),
  };
  const workdir = single(raw.workdir, '--workdir');
  if (workdir !== undefined && workdir !== '') {
    if (!workdir.startsWith('/')) throw new UsageError(`the working directory "${workdir}" is invalid: it needs to be an absolute path`);
    out.workdir = posix.normalize(workdir);
  }
  const user = single(raw.user, '--user');
  if (user !== undefined && user !== '') out.user = user;
  return out;
}
