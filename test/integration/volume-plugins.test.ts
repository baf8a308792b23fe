// Volumes of a Docker volume plugin end to end: the built `tsrun` CLI runs real containers
// from the project's busybox image (from the docker-registry on 127.0.0.1) with volumes
// that a plugin (test/support/volume-plugin-server.mjs, its own process on a unix socket
// in a temp dir, found through TSRUN_PLUGIN_DIRS) creates, mounts and removes. Run as root
// under the integration lock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { REPO, type TsrunCli } from '../support/tsrun-cli.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

let work: string;
let pluginDirs: string;
let store: string;
let callLog: string;
let plugin: ChildProcess | undefined;
let savedDirs: string | undefined;

interface Call {
  call: string;
  body: { Name?: string; ID?: string; Opts?: Record<string, string> };
}

beforeAll(async () => {
  work = mkdtempSync('/tmp/tsrun-vplugin-it-');
  pluginDirs = join(work, 'plugins');
  store = join(work, 'store');
  callLog = join(work, 'calls.jsonl');
  mkdirSync(pluginDirs);
  writeFileSync(callLog, '');
  // Every tsrun the tests start (and the monitors they leave) finds the plugin here.
  savedDirs = process.env.TSRUN_PLUGIN_DIRS;
  process.env.TSRUN_PLUGIN_DIRS = pluginDirs;
  plugin = await startPlugin('fake', store, callLog);
}, 30_000);

afterAll(async () => {
  if (savedDirs === undefined) delete process.env.TSRUN_PLUGIN_DIRS;
  else process.env.TSRUN_PLUGIN_DIRS = savedDirs;
  if (plugin) await stopPlugin(plugin);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The test plugin as NAME (its socket in the plugin dir), once it listens. */
async function startPlugin(name: string, dataDir: string, log: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(REPO, 'test/support/volume-plugin-server.mjs'), join(pluginDirs, `${name}.sock`), dataDir, log], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`plugin server exited ${code}`)));
  });
  return child;
}

async function stopPlugin(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** A call to the fake plugin as another host would make it: tsrun hears nothing of it. */
function callPlugin(call: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(pluginDirs, 'fake.sock'), method: 'POST', path: `/${call}` }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

let callsBefore = 0;
beforeEach(() => {
  callsBefore = readCalls().length;
});

function readCalls(): Call[] {
  return readFileSync(callLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Call);
}

/** The VolumeDriver calls since the test began, as "Call NAME [ID]". */
function callsSince(): string[] {
  return readCalls()
    .slice(callsBefore)
    .filter((c) => c.call.startsWith('VolumeDriver.') && ['Create', 'Remove', 'Mount', 'Unmount'].some((k) => c.call.endsWith(`.${k}`)))
    .map((c) => [c.call, c.body.Name, c.body.ID].filter(Boolean).join(' '));
}

const dataDir = (name: string) => join(cli.root, 'volumes', name, '_data');
const mountsUnder = (path: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && p.startsWith(path));
const idOf = (name: string) => JSON.parse(cli.ok(['inspect', name]))[0].Id as string;

describe('a volume plugin', () => {
  it('volume create -d calls Create; a container start Mounts with its id, writes land in the plugin, its exit Unmounts; volume rm calls Remove', () => {
    const created = cli.run(['volume', 'create', '-d', 'fake', '-o', 'color=blue', 'pv1']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('pv1\n');
    expect(cli.ok(['volume', 'ls'])).toMatch(/^fake\s+pv1$/m);
    const inspected = JSON.parse(cli.ok(['volume', 'inspect', 'pv1']))[0];
    expect(inspected).toMatchObject({ Name: 'pv1', Driver: 'fake', Mountpoint: join(store, 'pv1'), Options: { color: 'blue' }, Status: { mounts: 0 } });

    const run = cli.run(['run', '--name', 'pvw', '-v', 'pv1:/data', image, 'sh', '-c', 'echo from-container > /data/f']);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(store, 'pv1', 'f'), 'utf8')).toBe('from-container\n');
    const id = idOf('pvw');
    expect(callsSince()).toEqual(['VolumeDriver.Create pv1', `VolumeDriver.Mount pv1 ${id}`, `VolumeDriver.Unmount pv1 ${id}`]);
    // Source: the path the plugin's Mount returned, not the bind target under --root (as Docker shows it).
    expect(JSON.parse(cli.ok(['inspect', 'pvw']))[0].Mounts).toMatchObject([{ Type: 'volume', Name: 'pv1', Driver: 'fake', Source: join(store, 'pv1'), Destination: '/data' }]);
    expect(mountsUnder(dataDir('pv1'))).toEqual([]);
    expect(readdirSync(dataDir('pv1'))).toEqual([]); // nothing written underneath the bind

    // In use (even stopped): refused, and the plugin hears nothing.
    const refused = cli.run(['volume', 'rm', 'pv1']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe(`tsrun: remove pv1: volume is in use - [${id}]\n`);
    expect(cli.run(['rm', 'pvw']).code).toBe(0);
    expect(cli.run(['volume', 'rm', 'pv1']).code).toBe(0);
    expect(callsSince().slice(-1)).toEqual(['VolumeDriver.Remove pv1']);
    expect(existsSync(join(store, 'pv1'))).toBe(false);
    expect(existsSync(join(cli.root, 'volumes', 'pv1'))).toBe(false);
  });

  it('--volume-driver for -v and volume-driver= for --mount create the volume with the plugin; an empty one gets the image\'s content', () => {
    const r = cli.run(['run', '--rm', '--volume-driver', 'fake', '-v', 'pv2:/etc', image, 'cat', '/etc/passwd']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('root:');
    expect(existsSync(join(store, 'pv2', 'passwd'))).toBe(true); // Docker's copy-up, into the plugin's directory
    const m = cli.run(['run', '--rm', '--mount', 'type=volume,src=pv3,dst=/d,volume-driver=fake', image, 'sh', '-c', 'echo m > /d/m']);
    expect(m.code, m.stderr).toBe(0);
    expect(readFileSync(join(store, 'pv3', 'm'), 'utf8')).toBe('m\n');
    expect(cli.ok(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}'])).toMatch(/^fake pv2\nfake pv3$/m);
    expect(cli.run(['volume', 'rm', 'pv2', 'pv3']).code).toBe(0);
  });

  it('an Err from Mount fails the run with the plugin\'s message (125) and leaves no container running', () => {
    expect(cli.run(['volume', 'create', '-d', 'fake', '-o', 'fail-mount=no disk here', 'pvbad']).code).toBe(0);
    const r = cli.run(['run', '-d', '--name', 'pvbadc', '-v', 'pvbad:/d', image, 'sleep', '600']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("error while mounting volume 'pvbad': VolumeDriver.Mount: no disk here");
    expect(cli.run(['ps', '-q']).stdout).toBe('');
    expect(readdirSync(join(cli.root, 'volumes', 'pvbad', 'plugin-mounts'))).toEqual([]);
    expect(mountsUnder(dataDir('pvbad'))).toEqual([]);
    expect(cli.run(['rm', '-f', 'pvbadc']).code).toBe(0);
    expect(cli.run(['volume', 'rm', 'pvbad']).code).toBe(0);
  });

  it('a plugin that is not there is a clear error, and nothing is created', () => {
    const r = cli.run(['run', '--rm', '--volume-driver', 'ghost', '-v', 'pvghost:/d', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('error looking up volume plugin ghost: plugin "ghost" not found');
    const c = cli.run(['volume', 'create', '-d', 'ghost', 'pvghost']);
    expect(c.code).toBe(125);
    expect(c.stderr).toMatch(/^tsrun: create pvghost: error looking up volume plugin ghost: plugin "ghost" not found/);
    expect(cli.ok(['volume', 'ls', '-q'])).not.toContain('pvghost');
  });

  it('volume ls adds the volumes the plugin reports (List), made elsewhere, once each with its driver; -q, --format and filters see them', async () => {
    expect(cli.run(['volume', 'create', '-d', 'fake', 'pvls']).code).toBe(0);
    expect(cli.run(['volume', 'create', 'pvlocal']).code).toBe(0);
    expect(await callPlugin('VolumeDriver.Create', { Name: 'pvfar', Opts: {} })).toEqual({});
    try {
      const table = cli.run(['volume', 'ls']);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stderr).toBe('');
      expect(table.stdout.match(/^fake\s+pvfar$/gm)).toHaveLength(1);
      expect(table.stdout.match(/^fake\s+pvls$/gm)).toHaveLength(1);
      expect(table.stdout).toMatch(/^local\s+pvlocal$/m);
      expect(cli.ok(['volume', 'ls', '-q']).split('\n').filter((n) => n.startsWith('pv'))).toEqual(['pvfar', 'pvlocal', 'pvls']);
      // The plugin's own Mountpoint, for the volume it reported and for ours.
      expect(cli.ok(['volume', 'ls', '--format', '{{.Driver}} {{.Name}} {{.Mountpoint}}', '-f', 'driver=fake'])).toBe(`fake pvfar ${join(store, 'pvfar')}\nfake pvls ${join(store, 'pvls')}\n`);
      expect(cli.ok(['volume', 'ls', '-q', '-f', 'name=pvfar'])).toBe('pvfar\n');
      expect(cli.ok(['volume', 'ls', '-q', '-f', 'driver=local'])).not.toContain('pvfar');
    } finally {
      await callPlugin('VolumeDriver.Remove', { Name: 'pvfar' });
    }
    expect(cli.ok(['volume', 'ls', '-q'])).not.toContain('pvfar');
    expect(cli.run(['volume', 'rm', 'pvls', 'pvlocal']).code).toBe(0);
  });

  it('a volume only the plugin has (made elsewhere): volume inspect asks Get, volume rm calls Remove, -v NAME mounts it through the plugin', async () => {
    expect(cli.run(['volume', 'create', '-d', 'fake', 'pvhome']).code).toBe(0); // puts the plugin in use
    expect(await callPlugin('VolumeDriver.Create', { Name: 'pvonly', Opts: {} })).toEqual({});
    expect(await callPlugin('VolumeDriver.Create', { Name: 'pvrun', Opts: {} })).toEqual({});
    try {
      const inspected = cli.run(['volume', 'inspect', 'pvonly']);
      expect(inspected.code, inspected.stderr).toBe(0);
      expect(JSON.parse(inspected.stdout)).toEqual([{ CreatedAt: '', Driver: 'fake', Labels: {}, Mountpoint: join(store, 'pvonly'), Name: 'pvonly', Options: {}, Scope: 'local', Status: { mounts: 0 } }]);
      expect(cli.ok(['volume', 'inspect', '-f', '{{.Driver}} {{.Mountpoint}}', 'pvonly'])).toBe(`fake ${join(store, 'pvonly')}\n`);
      const missing = cli.run(['volume', 'inspect', 'pvnowhere']);
      expect(missing.code).toBe(125);
      expect(missing.stderr).toBe('tsrun: no such volume: pvnowhere\n');

      const removed = cli.run(['volume', 'rm', 'pvonly']);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stdout).toBe('pvonly\n');
      expect(existsSync(join(store, 'pvonly'))).toBe(false);
      expect(callsSince().filter((c) => c.endsWith(' pvonly'))).toEqual(['VolumeDriver.Create pvonly', 'VolumeDriver.Remove pvonly']);
      const again = cli.run(['volume', 'rm', 'pvonly']);
      expect(again.code).toBe(125);
      expect(again.stderr).toBe('tsrun: no such volume: pvonly\n');

      // -v NAME takes the plugin's volume (no Create, no local volume): writes land in the plugin's directory.
      const run = cli.run(['run', '--name', 'pvrunc', '-v', 'pvrun:/d', image, 'sh', '-c', 'echo via-plugin > /d/f']);
      expect(run.code, run.stderr).toBe(0);
      const id = idOf('pvrunc');
      expect(readFileSync(join(store, 'pvrun', 'f'), 'utf8')).toBe('via-plugin\n');
      expect(callsSince().filter((c) => c.includes(' pvrun'))).toEqual(['VolumeDriver.Create pvrun', `VolumeDriver.Mount pvrun ${id}`, `VolumeDriver.Unmount pvrun ${id}`]);
      expect(JSON.parse(cli.ok(['inspect', 'pvrunc']))[0].Mounts).toMatchObject([{ Type: 'volume', Name: 'pvrun', Driver: 'fake', Source: join(store, 'pvrun') }]);
      expect(cli.ok(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']).split('\n').filter((l) => l.endsWith(' pvrun'))).toEqual(['fake pvrun']);
      expect(cli.run(['rm', 'pvrunc']).code).toBe(0);
      expect(cli.run(['volume', 'rm', 'pvrun']).code).toBe(0);
      expect(existsSync(join(store, 'pvrun'))).toBe(false);
    } finally {
      cli.run(['rm', '-f', 'pvrunc']);
      await callPlugin('VolumeDriver.Remove', { Name: 'pvonly' });
      await callPlugin('VolumeDriver.Remove', { Name: 'pvrun' });
    }
    expect(cli.run(['volume', 'rm', 'pvhome']).code).toBe(0);
  });

  it('volume ls with a plugin that cannot be reached: a warning naming it, the rest listed, exit 0', async () => {
    const gone = await startPlugin('gone', join(work, 'gone-store'), join(work, 'gone-calls.jsonl'));
    try {
      expect(cli.run(['volume', 'create', '-d', 'gone', 'pvgone']).code).toBe(0);
    } finally {
      await stopPlugin(gone);
    }
    rmSync(join(pluginDirs, 'gone.sock'), { force: true });
    expect(cli.run(['volume', 'create', '-d', 'fake', 'pvstays']).code).toBe(0);
    try {
      const r = cli.run(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^WARNING: cannot list the volumes of plugin gone: error looking up volume plugin gone: plugin "gone" not found/);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stdout).toContain('gone pvgone\n'); // our record of it stays listed
      expect(r.stdout).toContain('fake pvstays\n');
    } finally {
      // Its plugin is gone for good: the record goes by hand.
      rmSync(join(cli.root, 'volumes', 'pvgone'), { recursive: true, force: true });
    }
    expect(cli.run(['volume', 'rm', 'pvstays']).code).toBe(0);
  });

  it('volume inspect and inspect show the Mountpoint and Status Get gives, an empty Mountpoint when it gives none', () => {
    expect(cli.run(['volume', 'create', '-d', 'fake', 'pvget']).code).toBe(0);
    expect(cli.run(['volume', 'create', '-d', 'fake', '-o', 'hide-mountpoint=1', 'pvhidden']).code).toBe(0);
    for (const verb of [['volume', 'inspect'], ['inspect']]) {
      const [shown, hidden] = JSON.parse(cli.ok([...verb, 'pvget', 'pvhidden']));
      expect(shown, verb.join(' ')).toMatchObject({ Name: 'pvget', Driver: 'fake', Mountpoint: join(store, 'pvget'), Status: { mounts: 0 } });
      expect(hidden, verb.join(' ')).toMatchObject({ Name: 'pvhidden', Driver: 'fake', Mountpoint: '', Status: { mounts: 0 } });
    }
    expect(cli.run(['volume', 'rm', 'pvget', 'pvhidden']).code).toBe(0);
  });

  it('a detached container keeps its Mount while it runs; its stop Unmounts (from the exit command), and events name the driver', async () => {
    expect(cli.run(['volume', 'create', '-d', 'fake', 'pvd']).code).toBe(0);
    const r = cli.run(['run', '-d', '--name', 'pvdc', '-v', 'pvd:/d', image, 'sleep', '600']);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    expect(callsSince()).toEqual(['VolumeDriver.Create pvd', `VolumeDriver.Mount pvd ${id}`]);
    expect(cli.run(['exec', 'pvdc', 'sh', '-c', 'echo live > /d/x']).code).toBe(0);
    expect(readFileSync(join(store, 'pvd', 'x'), 'utf8')).toBe('live\n');
    expect(cli.run(['stop', '-t', '1', 'pvdc']).code).toBe(0);
    const deadline = Date.now() + 20_000;
    while (!callsSince().includes(`VolumeDriver.Unmount pvd ${id}`) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    expect(callsSince()).toEqual(['VolumeDriver.Create pvd', `VolumeDriver.Mount pvd ${id}`, `VolumeDriver.Unmount pvd ${id}`]);
    expect(mountsUnder(dataDir('pvd'))).toEqual([]);
    const events = cli.ok(['events', '--since', '0', '--until', '0s', '-f', 'type=volume', '-f', 'volume=pvd', '--format', '{{.Action}} {{.Actor.Attributes.driver}}']);
    expect(events.split('\n').filter(Boolean)).toEqual(['create fake', 'mount fake', 'unmount fake']);
    expect(cli.run(['rm', 'pvdc']).code).toBe(0);
    expect(cli.run(['volume', 'rm', 'pvd']).code).toBe(0);
  });

  it('a Mount made by a tsrun killed -9 before the container ran is undone by rm -f (its id is on disk)', () => {
    expect(cli.run(['volume', 'create', '-d', 'fake', 'pvcrash']).code).toBe(0);
    const r = spawnSync(process.execPath, cli.args(['run', '-d', '--name', 'pvcrashc', '-v', 'pvcrash:/d', image, 'sleep', '600']), {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, TSRUN_TEST_CRASH_AT: 'after-volume-mount' },
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const id = idOf('pvcrashc');
    expect(readdirSync(join(cli.root, 'volumes', 'pvcrash', 'plugin-mounts'))).toEqual([id]);
    expect(mountsUnder(dataDir('pvcrash'))).toEqual([dataDir('pvcrash')]);
    expect(cli.run(['rm', '-f', 'pvcrashc']).code).toBe(0);
    expect(callsSince()).toEqual(['VolumeDriver.Create pvcrash', `VolumeDriver.Mount pvcrash ${id}`, `VolumeDriver.Unmount pvcrash ${id}`]);
    expect(mountsUnder(dataDir('pvcrash'))).toEqual([]);
    expect(readdirSync(join(cli.root, 'volumes', 'pvcrash', 'plugin-mounts'))).toEqual([]);
    expect(cli.run(['volume', 'rm', 'pvcrash']).code).toBe(0);
  });

  it('volume prune and system prune undo such a Mount too, once each', () => {
    expect(cli.run(['volume', 'create', '-d', 'fake', 'pvcrash2']).code).toBe(0);
    const crash = () =>
      spawnSync(process.execPath, cli.args(['run', '-d', '--name', 'pvcrash2c', '-v', 'pvcrash2:/d', image, 'sleep', '600']), {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, TSRUN_TEST_CRASH_AT: 'after-volume-mount' },
      });
    expect(crash().signal).toBe('SIGKILL');
    const id = idOf('pvcrash2c');
    // The dead container still uses the volume: prune keeps it, but its Mount is undone.
    expect(cli.run(['volume', 'prune', '-f', '-a']).code).toBe(0);
    expect(callsSince()).toEqual(['VolumeDriver.Create pvcrash2', `VolumeDriver.Mount pvcrash2 ${id}`, `VolumeDriver.Unmount pvcrash2 ${id}`]);
    expect(mountsUnder(dataDir('pvcrash2'))).toEqual([]);
    expect(cli.ok(['volume', 'ls', '-q'])).toContain('pvcrash2');
    expect(cli.run(['rm', '-f', 'pvcrash2c']).code).toBe(0);
    expect(callsSince()).toHaveLength(3); // nothing left to undo

    const again = spawnSync(process.execPath, cli.args(['run', '-d', '--name', 'pvcrash3c', '-v', 'pvcrash2:/d', image, 'sleep', '600']), {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, TSRUN_TEST_CRASH_AT: 'after-volume-mount' },
    });
    expect(again.signal).toBe('SIGKILL');
    const id3 = idOf('pvcrash3c');
    expect(cli.run(['system', 'prune', '-f']).code).toBe(0);
    expect(callsSince().slice(3)).toEqual([`VolumeDriver.Mount pvcrash2 ${id3}`, `VolumeDriver.Unmount pvcrash2 ${id3}`]);
    expect(readdirSync(join(cli.root, 'volumes', 'pvcrash2', 'plugin-mounts'))).toEqual([]);
    expect(mountsUnder(dataDir('pvcrash2'))).toEqual([]);
    cli.run(['rm', '-f', 'pvcrash3c']);
    expect(cli.run(['volume', 'rm', 'pvcrash2']).code).toBe(0);
  });
});
