// Per-registry host settings: mirrors, plain HTTP, extra CAs.
//
// File: $TSRUN_REGISTRIES_CONFIG, else /etc/tsrun/registries.json (a missing
// file means "no settings"). Format (see docs/registries.md):
//
//   {
//     "registries": {
//       "docker.io": {                       // key: the registry as written in image names
//         "mirrors": [                       // tried in order before the registry itself, for pulls only
//           "https://mirror.example.com",    //   a URL (scheme decides http/https)
//           "mirror2.example.com:5000",      //   or a host, whose own entry below decides its settings
//           "https://mirror3.example/cache", //   a path: the API root is /cache/v2 (containerd's rule)
//           { "url": "https://harbor.example/v2/proxy-docker", "overridePath": true }
//         ]                                  //   the path is the API root as it is
//       },
//       "registry.lan:5000": {
//         "insecure": true,                  // HTTPS without certificate checks, falling back to plain HTTP
//         "caFile": "/etc/tsrun/certs/lan.pem" // extra CA (PEM) trusted for this host
//       },
//       "localhost:5000": { "tls": true },   // loopback hosts use plain HTTP unless "tls": true
//       "airgap.lan": { "allowNondistributableArtifacts": true } // push foreign layers too
//     }
//   }
//
// Loopback registries (127.0.0.0/8, ::1, localhost) use plain HTTP without any
// setting, as Docker does.
//
// A path in a mirror's URL follows containerd's hosts.toml: the path is
// cleaned and "/v2" appended unless it already ends in "/v2"; with
// "overridePath" (containerd's override_path) the path is the API root as
// written. Requests then go to <scheme>://<host><root>/<name>/manifests/<ref>.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { RegistryError } from '../errors.js';
import type { TlsSettings } from './http.js';

export const DEFAULT_HOSTS_CONFIG = '/etc/tsrun/registries.json';
/** The API host behind the "docker.io" in image names. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** A mirror given as an object: its URL (or host[/path]) and whether its path is the API root as it is. */
export interface MirrorSpec {
  url: string;
  overridePath?: boolean;
}

export interface HostSettings {
  mirrors?: (string | MirrorSpec)[];
  insecure?: boolean;
  caFile?: string;
  tls?: boolean;
  /** Push foreign (non-distributable) layers too, as Docker's allow-nondistributable-artifacts. */
  allowNondistributableArtifacts?: boolean;
}

export interface HostsConfig {
  registries: Record<string, HostSettings>;
}

/** One place to send requests for a registry: the registry itself or a mirror. */
export interface Endpoint {
  /** "registry-1.docker.io", "127.0.0.1:5000": the host credentials and tokens belong to. */
  host: string;
  /** Scheme and host of the API (no path). */
  base: URL;
  /** Path of the API root, without a trailing slash: "/v2", or "/cache/v2" for a mirror with a path. */
  root: string;
  mirror: boolean;
  tls: TlsSettings;
  /** Insecure HTTPS endpoint that may be retried over plain HTTP. */
  httpFallback: boolean;
}

export function defaultHostsConfigPath(): string {
  return process.env.TSRUN_REGISTRIES_CONFIG || DEFAULT_HOSTS_CONFIG;
}

export function loadHostsConfig(path = defaultHostsConfigPath()): HostsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { registries: {} };
    throw new RegistryError(`cannot read the registries config ${path}`, undefined, undefined, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RegistryError(`registries config ${path} is not valid JSON`, undefined, undefined, { cause: err });
  }
  const bad = (why: string): never => {
    throw new RegistryError(`registries config ${path}: ${why}`, undefined, undefined);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) bad('must be a JSON object');
  const regs = (doc as { registries?: unknown }).registries ?? {};
  if (typeof regs !== 'object' || regs === null || Array.isArray(regs)) bad('"registries" must be an object keyed by registry host');
  for (const [host, s] of Object.entries(regs as Record<string, unknown>)) {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) bad(`"${host}" must be an object`);
    const e = s as Record<string, unknown>;
    if (e.mirrors !== undefined) {
      if (!Array.isArray(e.mirrors)) bad(`"${host}".mirrors must be a list of URLs or hosts`);
      for (const [i, m] of (e.mirrors as unknown[]).entries()) {
        const where = `"${host}".mirrors[${i}]`;
        let url: unknown = m;
        if (typeof m === 'object' && m !== null && !Array.isArray(m)) {
          const o = m as Record<string, unknown>;
          for (const k of Object.keys(o)) if (k !== 'url' && k !== 'overridePath') bad(`${where}: unknown setting "${k}" (known: url, overridePath)`);
          if (o.overridePath !== undefined && typeof o.overridePath !== 'boolean') bad(`${where}.overridePath must be true or false`);
          url = o.url;
        }
        if (typeof url !== 'string' || url === '') bad(`${where} must be a URL, a host or { "url": ..., "overridePath": ... }`);
        let parsed: URL | undefined;
        try {
          parsed = mirrorUrl(url as string);
        } catch {
          parsed = undefined;
        }
        if (!parsed || !parsed.host || parsed.search || parsed.hash || parsed.username || parsed.password) {
          bad(`${where}: ${JSON.stringify(url)} is not a usable mirror URL (http(s)://host[:port][/path], or host[:port][/path])`);
        }
      }
    }
    for (const k of ['insecure', 'tls', 'allowNondistributableArtifacts']) if (e[k] !== undefined && typeof e[k] !== 'boolean') bad(`"${host}".${k} must be true or false`);
    if (e.caFile !== undefined && typeof e.caFile !== 'string') bad(`"${host}".caFile must be a path`);
    const known = new Set(['mirrors', 'insecure', 'caFile', 'tls', 'allowNondistributableArtifacts']);
    for (const k of Object.keys(e)) if (!known.has(k)) bad(`"${host}": unknown setting "${k}" (known: ${[...known].join(', ')})`);
  }
  return { registries: regs as Record<string, HostSettings> };
}

/** 127.0.0.0/8, ::1 and localhost, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  // Plain string checks, not node:net's isIP: its IPv6 pattern takes ~3 ms to compile on
  // first use, paid by every pull for this one question.
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  // Two colons or more without brackets: a bare IPv6 address, which cannot carry a port.
  const name = bracketed ? bracketed[1]! : host.split(':').length > 2 ? host : host.replace(/:\d+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  if (v4) return v4.slice(1).every((octet) => Number(octet) <= 255);
  return name === '::1' || name === '0:0:0:0:0:0:0:1';
}

/** The registry's own API host for a domain from an image name. */
export function apiHost(domain: string): string {
  return DOCKER_HUB_ALIASES.has(domain) ? DOCKER_HUB_API_HOST : domain;
}

function settingsFor(config: HostsConfig, host: string): HostSettings {
  const regs = config.registries;
  if (regs[host]) return regs[host]!;
  if (DOCKER_HUB_ALIASES.has(host)) for (const alias of DOCKER_HUB_ALIASES) if (regs[alias]) return regs[alias]!;
  return {};
}

function readCa(path: string | undefined, host: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new RegistryError(`cannot read caFile ${path} configured for ${host}`, undefined, undefined, { cause: err });
  }
}

/** A mirror entry as a URL: "host[:port][/path]" gets https:// (the scheme is decided later). */
function mirrorUrl(hostOrUrl: string): URL {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(hostOrUrl) && !/^https?:\/\//i.test(hostOrUrl)) throw new Error('only http and https');
  return new URL(/^https?:\/\//i.test(hostOrUrl) ? hostOrUrl : `https://${hostOrUrl}`);
}

/**
 * The API root for a URL path, by containerd's hosts.toml rule: "" or "/" is
 * "/v2"; another path is cleaned and gets "/v2" appended unless it ends in
 * "/v2" already ("/cache" -> "/cache/v2", "/v2/proxy" -> "/v2/proxy/v2").
 * With overridePath the cleaned path is the root as it is ("/v2/proxy").
 */
export function apiRoot(pathname: string, overridePath = false): string {
  const clean = posix.normalize(`/${pathname}`).replace(/\/+$/, '');
  if (overridePath) return clean;
  if (clean === '') return '/v2';
  return clean.endsWith('/v2') ? clean : `${clean}/v2`;
}

/**
 * What one command relaxes for every registry it talks to, on top of the config
 * (tsrkt's --insecure-options tls / http): an "insecure" entry is both at once.
 */
export interface InsecureTransport {
  /** HTTPS without certificate checks. */
  skipTlsVerify?: boolean;
  /** Plain HTTP when the registry does not speak TLS. */
  allowHttp?: boolean;
}

function endpointFor(config: HostsConfig, entry: string | MirrorSpec, mirror: boolean, command: InsecureTransport = {}): Endpoint {
  const hostOrUrl = typeof entry === 'string' ? entry : entry.url;
  const explicit = /^https?:\/\//i.test(hostOrUrl);
  const url = mirrorUrl(hostOrUrl);
  const root = apiRoot(url.pathname, typeof entry === 'string' ? false : entry.overridePath === true);
  const host = url.host;
  const s = settingsFor(config, host);
  const tls: TlsSettings = {};
  const ca = readCa(s.caFile, host);
  if (ca) tls.ca = ca;
  const skipVerify = s.insecure === true || command.skipTlsVerify === true;
  let scheme = url.protocol;
  let httpFallback = false;
  if (!explicit) {
    if (isLoopbackHost(host) && !s.tls) scheme = 'http:';
    else {
      if (skipVerify) tls.rejectUnauthorized = false;
      httpFallback = s.insecure === true || command.allowHttp === true;
    }
  } else if (skipVerify) tls.rejectUnauthorized = false;
  return { host, base: new URL(`${scheme}//${host}`), root, mirror, tls, httpFallback };
}

/** Whether pushes to `domain` upload foreign layers instead of skipping them (allowNondistributableArtifacts). */
export function allowsNondistributable(config: HostsConfig, domain: string): boolean {
  return settingsFor(config, domain).allowNondistributableArtifacts === true;
}

/** Where to send requests for `domain`, in order: mirrors first for pulls, then the registry. */
export function endpointsFor(
  config: HostsConfig,
  domain: string,
  purpose: 'pull' | 'push' | 'login' = 'pull',
  command: InsecureTransport = {},
): Endpoint[] {
  const upstream = endpointFor(config, apiHost(domain), false, command);
  if (purpose !== 'pull') return [upstream];
  const mirrors = (settingsFor(config, domain).mirrors ?? []).map((m) => endpointFor(config, m, true, command));
  return [...mirrors, upstream];
}
