// `tsrun ps -f key=value`, with the keys and matching rules of Docker's daemon/list.go:
// values of one key OR (label: every one must match, as Docker's MatchKVList), different
// keys AND. Pure: the CLI gathers each container's facts into a FilterSubject.
// Also the smaller filter set of `container prune --filter`.
import { UsageError } from '../errors.js';
import { parseTimestampFlag } from './timestamps.js';

const PS_KEYS = [
  'ancestor',
  'before',
  'expose',
  'exited',
  'health',
  'id',
  'isolation',
  'is-task',
  'label',
  'name',
  'network',
  'publish',
  'since',
  'status',
] as const;
const ALL_PS_KEYS: readonly string[] = [...PS_KEYS, 'volume'];
type PsKey = (typeof PS_KEYS)[number] | 'volume';

/** Docker's container state strings (State.StateString()). */
export const CONTAINER_STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'] as const;
export type ContainerStateString = (typeof CONTAINER_STATES)[number];
const HEALTH_STATES = ['starting', 'healthy', 'unhealthy', 'none'];

export type ContainerFilters = Partial<Record<PsKey, string[]>>;

/** Docker's "invalid filter 'key'" or "invalid filter 'key=v1,v2'" (a bad value). */
function invalidFilter(key: string, values?: string[]): UsageError {
  return new UsageError(`invalid filter '${key}${values ? `=${values.join(',')}` : ''}'`);
}

/**
 * Splits `key=value` flags by key, as the Docker CLI does (key lower-cased, both sides
 * trimmed), and refuses keys outside `accepted` with Docker's wording.
 */
export function parseFilterFlags(flags: string[], accepted: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i < 0) throw new UsageError(`bad format of filter (expected name=value): ${f}`);
    const key = f.slice(0, i).trim().toLowerCase();
    if (!accepted.includes(key)) throw invalidFilter(key);
    (out[key] ??= []).push(f.slice(i + 1).trim());
  }
  return out;
}

/** `ps --filter` values, checked before any container is looked at. */
export function parseContainerFilters(flags: string[]): ContainerFilters {
  const f = parseFilterFlags(flags, ALL_PS_KEYS) as ContainerFilters;
  if (f.status?.some((s) => !(CONTAINER_STATES as readonly string[]).includes(s))) throw invalidFilter('status', f.status);
  if (f.exited?.some((s) => !/^-?\d+$/.test(s))) throw invalidFilter('exited', f.exited);
  const badHealth = f.health?.find((h) => !HEALTH_STATES.includes(h));
  if (badHealth !== undefined) throw new UsageError(`Unrecognised filter value for health: ${badHealth}`);
  if (f['is-task']?.some((v) => v !== 'true' && v !== 'false')) throw invalidFilter('is-task', f['is-task']);
  for (const key of ['publish', 'expose'] as const) for (const v of f[key] ?? []) portsOf(key, v);
  return f;
}

/** What a filter can ask of one container. */
export interface FilterSubject {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: ContainerStateString;
  exitCode?: number;
  /** Ever started (Docker's exited filter skips containers that never ran). */
  started: boolean;
  imageId: string;
  mounts: { name?: string; source: string; destination: string }[];
  networks: { name: string; id?: string }[];
  /** Container ports with a host binding, as "80/tcp". */
  published: string[];
  /** Exposed container ports (the image's, and the published ones), as "80/tcp". */
  exposed: string[];
  /** tsrun runs no health checks: always "none" today. */
  health: string;
}

/** Lookups the CLI answers: image IDs for ancestor, a container's ID for before/since. */
export interface FilterResolvers {
  /** IDs of the image `ref` names and of the images built on it; empty when unknown. */
  imageFamily(ref: string): string[];
  /** The ID of the container `ref` names (throws NotFoundError). */
  containerId(ref: string): string;
}

/** Docker's Args.Match: an exact value, or one that as a regular expression finds the source. */
function regexMatch(values: string[], source: string): boolean {
  return values.some((v) => {
    if (v === source) return true;
    try {
      return new RegExp(v).test(source);
    } catch {
      return false;
    }
  });
}

/** MatchKVList: every `key` or `key=value` holds in labels. */
export function labelsMatch(values: string[], labels: Record<string, string>): boolean {
  return values.every((l) => {
    const i = l.indexOf('=');
    if (i < 0) return l in labels;
    return labels[l.slice(0, i)] === l.slice(i + 1);
  });
}

/** "80", "80/udp" or "8000-8010/tcp" to the "port/proto" strings it covers. */
function portsOf(key: string, value: string): string[] {
  if (value.includes(':')) throw new UsageError(`filter for '${key}' should not contain ':': ${value}`);
  const slash = value.indexOf('/');
  const range = slash < 0 ? value : value.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : value.slice(slash + 1).toLowerCase();
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || start > 65535 || end > 65535 || end < start) throw new UsageError(`error while looking up for ${key} ${value}: invalid port range`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** Whether Docker would list a stopped container without -a: filters on state, as its foldFilter. */
export function filtersShowStopped(f: ContainerFilters): boolean {
  return f.status !== undefined;
}

/**
 * The subjects (newest first, as ps lists them) that pass every filter. `all` is ps -a;
 * a status filter implies it, as in Docker.
 */
export function selectContainers<T extends FilterSubject>(subjects: T[], f: ContainerFilters, resolvers: FilterResolvers, all: boolean): T[] {
  const beforeId = lastOf(f.before, resolvers.containerId);
  const sinceId = lastOf(f.since, resolvers.containerId);
  const family = f.ancestor ? new Set(f.ancestor.flatMap((a) => resolvers.imageFamily(a))) : undefined;
  const publish = f.publish ? new Set(f.publish.flatMap((v) => portsOf('publish', v))) : undefined;
  const expose = f.expose ? new Set(f.expose.flatMap((v) => portsOf('expose', v))) : undefined;
  const showStopped = all || filtersShowStopped(f);
  const out: T[] = [];
  let beforeReached = beforeId === undefined;
  for (const c of subjects) {
    // Newest first: "before" skips up to and including its container, "since" stops at its own.
    if (!beforeReached) {
      if (c.id === beforeId) beforeReached = true;
      continue;
    }
    if (c.id === sinceId) break;
    if (!showStopped && c.state !== 'running' && c.state !== 'paused' && c.state !== 'restarting') continue;
    if (f.name && !regexMatch(f.name, `/${c.name}`) && !regexMatch(f.name, c.name)) continue;
    if (f.id && !regexMatch(f.id, c.id)) continue;
    if (f.label && !labelsMatch(f.label, c.labels)) continue;
    if (f.isolation && !regexMatch(f.isolation, 'default')) continue;
    if (f['is-task'] && !f['is-task'].includes('false')) continue; // no swarm tasks here
    if (f.exited && !(c.state === 'exited' && c.started && f.exited.some((e) => Number(e) === c.exitCode))) continue;
    if (f.status && !f.status.includes(c.state)) continue;
    if (f.health && !f.health.includes(c.health)) continue;
    if (f.volume && !f.volume.some((v) => c.mounts.some((m) => m.destination === v || (m.name ?? m.source) === v))) continue;
    if (family && !family.has(c.imageId)) continue;
    if (f.network && !f.network.some((v) => c.networks.some((n) => n.name === v || (n.id !== undefined && v !== '' && n.id.startsWith(v))))) continue;
    if (publish && !c.published.some((p) => publish.has(p))) continue;
    if (expose && !c.exposed.some((p) => expose.has(p))) continue;
    out.push(c);
  }
  return out;
}

function lastOf(values: string[] | undefined, resolve: (ref: string) => string): string | undefined {
  let id: string | undefined;
  for (const v of values ?? []) id = resolve(v);
  return id;
}

/** `container prune --filter`: until (created before), label and label! (as Docker's prune filters). */
export interface PruneFilter {
  /** Milliseconds since the epoch: only containers created before it go. */
  until?: number;
  label?: string[];
  notLabel?: string[];
}

export function parsePruneFilters(flags: string[], now = Date.now()): PruneFilter {
  const f = parseFilterFlags(flags, ['until', 'label', 'label!']);
  if ((f.until?.length ?? 0) > 1) throw new UsageError('more than one until filter specified');
  return {
    ...(f.until ? { until: parseTimestampFlag(f.until[0]!, now) } : {}),
    ...(f.label ? { label: f.label } : {}),
    ...(f['label!'] ? { notLabel: f['label!'] } : {}),
  };
}

export function prunable(c: { created: string; labels: Record<string, string> }, f: PruneFilter): boolean {
  if (f.until !== undefined && Date.parse(c.created) > f.until) return false;
  if (f.label && !labelsMatch(f.label, c.labels)) return false;
  // label! spares a container that matches every one of its values, as Docker's MatchKVList.
  if (f.notLabel && labelsMatch(f.notLabel, c.labels)) return false;
  return true;
}

/** Docker's state string for a tsrun state. */
export function stateString(state: { status: 'created' | 'running' | 'exited'; paused?: boolean; restarting?: boolean }): ContainerStateString {
  if (state.restarting) return 'restarting'; // exited, waiting out its restart backoff
  if (state.status === 'running') return state.paused ? 'paused' : 'running';
  return state.status;
}

/**
 * The image IDs an ancestor filter covers: the image itself and every image whose layers
 * start with all of its layers (built on it: FROM it, or committed from one of its containers).
 */
export function imageFamily(root: { id: string; chainIds: string[] }, images: { id: string; chainIds: string[] }[]): string[] {
  const ids = [root.id];
  const base = root.chainIds;
  // An image without layers is no base: every image would "start" with it.
  if (base.length === 0) return ids;
  for (const img of images) {
    if (img.id === root.id || img.chainIds.length <= base.length) continue;
    if (base.every((c, i) => img.chainIds[i] === c)) ids.push(img.id);
  }
  return ids;
}
