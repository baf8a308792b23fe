// A Docker volume plugin (the legacy v1 protocol) for tests, run as its own process:
//   node volume-plugin-server.mjs SOCKET DATA_DIR CALL_LOG [--implements=KIND]
// It listens on the unix socket SOCKET, keeps each volume as the directory DATA_DIR/NAME
// and appends every call to CALL_LOG as one JSON line {"call":"VolumeDriver.Mount","body":{...}}.
// Options given at Create steer failures: fail-mount=MSG makes each Mount answer Err MSG,
// fail-remove=MSG each Remove; hide-mountpoint=1 leaves the Mountpoint out of Get's and List's
// answers (Status only). --implements=Authz makes it a plugin that is not a volume driver.
// Prints "ready" once listening; SIGTERM ends it.
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [socket, dataDir, callLog, ...flags] = process.argv.slice(2);
if (!socket || !dataDir || !callLog) {
  process.stderr.write('usage: volume-plugin-server.mjs SOCKET DATA_DIR CALL_LOG [--implements=KIND]\n');
  process.exit(2);
}
const implementsKind = flags.find((f) => f.startsWith('--implements='))?.slice('--implements='.length) ?? 'VolumeDriver';

/** name -> { opts, mountIds } */
const volumes = new Map();

const pathOf = (name) => join(dataDir, name);

/** The Mountpoint field Get and List give: none for a volume created with hide-mountpoint. */
const shownMountpoint = (name) => (volumes.get(name)?.opts['hide-mountpoint'] ? {} : { Mountpoint: pathOf(name) });

const handlers = {
  'Plugin.Activate': () => ({ Implements: [implementsKind] }),
  'VolumeDriver.Create': ({ Name, Opts }) => {
    if (volumes.has(Name)) return {};
    mkdirSync(pathOf(Name), { recursive: true });
    volumes.set(Name, { opts: Opts ?? {}, mountIds: new Set() });
    return {};
  },
  'VolumeDriver.Remove': ({ Name }) => {
    const v = volumes.get(Name);
    if (!v) return { Err: `no such volume ${Name}` };
    if (v.opts['fail-remove']) return { Err: v.opts['fail-remove'] };
    if (v.mountIds.size > 0) return { Err: `volume ${Name} is still mounted for ${[...v.mountIds].join(',')}` };
    rmSync(pathOf(Name), { recursive: true, force: true });
    volumes.delete(Name);
    return {};
  },
  'VolumeDriver.Mount': ({ Name, ID }) => {
    const v = volumes.get(Name);
    if (!v) return { Err: `no such volume ${Name}` };
    if (v.opts['fail-mount']) return { Err: v.opts['fail-mount'] };
    v.mountIds.add(ID);
    return { Mountpoint: pathOf(Name), Err: '' };
  },
  'VolumeDriver.Unmount': ({ Name, ID }) => {
    const v = volumes.get(Name);
    if (!v) return { Err: `no such volume ${Name}` };
    v.mountIds.delete(ID);
    return {};
  },
  'VolumeDriver.Path': ({ Name }) => (volumes.has(Name) ? { Mountpoint: pathOf(Name) } : { Err: `no such volume ${Name}` }),
  'VolumeDriver.Get': ({ Name }) => {
    const v = volumes.get(Name);
    if (!v) return { Err: `no such volume ${Name}` };
    return { Volume: { Name, ...shownMountpoint(Name), Status: { mounts: v.mountIds.size } } };
  },
  'VolumeDriver.List': () => ({ Volumes: [...volumes.keys()].map((Name) => ({ Name, ...shownMountpoint(Name) })) }),
  'VolumeDriver.Capabilities': () => ({ Capabilities: { Scope: 'local' } }),
};

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const call = (req.url ?? '/').slice(1);
    let body = {};
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      body = text ? JSON.parse(text) : {};
    } catch {
      res.writeHead(400).end('bad json');
      return;
    }
    appendFileSync(callLog, `${JSON.stringify({ call, body })}\n`);
    const handler = handlers[call];
    if (req.method !== 'POST' || !handler) {
      res.writeHead(404, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' }).end(JSON.stringify({ Err: `unknown call ${call}` }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' }).end(JSON.stringify(handler(body)));
  });
});

rmSync(socket, { force: true });
mkdirSync(dataDir, { recursive: true });
server.listen(socket, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
