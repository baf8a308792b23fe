// Docker volume plugins: discovery (sockets, .spec and .json files under TSRUN_PLUGIN_DIRS),
// the v1 protocol against a fake plugin (an HTTP server on a unix socket in a temp dir,
// recording the calls), and the Volumes engine's use of it (create, remove, mount IDs on disk).
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../../../src/engine/container-store.js';
import { storedContainerUsing } from '../../support/container-records.js';
import type { EngineContext } from '../../../src/engine/context.js';
import { discoverPlugin, parsePluginUrl, volumePlugin, VolumePluginError } from '../../../src/engine/volume-plugins.js';
import { Volumes } from '../../../src/engine/volumes.js';
import { mountPoints } from '../../../src/snapshot/overlay.js';

const isRoot = process.getuid?.() === 0;

interface Call {
  call: string;
  body: Record<string, unknown>;
  contentType: string | undefined;
}

let base: string;
let pluginDir: string;
let server: Server | undefined;
let calls: Call[];
/** Per call: the answer the fake gives (default: an empty success). */
let answers: Record<string, (body: Record<string, unknown>) => unknown>;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'tsrun-vplugin-'));
  pluginDir = join(base, 'plugins');
  mkdirSync(pluginDir);
  calls = [];
  answers = {
    'Plugin.Activate': () => ({ Implements: ['VolumeDriver'] }),
    'VolumeDriver.Mount': (b) => ({ Mountpoint: join(base, 'store', String(b.Name)) }),
    'VolumeDriver.Path': (b) => ({ Mountpoint: join(base, 'store', String(b.Name)) }),
    'VolumeDriver.Get': (b) => ({ Volume: { Name: b.Name, Mountpoint: join(base, 'store', String(b.Name)), Status: { ok: true } } }),
    'VolumeDriver.List': () => ({ Volumes: [{ Name: 'a' }] }),
    'VolumeDriver.Capabilities': () => ({ Capabilities: { Scope: 'global' } }),
  };
});

afterEach(async () => {
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
  rmSync(base, { recursive: true, force: true });
});

/** The fake plugin, listening on `socket`. */
async function startFake(socket: string): Promise<void> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call = (req.url ?? '/').slice(1);
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      calls.push({ call, body, contentType: req.headers['content-type'] });
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' });
      res.end(JSON.stringify(answers[call]?.(body) ?? {}));
    });
  });
  await new Promise<void>((r) => server!.listen(socket, r));
}

const env = () => ({ TSRUN_PLUGIN_DIRS: pluginDir });

describe('discovery', () => {
  it('finds NAME.sock, then NAME/NAME.sock, in the plugin directories', async () => {
    await startFake(join(pluginDir, 'fake.sock'));
    expect(discoverPlugin('fake', env())).toEqual({ kind: 'unix', path: join(pluginDir, 'fake.sock') });
    mkdirSync(join(pluginDir, 'nested'));
    writeFileSync(join(pluginDir, 'nested', 'nested.sock'), ''); // a plain file is no socket
    expect(() => discoverPlugin('nested', env())).toThrow('plugin "nested" not found');
  });

  it('reads NAME.spec (unix:// or tcp://) and NAME.json ({Addr}); TLS is refused', () => {
    writeFileSync(join(pluginDir, 'a.spec'), 'unix:///run/a.sock\n');
    writeFileSync(join(pluginDir, 'b.spec'), 'tcp://127.0.0.1:8080');
    writeFileSync(join(pluginDir, 'c.json'), JSON.stringify({ Name: 'c', Addr: 'tcp://127.0.0.1:9000' }));
    writeFileSync(join(pluginDir, 'd.json'), JSON.stringify({ Name: 'd', Addr: 'tcp://127.0.0.1:9001', TLSConfig: { CAFile: '/x' } }));
    writeFileSync(join(pluginDir, 'e.spec'), 'ftp://x');
    expect(discoverPlugin('a', env())).toEqual({ kind: 'unix', path: '/run/a.sock' });
    expect(discoverPlugin('b', env())).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8080 });
    expect(discoverPlugin('c', env())).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9000 });
    expect(() => discoverPlugin('d', env())).toThrow('TLS');
    expect(() => discoverPlugin('e', env())).toThrow('neither unix:///PATH nor tcp://HOST:PORT');
    expect(parsePluginUrl('tcp://[::1]:7', 'x')).toEqual({ kind: 'tcp', host: '::1', port: 7 });
  });

  it('a missing plugin is a clear error naming where it looked; a bad name is refused', () => {
    expect(() => discoverPlugin('ghost', env())).toThrow(`plugin "ghost" not found (no ghost.sock, ghost.spec or ghost.json in ${pluginDir})`);
    expect(() => discoverPlugin('../etc', env())).toThrow('invalid volume driver name');
    // Without the variable, Docker's own places.
    expect(() => discoverPlugin('ghost-tsrun-test', {})).toThrow('/run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins');
  });
});

describe('protocol', () => {
  it('activates, then makes each VolumeDriver call with Docker\'s media type and JSON bodies', async () => {
    await startFake(join(pluginDir, 'fake.sock'));
    const plugin = await volumePlugin('fake', env());
    await plugin.create('v1', { size: '1' });
    expect(await plugin.mount('v1', 'cid')).toBe(join(base, 'store', 'v1'));
    await plugin.unmount('v1', 'cid');
    expect(await plugin.path('v1')).toBe(join(base, 'store', 'v1'));
    expect(await plugin.get('v1')).toEqual({ Name: 'v1', Mountpoint: join(base, 'store', 'v1'), Status: { ok: true } });
    expect(await plugin.list()).toEqual([{ Name: 'a' }]);
    expect(await plugin.scope()).toBe('global');
    await plugin.remove('v1');
    expect(calls.map((c) => c.call)).toEqual([
      'Plugin.Activate',
      'VolumeDriver.Create',
      'VolumeDriver.Mount',
      'VolumeDriver.Unmount',
      'VolumeDriver.Path',
      'VolumeDriver.Get',
      'VolumeDriver.List',
      'VolumeDriver.Capabilities',
      'VolumeDriver.Remove',
    ]);
    expect(calls[1]!.body).toEqual({ Name: 'v1', Opts: { size: '1' } });
    expect(calls[2]!.body).toEqual({ Name: 'v1', ID: 'cid' });
    expect(calls[3]!.body).toEqual({ Name: 'v1', ID: 'cid' });
    expect(calls.every((c) => c.contentType === 'application/vnd.docker.plugins.v1.2+json')).toBe(true);
  });

  it('a non-empty Err is the plugin\'s error, with the call named', async () => {
    answers['VolumeDriver.Mount'] = () => ({ Mountpoint: '', Err: 'disk on fire' });
    await startFake(join(pluginDir, 'fake.sock'));
    const plugin = await volumePlugin('fake', env());
    const err = await plugin.mount('v1', 'cid').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VolumePluginError);
    expect((err as Error).message).toBe('VolumeDriver.Mount: disk on fire');
  });

  it('a plugin that does not implement VolumeDriver is refused', async () => {
    answers['Plugin.Activate'] = () => ({ Implements: ['Authz'] });
    await startFake(join(pluginDir, 'authz.sock'));
    await expect(volumePlugin('authz', env())).rejects.toThrow('error looking up volume plugin authz: plugin "authz" does not implement VolumeDriver (it implements Authz)');
  });

  it('a socket nobody listens on is an error naming the plugin', async () => {
    writeFileSync(join(pluginDir, 'dead.spec'), `unix://${join(base, 'nobody.sock')}`);
    await expect(volumePlugin('dead', env())).rejects.toThrow('error looking up volume plugin dead: Plugin.Activate: cannot reach the plugin');
  });
});

describe('volumes of a plugin', () => {
  let ctx: EngineContext;
  let volumes: Volumes;
  let savedDirs: string | undefined;

  beforeEach(async () => {
    savedDirs = process.env.TSRUN_PLUGIN_DIRS;
    process.env.TSRUN_PLUGIN_DIRS = pluginDir;
    ctx = { root: join(base, 'root'), runroot: join(base, 'run') };
    volumes = new Volumes(ctx);
    mkdirSync(join(base, 'store', 'pv'), { recursive: true });
    await startFake(join(pluginDir, 'fake.sock'));
  });

  afterEach(() => {
    if (savedDirs === undefined) delete process.env.TSRUN_PLUGIN_DIRS;
    else process.env.TSRUN_PLUGIN_DIRS = savedDirs;
  });

  const containerUsing = (name: string): ContainerRecord =>
    storedContainerUsing(ctx, [{ type: 'volume', name, source: volumes.dataDir(name), destination: '/data', mode: '', rw: true }]);

  it('create asks the plugin and records the driver and options; describe shows its Mountpoint and Status', async () => {
    const { volume, created } = await volumes.create({ name: 'pv', driver: 'fake', options: { anything: 'goes' } });
    expect(created).toBe(true);
    expect(volume.driver).toBe('fake');
    expect(volumes.get('pv').options).toEqual({ anything: 'goes' });
    expect(calls.map((c) => c.call)).toEqual(['Plugin.Activate', 'VolumeDriver.Create']);
    const described = await volumes.describe('pv');
    expect(described.mountpoint).toBe(join(base, 'store', 'pv'));
    expect(described.status).toEqual({ ok: true });
    expect(described.scope).toBe('global');
    // Another driver asked for the same name is a conflict; no driver asked for takes it as it is.
    await expect(volumes.create({ name: 'pv', driver: 'local' })).rejects.toThrow("driver 'fake' already has volume 'pv'");
    expect((await volumes.create({ name: 'pv' })).volume.driver).toBe('fake');
  });

  it('describe shows an empty Mountpoint and no Status when Get gives none, as Docker', async () => {
    await volumes.create({ name: 'pv', driver: 'fake' });
    answers['VolumeDriver.Get'] = (b) => ({ Volume: { Name: b.Name } });
    const described = await volumes.describe('pv');
    expect(described.mountpoint).toBe('');
    expect(described.status).toBeUndefined();
  });

  it('listWithPlugins adds what the plugins of recorded volumes report (List), once each; a failing plugin is named and the rest listed', async () => {
    await volumes.create({ name: 'loc' });
    expect(await volumes.listWithPlugins()).toEqual({ volumes: [volumes.get('loc')], failures: [] });
    expect(calls).toEqual([]); // no plugin volume recorded: no plugin asked
    await volumes.create({ name: 'pv', driver: 'fake' });
    answers['VolumeDriver.List'] = () => ({
      Volumes: [
        { Name: 'pv', Mountpoint: '/plugin/pv' },
        { Name: 'elsewhere', Mountpoint: '/plugin/elsewhere', CreatedAt: '2026-01-02T03:04:05Z' },
        { Name: 'loc' }, // a local volume's name: ours stays
      ],
    });
    // A recorded volume whose plugin is gone.
    mkdirSync(volumes.dataDir('lost'), { recursive: true });
    writeFileSync(join(volumes.volumeDir('lost'), 'volume.json'), JSON.stringify({ name: 'lost', driver: 'ghost', createdAt: '', labels: {}, options: {}, anonymous: false }));
    const { volumes: listed, failures } = await volumes.listWithPlugins();
    expect(listed.map((v) => [v.name, v.driver, v.mountpoint])).toEqual([
      ['elsewhere', 'fake', '/plugin/elsewhere'],
      ['loc', 'local', volumes.dataDir('loc')],
      ['lost', 'ghost', volumes.dataDir('lost')],
      ['pv', 'fake', '/plugin/pv'],
    ]);
    expect(listed[0]).toMatchObject({ createdAt: '2026-01-02T03:04:05Z', labels: {}, options: {}, anonymous: false });
    expect(failures.map((f) => f.driver)).toEqual(['ghost']);
    expect(String(failures[0]!.error)).toContain('error looking up volume plugin ghost');
  });

  it('a volume only a plugin in use has (Get): describe shows it, -v NAME records it with that driver without a Create, remove goes through the plugin', async () => {
    answers['VolumeDriver.Get'] = (b) =>
      b.Name === 'far' ? { Volume: { Name: 'far', Mountpoint: '/plugin/far', Status: { size: 3 }, CreatedAt: '2026-01-02T03:04:05Z' } } : { Err: `no such volume ${String(b.Name)}` };
    expect(await volumes.findInPlugins('far')).toBeUndefined(); // no plugin volume recorded: none asked
    expect(calls).toEqual([]);
    await expect(volumes.describe('far')).rejects.toThrow('no such volume: far');
    await volumes.create({ name: 'pv', driver: 'fake' });
    expect(await volumes.describe('far')).toEqual({
      name: 'far', driver: 'fake', createdAt: '2026-01-02T03:04:05Z', labels: {}, options: {}, anonymous: false, mountpoint: '/plugin/far', status: { size: 3 }, scope: 'global',
    });
    await expect(volumes.describe('nowhere')).rejects.toThrow('no such volume: nowhere');
    expect(await volumes.findInPlugins('pv')).toBeUndefined(); // recorded: ours, not looked up

    const { volume, created } = await volumes.create({ name: 'far' });
    expect(created).toBe(false);
    expect(volume).toMatchObject({ name: 'far', driver: 'fake', mountpoint: volumes.dataDir('far') });
    expect(volumes.get('far').driver).toBe('fake');
    expect(calls.filter((c) => c.call === 'VolumeDriver.Create').map((c) => c.body.Name)).toEqual(['pv']);
    // An unknown name is still a new local volume.
    expect((await volumes.create({ name: 'fresh' })).volume.driver).toBe('local');

    await volumes.remove('far');
    answers['VolumeDriver.Get'] = (b) => (b.Name === 'gone' ? { Volume: { Name: 'gone' } } : { Err: 'no such volume' });
    await volumes.remove('gone');
    await expect(volumes.remove('nowhere')).rejects.toThrow('no such volume: nowhere');
    await volumes.remove('nowhere', { force: true });
    expect(calls.filter((c) => c.call === 'VolumeDriver.Remove').map((c) => c.body.Name)).toEqual(['far', 'gone']);
  });

  it('a plugin refusing Create leaves no volume; a missing plugin is a clear error', async () => {
    answers['VolumeDriver.Create'] = () => ({ Err: 'quota exceeded' });
    await expect(volumes.create({ name: 'pv', driver: 'fake' })).rejects.toThrow('VolumeDriver.Create: quota exceeded');
    expect(volumes.find('pv')).toBeUndefined();
    await expect(volumes.create({ name: 'pv', driver: 'ghost' })).rejects.toThrow('error looking up volume plugin ghost: plugin "ghost" not found');
  });

  it('remove asks the plugin, after an Unmount for each mount ID left on disk; a refused Remove keeps the volume', async () => {
    await volumes.create({ name: 'pv', driver: 'fake' });
    mkdirSync(join(volumes.volumeDir('pv'), 'plugin-mounts'));
    writeFileSync(join(volumes.volumeDir('pv'), 'plugin-mounts', 'deadbeef'), '');
    answers['VolumeDriver.Remove'] = () => ({ Err: 'busy' });
    await expect(volumes.remove('pv')).rejects.toThrow('VolumeDriver.Remove: busy');
    expect(volumes.find('pv')).toBeDefined();
    expect(volumes.pluginMountIds('pv')).toEqual([]);
    delete answers['VolumeDriver.Remove'];
    await volumes.remove('pv');
    expect(volumes.find('pv')).toBeUndefined();
    expect(calls.filter((c) => c.call.startsWith('VolumeDriver.')).map((c) => `${c.call} ${JSON.stringify(c.body)}`)).toEqual([
      'VolumeDriver.Create {"Name":"pv","Opts":{}}',
      'VolumeDriver.Unmount {"Name":"pv","ID":"deadbeef"}',
      'VolumeDriver.Remove {"Name":"pv"}',
      'VolumeDriver.Remove {"Name":"pv"}',
    ]);
  });

  it('releaseUnused unmounts the IDs whose containers are not live (a kill -9 leaves them on disk) and keeps a live one\'s', async () => {
    await volumes.create({ name: 'pv', driver: 'fake' });
    const live = containerUsing('pv');
    const dead = containerUsing('pv');
    mkdirSync(join(volumes.volumeDir('pv'), 'plugin-mounts'));
    for (const id of [live.id, dead.id, 'gone']) writeFileSync(join(volumes.volumeDir('pv'), 'plugin-mounts', id), '');
    await volumes.releaseUnused(undefined, (r) => r.id === live.id);
    expect(volumes.pluginMountIds('pv')).toEqual([live.id]);
    const unmounted = calls.filter((c) => c.call === 'VolumeDriver.Unmount').map((c) => c.body.ID);
    expect(unmounted.sort()).toEqual([dead.id, 'gone'].sort());
  });

  it.skipIf(!isRoot)('mountLocked records the ID, asks Mount and binds its path on _data; a Mount Err records nothing (as root)', async () => {
    await volumes.create({ name: 'pv', driver: 'fake' });
    const c = containerUsing('pv');
    writeFileSync(join(base, 'store', 'pv', 'hello'), 'from plugin');
    const lease = await volumes.lease();
    try {
      // The Mount's path, for the container's record (inspect's Source).
      expect(await volumes.mountLocked(['pv'], c.id)).toEqual(new Map([['pv', join(base, 'store', 'pv')]]));
    } finally {
      lease.release();
    }
    try {
      expect(volumes.pluginMountIds('pv')).toEqual([c.id]);
      expect(mountPoints()).toContain(volumes.dataDir('pv'));
      expect(readdirSync(volumes.dataDir('pv'))).toEqual(['hello']);
      expect(await volumes.releaseUnused(['pv'], () => false)).toEqual(['pv']);
      expect(mountPoints()).not.toContain(volumes.dataDir('pv'));
      expect(volumes.pluginMountIds('pv')).toEqual([]);
      expect(existsSync(join(base, 'store', 'pv', 'hello'))).toBe(true);
    } finally {
      await volumes.releaseUnused(['pv'], () => false).catch(() => undefined);
    }
    answers['VolumeDriver.Mount'] = () => ({ Err: 'no disk' });
    const lease2 = await volumes.lease();
    try {
      await expect(volumes.mountLocked(['pv'], c.id)).rejects.toThrow("error while mounting volume 'pv': VolumeDriver.Mount: no disk");
    } finally {
      lease2.release();
    }
    expect(volumes.pluginMountIds('pv')).toEqual([]);
    expect(mountPoints()).not.toContain(volumes.dataDir('pv'));
  });
});
