// What a tsrkt pod is asked to be (from `run`/`prepare`/`app add` flags), and the
// parsers for rkt's flag values: --volume, --mount, --port, --net, --pull-policy,
// --memory, --cpu (--dns* are read by dns.ts, stdio modes by stdio.ts). Pure:
// unit-tested without a kernel.
import { UsageError } from '../../errors.js';
import type { PullPolicy } from '../image-access.js';
import type { RktStdio } from './stdio.js';

export interface RktVolume {
  name: string;
  kind: 'host' | 'empty';
  /** kind=host: the host path. */
  source?: string;
  readOnly: boolean;
  /** kind=empty: permissions and owner of the fresh directory. */
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface RktMount {
  volume: string;
  target: string;
}

export interface RktPort {
  /** The port's name from the image (Docker EXPOSE 80/tcp becomes "80-tcp"). */
  name: string;
  hostIp?: string;
  hostPort: number;
}

export interface RktAppSpec {
  image: string;
  name?: string;
  exec?: string;
  /** After `--`: appended to the app's exec. */
  args: string[];
  user?: string;
  group?: string;
  workingDir?: string;
  /** NAME=VALUE items (--environment). */
  environment: string[];
  memory?: string;
  cpu?: string;
  mounts: RktMount[];
  /** --stdin/--stdout/--stderr given for this app (the rest keep rkt's defaults). */
  stdio?: Partial<RktStdio>;
}

export interface RktPodSpec {
  apps: RktAppSpec[];
  volumes: RktVolume[];
  /** --net: 'default', 'host', 'none', or networks by name joined by ',' (from `tsrun network create`; 'default' among them is the default network). */
  net: string;
  ports: RktPort[];
  hostname?: string;
  setEnv: string[];
  setEnvFile: string[];
  inheritEnv: boolean;
  interactive: boolean;
  pullPolicy: RktPullPolicy;
  /** --dns, --dns-search, --dns-opt, --dns-domain, --hosts-entry as given (dns.ts reads them). */
  dns: string[];
  dnsSearch: string[];
  dnsOpt: string[];
  dnsDomain?: string;
  hostsEntries: string[];
}

export type RktPullPolicy = 'new' | 'update' | 'never';

export function emptyPodSpec(): RktPodSpec {
  return {
    apps: [], volumes: [], net: 'default', ports: [], setEnv: [], setEnvFile: [], inheritEnv: false, interactive: false, pullPolicy: 'new',
    dns: [], dnsSearch: [], dnsOpt: [], hostsEntries: [],
  };
}

const NAME_RE = /^[a-z0-9]+([-._][a-z0-9]+)*$/;

/** appc's AC Name: lower-case alphanumerics with -._ between them. */
export function validateAcName(name: string, what: string): string {
  if (!NAME_RE.test(name) || name.length > 128) throw new UsageError(`invalid ${what} "${name}": use lower-case letters, digits and -._ between them`);
  return name;
}

function keyValues(value: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of value.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) throw new UsageError(`invalid ${flag} "${value}": "${part}" is not key=value`);
    out.set(part.slice(0, i), part.slice(i + 1));
  }
  return out;
}

function parseBool(v: string | undefined, flag: string): boolean {
  if (v === undefined || v === 'true') return v === 'true';
  if (v === 'false') return false;
  throw new UsageError(`invalid ${flag} value "${v}": use true or false`);
}

/** --volume NAME,kind=host,source=PATH[,readOnly=true] | NAME,kind=empty[,mode=0755,uid=N,gid=N] */
export function parseVolumeFlag(value: string): RktVolume {
  const comma = value.indexOf(',');
  const name = comma < 0 ? value : value.slice(0, comma);
  validateAcName(name, '--volume name');
  if (comma < 0) throw new UsageError(`invalid --volume "${value}": give kind=host,source=PATH or kind=empty`);
  const kv = keyValues(value.slice(comma + 1), '--volume');
  const kind = kv.get('kind');
  const known = new Set(['kind', 'source', 'readOnly', 'recursive', 'mode', 'uid', 'gid']);
  for (const k of kv.keys()) if (!known.has(k)) throw new UsageError(`invalid --volume "${value}": unknown key "${k}"`);
  const readOnly = parseBool(kv.get('readOnly'), '--volume readOnly');
  if (kind === 'host') {
    const source = kv.get('source');
    if (!source || !source.startsWith('/')) throw new UsageError(`invalid --volume "${value}": kind=host needs source=ABSOLUTE-PATH`);
    return { name, kind, source, readOnly };
  }
  if (kind === 'empty') {
    const vol: RktVolume = { name, kind, readOnly };
    const mode = kv.get('mode');
    if (mode !== undefined) {
      if (!/^[0-7]{3,4}$/.test(mode)) throw new UsageError(`invalid --volume "${value}": mode must be octal such as 0755`);
      vol.mode = parseInt(mode, 8);
    }
    for (const k of ['uid', 'gid'] as const) {
      const v = kv.get(k);
      if (v === undefined) continue;
      if (!/^\d+$/.test(v)) throw new UsageError(`invalid --volume "${value}": ${k} must be a number`);
      vol[k] = Number(v);
    }
    return vol;
  }
  throw new UsageError(`invalid --volume "${value}": kind must be host or empty`);
}

/** --mount volume=NAME,target=PATH */
export function parseMountFlag(value: string): RktMount {
  const kv = keyValues(value, '--mount');
  const volume = kv.get('volume');
  const target = kv.get('target');
  for (const k of kv.keys()) if (k !== 'volume' && k !== 'target') throw new UsageError(`invalid --mount "${value}": unknown key "${k}"`);
  if (!volume || !target) throw new UsageError(`invalid --mount "${value}": give volume=NAME,target=PATH`);
  if (!target.startsWith('/')) throw new UsageError(`invalid --mount "${value}": target must be an absolute path`);
  return { volume, target };
}

/** --port NAME:[HOSTIP:]HOSTPORT */
export function parsePortFlag(value: string): RktPort {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new UsageError(`invalid --port "${value}": use NAME:[HOSTIP:]HOSTPORT, e.g. 80-tcp:8080`);
  }
  const portText = parts[parts.length - 1]!;
  const hostPort = Number(portText);
  if (!/^\d+$/.test(portText) || hostPort < 1 || hostPort > 65535) throw new UsageError(`invalid --port "${value}": host port "${portText}" is not 1-65535`);
  const port: RktPort = { name: parts[0]!, hostPort };
  if (parts.length === 3) port.hostIp = parts[1];
  return port;
}

/** Docker's "80/tcp" as appc names it: "80-tcp". */
export function portNameOf(exposed: string): string {
  const [port, proto = 'tcp'] = exposed.split('/');
  return `${port}-${proto}`;
}

/**
 * --net: default, host, none, or named networks (`tsrun network create`) as in
 * rkt: --net=a,b joins both, and the default network only when listed too.
 * Whether a name exists is checked when the pod is made.
 */
export function parseNetFlag(values: string[]): RktPodSpec['net'] {
  const all = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean).map((v) => (v === 'true' ? 'default' : v === 'false' ? 'host' : v));
  if (all.length === 0) return 'default';
  // rkt's per-network CNI arguments (--net=name:IP=...) have no counterpart.
  for (const v of all) {
    if (v.includes(':')) throw new UsageError(`--net ${v}: per-network arguments (NAME:ARGS) are not supported by tsrkt`);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(v)) throw new UsageError(`invalid network name "${v}" in --net`);
  }
  if (all.length > 1 && (all.includes('host') || all.includes('none')))
    throw new UsageError(`--net ${all.join(',')}: host and none cannot be combined with other networks`);
  if (new Set(all).size !== all.length) throw new UsageError(`--net ${all.join(',')}: a network is listed twice`);
  return all.join(',');
}

export function parsePullPolicy(value: string): RktPullPolicy {
  if (value === 'new' || value === 'update' || value === 'never') return value;
  throw new UsageError(`invalid --pull-policy "${value}": use new, update or never`);
}

/** rkt's pull policies in the engine's words. */
export function enginePullPolicy(p: RktPullPolicy): PullPolicy {
  return p === 'new' ? 'missing' : p === 'update' ? 'always' : 'never';
}

/** rkt's --memory takes Kubernetes quantities (128M, 1Gi): the engine's byte string. */
export function memoryToBytes(value: string): string {
  const m = /^(\d+)(k|Ki|M|Mi|G|Gi|K)?$/.exec(value.trim());
  if (!m) throw new UsageError(`invalid --memory "${value}": use a quantity such as 128M or 1Gi`);
  const mult: Record<string, number> = { '': 1, k: 1e3, K: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3 };
  return String(Number(m[1]) * mult[m[2] ?? '']!);
}

/** rkt's --cpu in Kubernetes CPU quantities: "500m" millicores or "2" cores -> the engine's --cpus. */
export function cpuToCpus(value: string): string {
  const v = value.trim();
  const milli = /^(\d+)m$/.exec(v);
  if (milli) return String(Number(milli[1]) / 1000);
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  throw new UsageError(`invalid --cpu "${value}": use cores (1, 0.5) or millicores (500m)`);
}
