// Volume drivers other than `local`: Docker's (legacy, v1) plugins, reached over HTTP.
// A plugin NAME is found as Docker finds it: a unix socket /run/docker/plugins/NAME.sock
// (or NAME/NAME.sock), else a file /etc/docker/plugins or /usr/lib/docker/plugins
// NAME.spec (a URL: unix:///path.sock or tcp://HOST:PORT) or NAME.json ({"Name","Addr"}).
// TSRUN_PLUGIN_DIRS (colon-separated directories, each searched for all of these) replaces
// those places, for tests and packagers. Each call is a POST of a JSON body; a non-empty
// "Err" in the answer is the plugin's error. This module loads node:http, so volumes.ts
// imports it only for a volume with another driver.
import { request } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TsrunError } from '../errors.js';

const DEFAULT_SOCKET_DIRS = ['/run/docker/plugins'];
const DEFAULT_SPEC_DIRS = ['/etc/docker/plugins', '/usr/lib/docker/plugins'];
const MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json';
/** A plugin call that takes longer is given up (Docker's plugin client gives up after a while too). */
const CALL_TIMEOUT_MS = 60_000;

/** What a plugin answered with an error, or a plugin that cannot be reached or used. */
export class VolumePluginError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VOLUME_PLUGIN', message, options);
  }
}

export type PluginAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface PluginVolume {
  Name: string;
  Mountpoint?: string;
  Status?: Record<string, unknown>;
  CreatedAt?: string;
}

function pluginDirs(env: NodeJS.ProcessEnv): { sockets: string[]; specs: string[] } {
  const custom = env.TSRUN_PLUGIN_DIRS?.split(':').filter((d) => d !== '');
  if (custom && custom.length > 0) return { sockets: custom, specs: custom };
  return { sockets: DEFAULT_SOCKET_DIRS, specs: DEFAULT_SPEC_DIRS };
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** A spec file's or a json file's Addr: unix:///path.sock or tcp://HOST:PORT (http:// is taken as tcp). */
export function parsePluginUrl(url: string, where: string): PluginAddress {
  const text = url.trim();
  const unix = /^unix:\/\/(\/.+)$/.exec(text);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const tcp = /^(?:tcp|http):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(text);
  if (tcp) return { kind: 'tcp', host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new VolumePluginError(`plugin address "${text}" in ${where} is neither unix:///PATH nor tcp://HOST:PORT`);
}

/** Where plugin `name` listens, found as Docker's plugin discovery finds it. */
export function discoverPlugin(name: string, env: NodeJS.ProcessEnv = process.env): PluginAddress {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.:/-]*$/.test(name) || name.includes('..')) throw new VolumePluginError(`invalid volume driver name "${name}"`);
  const { sockets, specs } = pluginDirs(env);
  for (const dir of sockets) {
    for (const path of [join(dir, `${name}.sock`), join(dir, name, `${name}.sock`)]) {
      if (isSocket(path)) return { kind: 'unix', path };
    }
  }
  for (const dir of specs) {
    const spec = join(dir, `${name}.spec`);
    if (existsSync(spec)) return parsePluginUrl(readFileSync(spec, 'utf8'), spec);
    const json = join(dir, `${name}.json`);
    if (existsSync(json)) {
      let parsed: { Addr?: unknown; TLSConfig?: unknown };
      try {
        parsed = JSON.parse(readFileSync(json, 'utf8')) as typeof parsed;
      } catch (err) {
        throw new VolumePluginError(`plugin file ${json} is not valid JSON`, { cause: err });
      }
      if (parsed.TLSConfig) throw new VolumePluginError(`plugin ${name}: TLS (TLSConfig in ${json}) is not supported`);
      if (typeof parsed.Addr !== 'string') throw new VolumePluginError(`plugin file ${json} has no Addr`);
      return parsePluginUrl(parsed.Addr, json);
    }
  }
  throw new VolumePluginError(`plugin "${name}" not found (no ${name}.sock, ${name}.spec or ${name}.json in ${[...new Set([...sockets, ...specs])].join(', ')})`);
}

/** discoverPlugin() with Docker's wording for a plugin that cannot be found. */
function lookUp(name: string, env: NodeJS.ProcessEnv): PluginAddress {
  try {
    return discoverPlugin(name, env);
  } catch (err) {
    throw new VolumePluginError(`error looking up volume plugin ${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** One POST to the plugin; resolves with the parsed JSON answer. */
function post(address: PluginAddress, method: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = Buffer.from(JSON.stringify(body ?? {}));
  const target = address.kind === 'unix' ? { socketPath: address.path } : { host: address.host, port: address.port };
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...target,
        method: 'POST',
        path: `/${method}`,
        headers: { Accept: MEDIA_TYPE, 'Content-Type': MEDIA_TYPE, 'Content-Length': payload.length },
        timeout: CALL_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
          } catch {
            // A non-JSON answer: an error if the status says so, otherwise a broken plugin.
            if ((res.statusCode ?? 500) >= 400) return reject(new VolumePluginError(`${method}: ${text.trim() || `HTTP ${res.statusCode}`}`));
            return reject(new VolumePluginError(`${method}: the plugin's answer is not JSON`));
          }
          const err = typeof parsed.Err === 'string' ? parsed.Err : '';
          if (err !== '') return reject(new VolumePluginError(`${method}: ${err}`));
          if ((res.statusCode ?? 500) >= 400) return reject(new VolumePluginError(`${method}: HTTP ${res.statusCode}`));
          resolve(parsed);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${CALL_TIMEOUT_MS / 1000}s`)));
    req.on('error', (err) => reject(new VolumePluginError(`${method}: cannot reach the plugin: ${err.message}`, { cause: err })));
    req.end(payload);
  });
}

/** A volume plugin, activated: Docker's VolumeDriver calls. */
export class VolumePlugin {
  private constructor(
    readonly name: string,
    private readonly address: PluginAddress,
  ) {}

  /** Docker's handshake: Plugin.Activate must list VolumeDriver. */
  static async activate(name: string, address: PluginAddress): Promise<VolumePlugin> {
    let answer: Record<string, unknown>;
    try {
      answer = await post(address, 'Plugin.Activate', {});
    } catch (err) {
      throw new VolumePluginError(`error looking up volume plugin ${name}: ${(err as Error).message}`, { cause: err });
    }
    const implementsList = Array.isArray(answer.Implements) ? answer.Implements : [];
    if (!implementsList.includes('VolumeDriver')) {
      throw new VolumePluginError(`error looking up volume plugin ${name}: plugin "${name}" does not implement VolumeDriver (it implements ${implementsList.join(', ') || 'nothing'})`);
    }
    return new VolumePlugin(name, address);
  }

  async create(volume: string, opts: Record<string, string>): Promise<void> {
    await post(this.address, 'VolumeDriver.Create', { Name: volume, Opts: opts });
  }

  async remove(volume: string): Promise<void> {
    await post(this.address, 'VolumeDriver.Remove', { Name: volume });
  }

  /** Mounts the volume for one user (`id`, Docker's mount ID); returns the host path to bind. */
  async mount(volume: string, id: string): Promise<string> {
    const answer = await post(this.address, 'VolumeDriver.Mount', { Name: volume, ID: id });
    if (typeof answer.Mountpoint !== 'string' || answer.Mountpoint === '') throw new VolumePluginError(`VolumeDriver.Mount: the plugin returned no Mountpoint for ${volume}`);
    return answer.Mountpoint;
  }

  async unmount(volume: string, id: string): Promise<void> {
    await post(this.address, 'VolumeDriver.Unmount', { Name: volume, ID: id });
  }

  async path(volume: string): Promise<string> {
    const answer = await post(this.address, 'VolumeDriver.Path', { Name: volume });
    return typeof answer.Mountpoint === 'string' ? answer.Mountpoint : '';
  }

  async get(volume: string): Promise<PluginVolume> {
    const answer = await post(this.address, 'VolumeDriver.Get', { Name: volume });
    const v = answer.Volume as PluginVolume | undefined;
    if (!v || typeof v !== 'object') throw new VolumePluginError(`VolumeDriver.Get: the plugin returned no Volume for ${volume}`);
    return v;
  }

  async list(): Promise<PluginVolume[]> {
    const answer = await post(this.address, 'VolumeDriver.List', {});
    return Array.isArray(answer.Volumes) ? (answer.Volumes as PluginVolume[]) : [];
  }

  /** The driver's scope, "local" when the plugin does not say (or has no Capabilities, as Docker assumes). */
  async scope(): Promise<string> {
    try {
      const answer = await post(this.address, 'VolumeDriver.Capabilities', {});
      const scope = (answer.Capabilities as { Scope?: unknown } | undefined)?.Scope;
      return typeof scope === 'string' && scope !== '' ? scope : 'local';
    } catch {
      return 'local';
    }
  }
}

const activated = new Map<string, Promise<VolumePlugin>>();

/**
 * The plugin `name`, activated once per process and address (as Docker keeps its plugins;
 * found again at each call, so a plugin that moved is followed); a failed activation is retried next time.
 */
export async function volumePlugin(name: string, env: NodeJS.ProcessEnv = process.env): Promise<VolumePlugin> {
  const address = lookUp(name, env);
  const key = `${name} ${JSON.stringify(address)}`;
  let plugin = activated.get(key);
  if (!plugin) {
    plugin = VolumePlugin.activate(name, address);
    activated.set(key, plugin);
    plugin.catch(() => activated.delete(key));
  }
  return plugin;
}
