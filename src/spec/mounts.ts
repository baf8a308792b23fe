// Parsing Docker's three mount flags (-v, --mount, --tmpfs) into one shape,
// and turning that shape into OCI mounts.
import { isAbsolute, posix, resolve as resolvePath } from 'node:path';
import { SpecError, UsageError } from '../errors.js';
import type { Mount } from '../oci/runtime.js';
import { parseBool, parseBytes } from './units.js';

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
const PROPAGATIONS: readonly string[] = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

/** One mount asked for on the command line (or by the image's Volumes), already validated. */
export interface MountRequest {
  type: 'bind' | 'tmpfs' | 'volume';
  /**
   * bind: the absolute host path. volume: the volume's data directory on the
   * host, filled in by the engine once it has found or created the volume.
   */
  source?: string;
  /** Absolute, normalised container path. */
  target: string;
  readonly: boolean;
  /** Bind only: rbind (true, the default) or a plain bind (bind-nonrecursive). */
  recursive?: boolean;
  /** Bind only; Docker's default is rprivate. */
  propagation?: Propagation;
  /** tmpfs only: mount options after merging with the defaults (size=, mode=, noexec...). */
  tmpfsOptions?: string[];
  /** -v creates a missing host directory (Docker does); --mount requires the source to exist. */
  createHostPath?: boolean;
  /** Volume only: the volume's name; undefined for an anonymous volume (the engine names it). */
  volumeName?: string;
  /** Volume only: do not copy the image's content at the target into an empty volume (nocopy, volume-nocopy). */
  noCopy?: boolean;
  /** Volume only: labels for the volume if this mount creates it (--mount volume-label=k=v). */
  volumeLabels?: Record<string, string>;
  /** Volume only: the driver's options if this mount creates it (--mount volume-opt=k=v); the engine (or the plugin) checks them. */
  volumeOptions?: Record<string, string>;
  /** Volume only: the driver asked for (--mount volume-driver=, or --volume-driver for -v); undefined: an existing volume of any driver, or a new local one. */
  volumeDriver?: string;
  /** Volume only: the mode text of -v ("ro", "rw,nocopy"; "" when none), shown by inspect. */
  mode?: string;
  /** Volume only: asked for by the image's config (Dockerfile VOLUME), not by a flag. */
  fromImage?: boolean;
  /**
   * Volume only: shared by --volumes-from; the volume must still exist, and an anonymous one
   * stays anonymous (rm -v may remove it once no other container uses it).
   */
  sharedFrom?: { container: string; anonymous: boolean };
}

/** One --volumes-from CONTAINER[:ro|:rw]; mode '' keeps each mount's own read-only flag. */
export interface VolumesFromRequest {
  container: string;
  mode: '' | 'ro' | 'rw';
}

/** --volumes-from CONTAINER[:MODE], with Docker's modes (z/Z accepted; no propagation modes). */
export function parseVolumesFrom(spec: string): VolumesFromRequest {
  if (spec === '') throw new UsageError('volumes-from specification cannot be an empty string');
  const colon = spec.indexOf(':');
  const container = colon < 0 ? spec : spec.slice(0, colon);
  if (container === '') throw new UsageError(`invalid --volumes-from "${spec}": no container named`);
  let mode: VolumesFromRequest['mode'] = '';
  for (const m of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
    if (PROPAGATIONS.includes(m)) throw new UsageError(`invalid argument "${m}", propagation modes are not allowed in volumes-from`);
    if (m === 'ro' || m === 'rw') {
      if (mode) throw new UsageError(`invalid mode: ${spec.slice(colon + 1)}`);
      mode = m;
    } else if (m !== 'z' && m !== 'Z') throw new UsageError(`invalid mode: ${spec.slice(colon + 1)}`);
  }
  return { container, mode };
}

/** Docker's rule for local volume names (volume/local): two characters at least. */
export const VOLUME_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Throws a UsageError naming `name` unless it is a valid local volume name (Docker's messages). */
export function validateVolumeName(name: string, context?: string): void {
  const where = context ? ` in ${context}` : '';
  if (name.length === 1 && /^[a-zA-Z0-9]$/.test(name)) {
    throw new UsageError(`invalid volume name "${name}"${where}: volume name is too short, names should be at least two alphanumeric characters`);
  }
  if (!VOLUME_NAME_PATTERN.test(name) || name.length > 255) {
    throw new UsageError(
      `invalid volume name "${name}"${where}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** A container path: absolute, normalised, not "/". */
export function containerPath(path: string, what: string): string {
  if (!path.startsWith('/')) throw new UsageError(`invalid ${what}: the container path "${path}" must be absolute`);
  const clean = posix.normalize(path).replace(/(.)\/+$/, '$1');
  if (clean === '/') throw new UsageError(`invalid ${what}: the destination can't be "/"`);
  return clean;
}

const VOLUME_MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...PROPAGATIONS]);

/**
 * -v/--volume, Docker's three forms:
 * - "/ctr": an anonymous volume at /ctr
 * - "name:/ctr[:opts]": the named volume `name` (created on first use)
 * - "/host:/ctr[:opts]": a bind mount (a leading "." is resolved against cwd, as the Docker CLI does)
 * Options: ro/rw, nocopy (volumes), a propagation mode (binds), z/Z and
 * consistency modes (accepted, nothing to do here).
 */
export function parseVolume(spec: string, cwd = process.cwd()): MountRequest {
  const what = `volume specification "${spec}"`;
  const parts = spec.split(':');
  if (spec === '' || parts.length > 3 || parts.some((p) => p === '')) throw new UsageError(`invalid ${what}: expected host-path:container-path[:options]`);
  const modeOnly = parts.length === 2 && !parts[1]!.startsWith('/') && parts[1]!.split(',').every((m) => VOLUME_MODES.has(m));
  if (modeOnly) {
    // Docker's rule: a destination with a mode and no source is not a valid volume.
    throw new UsageError(`invalid ${what}: a mode needs a source and a container path (for a read-only anonymous volume: --mount type=volume,target=PATH,readonly)`);
  }
  if (parts.length === 1) {
    return { type: 'volume', target: containerPath(parts[0]!, what), readonly: false, noCopy: false, mode: '' };
  }
  let source = parts[0]!;
  if (source.startsWith('.')) source = resolvePath(cwd, source);
  const isBind = isAbsolute(source);
  if (!isBind) validateVolumeName(source, what);
  const target = containerPath(parts[1]!, what);
  let readonly = false;
  let propagation: Propagation | undefined;
  let noCopy = false;
  let sawRw = false;
  for (const mode of parts[2]?.split(',') ?? []) {
    if (!VOLUME_MODES.has(mode)) throw new UsageError(`invalid mode "${mode}" in ${what}`);
    if (mode === 'ro' || mode === 'rw') {
      if (sawRw) throw new UsageError(`invalid mode "${parts[2]}" in ${what}: ro and rw given more than once`);
      sawRw = true;
      readonly = mode === 'ro';
    } else if (PROPAGATIONS.includes(mode)) {
      if (!isBind) throw new UsageError(`invalid mode "${mode}" in ${what}: a propagation mode applies to bind mounts only`);
      if (propagation) throw new UsageError(`invalid mode "${parts[2]}" in ${what}: more than one propagation mode`);
      propagation = mode as Propagation;
    } else if (mode === 'nocopy') {
      noCopy = true;
    }
    // z/Z (SELinux relabel) and consistency modes do not apply here; nocopy means nothing to a bind.
  }
  if (!isBind) return { type: 'volume', volumeName: source, target, readonly, noCopy, mode: parts[2] ?? '' };
  return { type: 'bind', source: posix.normalize(source), target, readonly, recursive: true, propagation: propagation ?? 'rprivate', createHostPath: true };
}

/**
 * The anonymous volumes the image's config asks for (Dockerfile VOLUME): one
 * per path that no mount of `mounts` (-v, --mount, --tmpfs) already targets.
 */
export function imageVolumeRequests(imageVolumes: Record<string, unknown> | undefined | null, mounts: readonly MountRequest[]): MountRequest[] {
  const taken = new Set(mounts.map((m) => m.target));
  const out: MountRequest[] = [];
  for (const raw of Object.keys(imageVolumes ?? {}).sort()) {
    const clean = posix.normalize(raw.startsWith('/') ? raw : `/${raw}`).replace(/(.)\/+$/, '$1');
    if (clean === '/' || taken.has(clean)) continue;
    taken.add(clean);
    out.push({ type: 'volume', target: clean, readonly: false, noCopy: false, mode: '', fromImage: true });
  }
  return out;
}

/** Split one CSV record (Docker parses --mount with encoding/csv): commas separate, double quotes group. */
export function splitCsv(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) throw new UsageError(`invalid --mount "${text}": unterminated quote`);
  out.push(cur);
  return out;
}

/** Default tmpfs options (Docker's), before the user's. */
const TMPFS_DEFAULTS = ['nosuid', 'nodev', 'noexec'];

const TMPFS_FLAG_PAIRS: Record<string, string> = {
  ro: 'rw',
  rw: 'ro',
  exec: 'noexec',
  noexec: 'exec',
  suid: 'nosuid',
  nosuid: 'suid',
  dev: 'nodev',
  nodev: 'dev',
  sync: 'async',
  async: 'sync',
  atime: 'noatime',
  noatime: 'atime',
  diratime: 'nodiratime',
  nodiratime: 'diratime',
};
const TMPFS_OTHER_FLAGS = new Set(['relatime', 'norelatime', 'strictatime', 'nostrictatime', 'dirsync', 'mand', 'nomand', 'tmpcopyup', ...PROPAGATIONS]);
const TMPFS_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol', 'huge']);

/** Merge tmpfs options: later flags cancel their opposites, later key=value replace earlier ones. */
export function mergeTmpfsOptions(base: readonly string[], extra: readonly string[], what: string): string[] {
  const out = [...base];
  for (const opt of extra) {
    if (opt === '') continue;
    const eq = opt.indexOf('=');
    if (eq >= 0) {
      const key = opt.slice(0, eq);
      if (!TMPFS_KEYS.has(key)) throw new UsageError(`invalid tmpfs option "${opt}" in ${what}`);
      const i = out.findIndex((o) => o.startsWith(`${key}=`));
      if (i >= 0) out.splice(i, 1);
      out.push(opt);
      continue;
    }
    const opposite = TMPFS_FLAG_PAIRS[opt];
    if (opposite === undefined && !TMPFS_OTHER_FLAGS.has(opt)) throw new UsageError(`invalid tmpfs option "${opt}" in ${what}`);
    const drop = new Set([opt, opposite]);
    for (let i = out.length - 1; i >= 0; i--) if (drop.has(out[i]!)) out.splice(i, 1);
    out.push(opt);
  }
  return out;
}

/** --tmpfs "/path[:opt,opt]". */
export function parseTmpfs(spec: string): MountRequest {
  const colon = spec.indexOf(':');
  const path = colon < 0 ? spec : spec.slice(0, colon);
  const what = `--tmpfs "${spec}"`;
  const target = containerPath(path, what);
  const options = mergeTmpfsOptions(TMPFS_DEFAULTS, colon < 0 ? [] : spec.slice(colon + 1).split(','), what);
  return { type: 'tmpfs', target, readonly: options.includes('ro'), tmpfsOptions: options.filter((o) => o !== 'ro' && o !== 'rw') };
}

/**
 * --mount "type=bind,source=/a,target=/b,readonly", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777"
 * or "type=volume,source=NAME,target=/v,volume-nocopy,volume-label=k=v" (type defaults to volume,
 * and a volume without source is anonymous), as Docker parses it.
 */
export function parseMount(spec: string): MountRequest {
  const what = `--mount "${spec}"`;
  const fields: [string, string | undefined][] = [];
  for (const field of splitCsv(spec)) {
    if (field.trim() === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    fields.push([key, eq < 0 ? undefined : field.slice(eq + 1)]);
  }
  const type = fields.filter(([k]) => k === 'type').pop()?.[1] ?? 'volume';
  if (type !== 'bind' && type !== 'tmpfs' && type !== 'volume') throw new UsageError(`invalid ${what}: unknown mount type "${type}" (bind, volume or tmpfs)`);

  let source: string | undefined;
  let target: string | undefined;
  let readonly = false;
  let propagation: Propagation | undefined;
  let recursive = true;
  let size: number | undefined;
  let mode: string | undefined;
  let noCopy = false;
  const labels: Record<string, string> = {};
  const volumeOptions: Record<string, string> = {};
  let volumeDriver: string | undefined;
  for (const [key, value] of fields) {
    const need = (): string => {
      if (value === undefined || value === '') throw new UsageError(`invalid ${what}: ${key} needs a value`);
      return value;
    };
    switch (key) {
      case 'type':
      case 'consistency':
        break;
      case 'source':
      case 'src':
        source = need();
        break;
      case 'target':
      case 'destination':
      case 'dst':
        target = need();
        break;
      case 'readonly':
      case 'ro':
        readonly = value === undefined ? true : parseBool(value, `${key} in ${what}`);
        break;
      case 'bind-propagation':
        if (!PROPAGATIONS.includes(need())) throw new UsageError(`invalid ${what}: unknown bind-propagation "${value}"`);
        propagation = value as Propagation;
        break;
      case 'bind-nonrecursive':
        recursive = !(value === undefined ? true : parseBool(value, `${key} in ${what}`));
        break;
      case 'tmpfs-size':
        size = parseBytes(need(), `tmpfs-size in ${what}`);
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]{1,4}$/.test(need())) throw new UsageError(`invalid ${what}: tmpfs-mode "${value}" is not an octal mode`);
        mode = value;
        break;
      case 'volume-nocopy':
        noCopy = value === undefined ? true : parseBool(value, `${key} in ${what}`);
        break;
      case 'volume-label': {
        const label = need();
        const eq = label.indexOf('=');
        labels[eq < 0 ? label : label.slice(0, eq)] = eq < 0 ? '' : label.slice(eq + 1);
        break;
      }
      case 'volume-driver':
        // `local` or a volume plugin's name: the engine finds the plugin when it creates the volume.
        volumeDriver = need();
        break;
      case 'volume-opt': {
        // An `o` with commas is quoted as one CSV field ("volume-opt=o=size=1m,uid=1"), as in Docker.
        const opt = need();
        const eq = opt.indexOf('=');
        if (eq <= 0) throw new UsageError(`invalid ${what}: volume-opt "${opt}" is not key=value`);
        volumeOptions[opt.slice(0, eq)] = opt.slice(eq + 1);
        break;
      }
      default:
        throw new UsageError(`invalid ${what}: unexpected key "${key}"`);
    }
    const bindOnly = key.startsWith('bind-');
    const tmpfsOnly = key.startsWith('tmpfs-');
    const volumeOnly = key.startsWith('volume-');
    if ((bindOnly && type !== 'bind') || (tmpfsOnly && type !== 'tmpfs') || (volumeOnly && type !== 'volume')) {
      throw new UsageError(`invalid ${what}: ${key} cannot be used with type=${type}`);
    }
  }
  if (target === undefined) throw new UsageError(`invalid ${what}: target is required`);
  const dest = containerPath(target, what);
  if (type === 'tmpfs') {
    if (source !== undefined) throw new UsageError(`invalid ${what}: source is not allowed for tmpfs mounts`);
    const extra: string[] = [];
    if (size !== undefined) extra.push(`size=${size}`);
    if (mode !== undefined) extra.push(`mode=${mode}`);
    return { type: 'tmpfs', target: dest, readonly, tmpfsOptions: mergeTmpfsOptions(TMPFS_DEFAULTS, extra, what) };
  }
  if (type === 'volume') {
    if (source !== undefined) validateVolumeName(source, what);
    return {
      type: 'volume',
      ...(source !== undefined ? { volumeName: source } : {}),
      target: dest,
      readonly,
      noCopy,
      ...(Object.keys(labels).length > 0 ? { volumeLabels: labels } : {}),
      ...(Object.keys(volumeOptions).length > 0 ? { volumeOptions } : {}),
      ...(volumeDriver !== undefined ? { volumeDriver } : {}),
      mode: '',
    };
  }
  if (source === undefined) throw new UsageError(`invalid ${what}: source is required for a bind mount`);
  if (!isAbsolute(source)) throw new UsageError(`invalid ${what}: the bind source "${source}" must be an absolute host path`);
  return {
    type: 'bind',
    source: posix.normalize(source),
    target: dest,
    readonly,
    recursive,
    propagation: propagation ?? 'rprivate',
    createHostPath: false,
  };
}

/** The OCI mount for a request; a volume is a bind of its data directory, which the engine must have filled in. */
export function toOciMount(m: MountRequest): Mount {
  if (m.type === 'tmpfs') {
    return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: [...(m.tmpfsOptions ?? TMPFS_DEFAULTS), ...(m.readonly ? ['ro'] : [])] };
  }
  if (m.type === 'volume') {
    if (!m.source) throw new SpecError(`the volume at ${m.target} has no host directory yet (the engine resolves volumes before building the spec)`);
    return { destination: m.target, type: 'bind', source: m.source, options: ['rbind', 'rprivate', ...(m.readonly ? ['ro'] : [])] };
  }
  return {
    destination: m.target,
    type: 'bind',
    source: m.source!,
    options: [m.recursive === false ? 'bind' : 'rbind', m.propagation ?? 'rprivate', ...(m.readonly ? ['ro'] : [])],
  };
}

/** Number of path components: Docker mounts parents before children by sorting on it (stable). */
export function mountDepth(destination: string): number {
  return destination.split('/').filter((c) => c !== '').length;
}
