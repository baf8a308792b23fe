// Docker's named and anonymous volumes end to end: the built `tsrun` CLI runs
// real containers from the project's busybox image (and a busybox with VOLUME
// paths derived from it here), pulled from the real docker-registry on
// 127.0.0.1. Run as root under the integration lock.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarOf } from '../support/oci-layout.js';
import { pushImage, type RunningRegistry, serveBusybox } from '../support/registry-server.js';
import { REPO, TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let image: string;
/** busybox plus a layer with /data/seed.txt, and VOLUME /data and /cache in its config. */
let volImage: string;
let work: string;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Copies the OCI layout at `src` to `dst` with one more layer and config
 * changes: how a Dockerfile's `ADD` and `VOLUME` would extend busybox.
 */
function deriveLayout(src: string, dst: string, tag: string, extraTar: Buffer, patchConfig: (cfg: Record<string, unknown>) => void): void {
  const blobs = join(dst, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const read = (digest: string) => readFileSync(join(src, 'blobs', 'sha256', digest.slice(7)));
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(join(blobs, d.slice(7)), b);
    return d;
  };
  const index = JSON.parse(readFileSync(join(src, 'index.json'), 'utf8'));
  const manifest = JSON.parse(read(index.manifests[0].digest).toString());
  for (const l of manifest.layers) put(read(l.digest));
  const config = JSON.parse(read(manifest.config.digest).toString());
  const layer = gzipSync(extraTar);
  manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(layer), size: layer.length });
  config.rootfs.diff_ids.push(sha256(extraTar));
  config.config ??= {};
  patchConfig(config.config);
  const configBlob = Buffer.from(JSON.stringify(config));
  manifest.config = { ...manifest.config, digest: put(configBlob), size: configBlob.length };
  const manifestBlob = Buffer.from(JSON.stringify(manifest));
  writeFileSync(join(dst, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dst, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: put(manifestBlob), size: manifestBlob.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}

beforeAll(async () => {
  ({ registry: reg, image } = await serveBusybox());
  work = mkdtempSync('/tmp/tsrun-volumes-it-');
  const extra = tarOf([{ path: 'data/' }, { path: 'data/seed.txt', content: 'seed\n', mode: 0o640 }, { path: 'cache/' }]);
  deriveLayout(join(REPO, 'images/out/busybox'), join(work, 'vol-layout'), 'latest', extra, (cfg) => {
    cfg.Volumes = { '/data': {}, '/cache': {} };
  });
  await pushImage(join(work, 'vol-layout'), reg.host, 'busybox-vol:latest');
  volImage = `${reg.host}/busybox-vol`;
  cli = new TsrunCli();
  for (const img of [image, volImage]) {
    const pulled = cli.run(['pull', '-q', img]);
    expect(pulled.code, pulled.stderr).toBe(0);
  }
}, 180_000);

afterAll(async () => {
  cli?.destroy();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const volumeNames = (c = cli) => c.run(['volume', 'ls', '-q']).stdout.split('\n').filter(Boolean);
const dataDir = (name: string, c = cli) => join(c.root, 'volumes', name, '_data');
interface MountJson {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
}
const mountsOf = (container: string): MountJson[] => {
  const r = cli.run(['inspect', container]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout)[0].Mounts;
};

describe('named volumes', () => {
  it('keep data across containers, created on first use, visible on the host and in volume ls/inspect', () => {
    const w = cli.run(['run', '--rm', '-v', 'persist1:/data', image, 'sh', '-c', 'echo persisted > /data/f']);
    expect(w.code, w.stderr).toBe(0);
    expect(readFileSync(join(dataDir('persist1'), 'f'), 'utf8')).toBe('persisted\n');
    const r = cli.run(['run', '--rm', '-v', 'persist1:/other', image, 'cat', '/other/f']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('persisted\n');
    // --rm never removes a named volume.
    expect(volumeNames()).toContain('persist1');
    expect(cli.run(['volume', 'ls']).stdout).toMatch(/^DRIVER\s+VOLUME NAME\n(.*\n)*local\s+persist1\n/m);
    const inspected = JSON.parse(cli.run(['volume', 'inspect', 'persist1']).stdout);
    expect(inspected).toEqual([
      {
        CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        Driver: 'local',
        Labels: {},
        Mountpoint: dataDir('persist1'),
        Name: 'persist1',
        Options: {},
        Scope: 'local',
      },
    ]);
    // Plain inspect finds volumes too, after containers and images.
    expect(JSON.parse(cli.run(['inspect', 'persist1']).stdout)[0]).toMatchObject({ Name: 'persist1', Mountpoint: dataDir('persist1') });
  });

  it(':ro and --mount readonly mount it read-only', () => {
    expect(cli.run(['volume', 'create', 'rovol']).stdout).toBe('rovol\n');
    const ro = cli.run(['run', '--rm', '-v', 'rovol:/data:ro', image, 'touch', '/data/x']);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/);
    const mount = cli.run(['run', '--rm', '--mount', 'type=volume,source=rovol,target=/m,readonly', image, 'touch', '/m/x']);
    expect(mount.code).not.toBe(0);
    expect(mount.stderr).toMatch(/Read-only file system/);
    const rw = cli.run(['run', '--rm', '--mount', 'type=volume,source=rovol,target=/m', image, 'touch', '/m/x']);
    expect(rw.code, rw.stderr).toBe(0);
    expect(existsSync(join(dataDir('rovol'), 'x'))).toBe(true);
  });

  it('inspect shows the mount as Docker does', () => {
    const id = cli.run(['create', '--name', 'showmounts', '-v', 'shown1:/data:ro', '--mount', 'type=volume,src=shown2,dst=/m', image, 'true']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(mountsOf('showmounts')).toEqual([
      { Type: 'volume', Name: 'shown1', Source: dataDir('shown1'), Destination: '/data', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' },
      { Type: 'volume', Name: 'shown2', Source: dataDir('shown2'), Destination: '/m', Driver: 'local', Mode: '', RW: true, Propagation: '' },
    ]);
    expect(cli.run(['rm', 'showmounts']).code).toBe(0);
  });

  it('copy-up: an empty volume takes the image content at its path, with modes; a filled one is left alone; nocopy skips it', () => {
    const r = cli.run(['run', '--rm', '-v', 'etcvol:/etc', image, 'sh', '-c', 'grep -c "^root:" /etc/passwd; stat -c %a /etc/group']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1\n644\n');
    const hostPasswd = readFileSync(join(dataDir('etcvol'), 'passwd'), 'utf8');
    expect(hostPasswd).toMatch(/^root:x:0:0:/m);
    expect(hostPasswd).toMatch(/^tsuser:x:1000:/m);
    // The volume has content now: a later container sees the volume's, not the image's.
    expect(cli.run(['run', '--rm', '-v', 'etcvol:/etc', image, 'sh', '-c', 'echo "mine:x:7:7::/:/bin/sh" > /etc/passwd']).code).toBe(0);
    expect(cli.run(['run', '--rm', '-v', 'etcvol:/etc', image, 'cat', '/etc/passwd']).stdout).toBe('mine:x:7:7::/:/bin/sh\n');
    // nocopy: the volume stays empty of the image's files.
    expect(cli.run(['run', '--rm', '-v', 'etcnocopy:/etc:nocopy', image, 'true']).code).toBe(0);
    expect(existsSync(join(dataDir('etcnocopy'), 'passwd'))).toBe(false);
    expect(cli.run(['run', '--rm', '--mount', 'type=volume,src=etcnocopy2,dst=/etc,volume-nocopy', image, 'true']).code).toBe(0);
    expect(existsSync(join(dataDir('etcnocopy2'), 'passwd'))).toBe(false);
  });
});

describe('anonymous volumes', () => {
  const anonymousOf = (container: string) => {
    const m = mountsOf(container).filter((x) => x.Type === 'volume');
    expect(m).toHaveLength(1);
    expect(m[0]!.Name).toMatch(/^[0-9a-f]{64}$/);
    return m[0]!;
  };

  it('-v /path makes one tied to the container: plain rm keeps it, rm -v removes it', () => {
    expect(cli.run(['create', '--name', 'anonkeep', '-v', '/scratch', image, 'true']).code).toBe(0);
    const kept = anonymousOf('anonkeep');
    expect(kept).toMatchObject({ Destination: '/scratch', Driver: 'local', RW: true, Source: dataDir(kept.Name!) });
    expect(existsSync(dataDir(kept.Name!))).toBe(true);
    expect(cli.run(['rm', 'anonkeep']).code).toBe(0);
    expect(volumeNames()).toContain(kept.Name);

    expect(cli.run(['create', '--name', 'anongone', '-v', '/scratch', image, 'true']).code).toBe(0);
    const gone = anonymousOf('anongone');
    expect(volumeNames()).toContain(gone.Name);
    expect(cli.run(['rm', '-v', 'anongone']).code).toBe(0);
    expect(volumeNames()).not.toContain(gone.Name);
    expect(existsSync(join(cli.root, 'volumes', gone.Name!))).toBe(false);
    // Named volumes survive rm -v.
    expect(cli.run(['create', '--name', 'namedkeep', '-v', 'survivor:/s', image, 'true']).code).toBe(0);
    expect(cli.run(['rm', '-v', 'namedkeep']).code).toBe(0);
    expect(volumeNames()).toContain('survivor');
  });

  it('--rm removes the anonymous volumes (attached and detached) but not named ones', async () => {
    const before = new Set(volumeNames());
    const r = cli.run(['run', '--rm', '-v', '/scratch', '-v', 'rmkeeps:/k', image, 'sh', '-c', 'echo x > /scratch/f; echo y > /k/f']);
    expect(r.code, r.stderr).toBe(0);
    expect(volumeNames().filter((n) => !before.has(n))).toEqual(['rmkeeps']);

    const id = cli.run(['run', '-d', '--rm', '-v', '/scratch', image, 'sleep', '1']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const anon = volumeNames().filter((n) => !before.has(n) && n !== 'rmkeeps');
    expect(anon).toHaveLength(1);
    for (let i = 0; i < 100 && cli.run(['ps', '-aq', '--no-trunc']).stdout.includes(id); i++) await sleep(100);
    expect(cli.run(['ps', '-aq', '--no-trunc']).stdout).not.toContain(id);
    expect(volumeNames()).not.toContain(anon[0]);
  });
});

describe('--volumes-from', () => {
  it('shares every volume and bind mount at the same paths, :ro makes them read-only, rm -v keeps what the source still uses', () => {
    const host = mkdtempSync(join(work, 'vf-bind-'));
    const w = cli.run(['run', '--name', 'vfsrc', '-v', 'vfnamed:/named', '-v', '/anon', '--mount', `type=bind,src=${host},dst=/bound`, image,
      'sh', '-c', 'echo n > /named/f; echo a > /anon/f; echo b > /bound/f']);
    expect(w.code, w.stderr).toBe(0);
    const anon = mountsOf('vfsrc').find((m) => m.Destination === '/anon')!;
    expect(anon.Name).toMatch(/^[0-9a-f]{64}$/);

    // Sees all three; writes go through; a later -v at the same path wins.
    const r = cli.run(['run', '--name', 'vfuser', '--volumes-from', 'vfsrc', '-v', 'vfother:/named', image,
      'sh', '-c', 'cat /anon/f /bound/f; ls /named; echo more > /anon/g']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('a\nb\n');
    expect(readFileSync(join(dataDir(anon.Name!), 'g'), 'utf8')).toBe('more\n');
    const user = JSON.parse(cli.run(['inspect', 'vfuser']).stdout)[0];
    expect(user.HostConfig.VolumesFrom).toEqual(['vfsrc']);
    const byDest = Object.fromEntries((user.Mounts as MountJson[]).map((m) => [m.Destination, m]));
    expect(byDest['/anon']).toMatchObject({ Type: 'volume', Name: anon.Name, RW: true });
    expect(byDest['/bound']).toMatchObject({ Type: 'bind', Source: host, RW: true });
    expect(byDest['/named']).toMatchObject({ Type: 'volume', Name: 'vfother' });

    // :ro, by ID prefix: reads work, every write fails.
    const id = cli.run(['inspect', '--format', '{{.Id}}', 'vfsrc']).stdout.trim();
    const ro = cli.run(['run', '--rm', '--volumes-from', `${id.slice(0, 12)}:ro`, image,
      'sh', '-c', 'cat /named/f; for d in named anon bound; do touch /$d/x 2>/dev/null && echo wrote $d; done; true']);
    expect(ro.code, ro.stderr).toBe(0);
    expect(ro.stdout).toBe('n\n');

    // rm -v of the second container leaves the anonymous volume the first still uses.
    expect(cli.run(['rm', '-v', 'vfuser']).code).toBe(0);
    expect(volumeNames()).toContain(anon.Name);
    expect(readFileSync(join(dataDir(anon.Name!), 'f'), 'utf8')).toBe('a\n');
    expect(cli.run(['rm', '-v', 'vfsrc']).code).toBe(0);
    expect(volumeNames()).not.toContain(anon.Name);
    expect(volumeNames()).toContain('vfnamed');
  });

  it('names a source container that does not exist (125) and creates nothing', () => {
    const before = volumeNames();
    const r = cli.run(['create', '--name', 'vfnone', '--volumes-from', 'no-such-box', '-v', '/x', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('no-such-box');
    expect(cli.run(['inspect', 'vfnone']).code).not.toBe(0);
    expect(volumeNames()).toEqual(before);
    expect(cli.run(['create', '--volumes-from', 'x:rshared', image, 'true']).code).toBe(125);
  });
});

describe('volume rm', () => {
  it('refuses a volume a container uses, stopped or running, with Docker\'s message (tsrun\'s form, exit 125)', () => {
    const stopped = cli.run(['create', '--name', 'holder', '-v', 'inuse1:/data', image, 'true']).stdout.trim();
    const refused = cli.run(['volume', 'rm', 'inuse1']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe(`tsrun: remove inuse1: volume is in use - [${stopped}]\n`);
    expect(volumeNames()).toContain('inuse1');

    const running = cli.run(['run', '-d', '--name', 'runner', '-v', 'inuse1:/d', image, 'sleep', '600']).stdout.trim();
    const both = cli.run(['volume', 'rm', 'inuse1']);
    expect(both.code).toBe(125);
    expect(both.stderr).toContain(stopped);
    expect(both.stderr).toContain(running);
    expect(cli.run(['rm', '-f', 'runner']).code).toBe(0);
    expect(cli.run(['volume', 'rm', 'inuse1']).code).toBe(125);
    expect(cli.run(['rm', 'holder']).code).toBe(0);

    const ok = cli.run(['volume', 'rm', 'inuse1']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('inuse1\n');
    expect(volumeNames()).not.toContain('inuse1');
    expect(existsSync(join(cli.root, 'volumes', 'inuse1'))).toBe(false);
  });

  it('a missing volume is an error (exit 125) unless -f; with several names each failure is reported and the others removed', () => {
    const missing = cli.run(['volume', 'rm', 'never-was']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toBe('tsrun: no such volume: never-was\n');
    expect(cli.run(['volume', 'rm', '-f', 'never-was']).code).toBe(0);

    expect(cli.run(['volume', 'create', 'rm-me']).code).toBe(0);
    const several = cli.run(['volume', 'rm', 'never-was', 'rm-me', 'nor-this']);
    expect(several.code).toBe(125);
    expect(several.stdout).toBe('rm-me\n');
    expect(several.stderr).toBe('tsrun: no such volume: never-was\ntsrun: no such volume: nor-this\n');
    expect(volumeNames()).not.toContain('rm-me');
  });

  it('volume inspect of a missing volume: [] on stdout, tsrun\'s error, exit 125 (no daemon named)', () => {
    const missing = cli.run(['volume', 'inspect', 'never-was']);
    expect(missing.code).toBe(125);
    expect(missing.stdout).toBe('[]\n');
    expect(missing.stderr).toBe('tsrun: no such volume: never-was\n');
  });
});

describe('bad volume names', () => {
  it('are usage errors (125) naming the value, and create nothing', () => {
    const volumesBefore = readdirSync(join(cli.root, 'volumes')).sort();
    const containersBefore = cli.run(['ps', '-aq']).stdout;
    for (const [flag, value, bad] of [
      ['-v', 'bad/name:/x', 'bad/name'],
      ['-v', 'x:/x', '"x"'],
      ['-v', '_under:/x', '_under'],
      ['-v', 'rel', 'rel'],
      ['--mount', 'type=volume,src=@at,dst=/x', '@at'],
    ] as const) {
      const r = cli.run(['run', '--rm', flag, value, image, 'true']);
      expect(r.code, `${flag} ${value}`).toBe(125);
      expect(r.stderr).toContain(bad);
    }
    const create = cli.run(['volume', 'create', 'bad/name']);
    expect(create.code).toBe(125);
    expect(create.stderr).toMatch(/^tsrun: create bad\/name: invalid volume name "bad\/name": "bad\/name" includes invalid characters/);
    expect(readdirSync(join(cli.root, 'volumes')).sort()).toEqual(volumesBefore);
    expect(cli.run(['ps', '-aq']).stdout).toBe(containersBefore);
  });
});

describe("the image's VOLUME paths", () => {
  it('get anonymous volumes filled from the image, unless a mount already covers the path', () => {
    const r = cli.run(['run', '--rm', volImage, 'sh', '-c', 'cat /data/seed.txt; stat -c %a /data/seed.txt; echo more > /data/more']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('seed\n640\n');

    expect(cli.run(['create', '--name', 'imgvol', volImage, 'true']).code).toBe(0);
    const mounts = mountsOf('imgvol');
    expect(mounts.map((m) => [m.Type, m.Destination]).sort()).toEqual([
      ['volume', '/cache'],
      ['volume', '/data'],
    ]);
    for (const m of mounts) expect(m.Name).toMatch(/^[0-9a-f]{64}$/);
    const data = mounts.find((m) => m.Destination === '/data')!;
    expect(readFileSync(join(data.Source, 'seed.txt'), 'utf8')).toBe('seed\n');
    expect(cli.run(['rm', '-v', 'imgvol']).code).toBe(0);
    for (const m of mounts) expect(volumeNames()).not.toContain(m.Name);

    // -v NAME:/data and --tmpfs /cache cover both paths: no anonymous volume at all.
    expect(cli.run(['create', '--name', 'imgcovered', '-v', 'imgdata:/data', '--tmpfs', '/cache', volImage, 'true']).code).toBe(0);
    expect(mountsOf('imgcovered')).toEqual([
      { Type: 'volume', Name: 'imgdata', Source: dataDir('imgdata'), Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' },
    ]);
    expect(readFileSync(join(dataDir('imgdata'), 'seed.txt'), 'utf8')).toBe('seed\n');
    expect(cli.run(['rm', '-v', 'imgcovered']).code).toBe(0);
    expect(volumeNames()).toContain('imgdata');
  });
});

/** Mount points at or under `dir` in our mount namespace (the host's, where the engine mounts volumes). */
const mountsUnder = (dir: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)));

describe("the local driver's options (type, device, o)", () => {
  it('tmpfs: shared by running containers, size and uid applied, gone once the last user stops', () => {
    const created = cli.run(['volume', 'create', '--driver', 'local', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=1m,uid=1000', 'tmpvol']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('tmpvol\n');
    const info = JSON.parse(cli.run(['volume', 'inspect', 'tmpvol']).stdout)[0];
    expect(info).toMatchObject({ Driver: 'local', Name: 'tmpvol', Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' }, Mountpoint: dataDir('tmpvol') });
    expect(mountsUnder(dataDir('tmpvol'))).toEqual([]); // mounted only while used

    for (const name of ['tmp1', 'tmp2']) {
      const r = cli.run(['run', '-d', '--name', name, '-v', 'tmpvol:/d', image, 'sleep', '600']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(mountsUnder(dataDir('tmpvol'))).toEqual([dataDir('tmpvol')]);
    expect(cli.run(['exec', 'tmp1', 'sh', '-c', 'echo shared > /d/f']).code).toBe(0);
    expect(cli.run(['exec', 'tmp2', 'cat', '/d/f']).stdout).toBe('shared\n');
    expect(cli.run(['exec', 'tmp2', 'stat', '-c', '%u', '/d']).stdout).toBe('1000\n');
    expect(readFileSync(join(dataDir('tmpvol'), 'f'), 'utf8')).toBe('shared\n');
    const big = cli.run(['exec', 'tmp1', 'dd', 'if=/dev/zero', 'of=/d/big', 'bs=1024', 'count=2048']);
    expect(big.code).not.toBe(0);
    expect(big.stderr).toMatch(/No space left/);

    expect(cli.run(['stop', '-t', '1', 'tmp1']).code).toBe(0);
    expect(mountsUnder(dataDir('tmpvol'))).toEqual([dataDir('tmpvol')]); // tmp2 still uses it
    expect(cli.run(['exec', 'tmp2', 'cat', '/d/f']).stdout).toBe('shared\n');
    expect(cli.run(['stop', '-t', '1', 'tmp2']).code).toBe(0);
    expect(mountsUnder(dataDir('tmpvol'))).toEqual([]);

    expect(cli.run(['start', 'tmp1']).code).toBe(0);
    expect(mountsUnder(dataDir('tmpvol'))).toEqual([dataDir('tmpvol')]);
    expect(cli.run(['exec', 'tmp1', 'ls', '-A', '/d']).stdout).toBe(''); // a fresh tmpfs, as in Docker
    expect(cli.run(['rm', '-f', 'tmp1', 'tmp2']).code).toBe(0);
    expect(mountsUnder(dataDir('tmpvol'))).toEqual([]);
    expect(cli.run(['volume', 'rm', 'tmpvol']).code).toBe(0);
  });

  it("type=none,o=bind: the host directory's files, written through, and left alone by volume rm", () => {
    const host = join(work, 'srv-data');
    mkdirSync(host);
    writeFileSync(join(host, 'hello.txt'), 'from the host\n');
    const created = cli.run(['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${host}`, 'bindvol']);
    expect(created.code, created.stderr).toBe(0);
    const r = cli.run(['run', '--rm', '-v', 'bindvol:/srv', image, 'sh', '-c', 'cat /srv/hello.txt && echo back > /srv/back']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('from the host\n');
    expect(readFileSync(join(host, 'back'), 'utf8')).toBe('back\n');
    expect(mountsUnder(dataDir('bindvol'))).toEqual([]);
    // Mounted again for volume rm's sake: rm must unmount, never delete through the bind.
    expect(cli.run(['run', '-d', '--name', 'bindholder', '-v', 'bindvol:/srv', image, 'sleep', '600']).code).toBe(0);
    expect(cli.run(['volume', 'rm', 'bindvol']).code).toBe(125); // in use
    expect(cli.run(['rm', '-f', 'bindholder']).code).toBe(0);
    expect(cli.run(['volume', 'rm', 'bindvol']).code).toBe(0);
    expect(readdirSync(host).sort()).toEqual(['back', 'hello.txt']);
  });

  it('copy-up: the image content lands in the mounted filesystem on the first start, with modes; once; not with nocopy', () => {
    expect(cli.run(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=10m', 'cutmp']).code).toBe(0);
    const first = cli.run(['run', '-d', '--name', 'cutmp1', '-v', 'cutmp:/data', volImage, 'sleep', '600']);
    expect(first.code, first.stderr).toBe(0);
    expect(cli.run(['exec', 'cutmp1', 'stat', '-c', '%a %n', '/data/seed.txt']).stdout).toBe('640 /data/seed.txt\n');
    expect(cli.run(['exec', 'cutmp1', 'cat', '/data/seed.txt']).stdout).toBe('seed\n');
    expect(cli.run(['exec', 'cutmp1', 'ls', '-A', '/data']).stdout).toBe('seed.txt\n'); // no staging dir left
    // A second user of the mounted volume finds it filled: nothing is copied again.
    expect(cli.run(['run', '--rm', '-v', 'cutmp:/other', volImage, 'ls', '-A', '/other']).stdout).toBe('seed.txt\n');
    expect(cli.run(['rm', '-f', 'cutmp1']).code).toBe(0);
    // Nothing landed underneath the tmpfs.
    expect(mountsUnder(dataDir('cutmp'))).toEqual([]);
    expect(readdirSync(dataDir('cutmp'))).toEqual([]);

    // Once per container: a restart mounts a fresh tmpfs and copies nothing (Docker copies at creation only).
    expect(cli.run(['create', '--name', 'cutmp2', '-v', 'cutmp:/data', volImage, 'ls', '-A', '/data']).code).toBe(0);
    expect(cli.run(['start', '-a', 'cutmp2']).stdout).toBe('seed.txt\n');
    expect(cli.run(['start', '-a', 'cutmp2']).stdout).toBe('');
    expect(cli.run(['rm', 'cutmp2']).code).toBe(0);

    const nocopy = cli.run(['run', '--rm', '-v', 'cutmp:/data:nocopy', volImage, 'ls', '-A', '/data']);
    expect(nocopy.code, nocopy.stderr).toBe(0);
    expect(nocopy.stdout).toBe('');
    const mountNocopy = cli.run(['run', '--rm', '--mount', 'src=cutmp,dst=/data,volume-nocopy', volImage, 'ls', '-A', '/data']);
    expect(mountNocopy.stdout).toBe('');
    expect(cli.run(['volume', 'rm', 'cutmp']).code).toBe(0);

    // A bind-type volume keeps what was copied in: the host directory has it, _data underneath has nothing.
    const host = join(work, 'cu-bind');
    mkdirSync(host);
    expect(cli.run(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'cubind']).code).toBe(0);
    expect(cli.run(['run', '--rm', '-v', 'cubind:/data', volImage, 'true']).code).toBe(0);
    expect(readdirSync(host)).toEqual(['seed.txt']);
    expect(readFileSync(join(host, 'seed.txt'), 'utf8')).toBe('seed\n');
    expect(statSync(join(host, 'seed.txt')).mode & 0o777).toBe(0o640);
    expect(readdirSync(dataDir('cubind'))).toEqual([]);
    // Filled now: a later container's image content is not copied over the host's files.
    writeFileSync(join(host, 'seed.txt'), 'host edit\n');
    expect(cli.run(['run', '--rm', '-v', 'cubind:/data', volImage, 'cat', '/data/seed.txt']).stdout).toBe('host edit\n');
    expect(cli.run(['volume', 'rm', 'cubind']).code).toBe(0);
    expect(readdirSync(host)).toEqual(['seed.txt']);
  });

  it('--mount volume-driver=local,volume-opt=... creates the volume with those options', () => {
    const r = cli.run(['run', '--rm', '--mount', 'type=volume,src=mntvol,dst=/m,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=2m,mode=1777"', image, 'sh', '-c', 'grep " /m " /proc/mounts; stat -c %a /m']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^tmpfs \/m tmpfs .*size=2048k/);
    expect(r.stdout).toMatch(/\n1777\n$/);
    expect(JSON.parse(cli.run(['volume', 'inspect', 'mntvol']).stdout)[0].Options).toEqual({ type: 'tmpfs', device: 'tmpfs', o: 'size=2m,mode=1777' });
    expect(mountsUnder(dataDir('mntvol'))).toEqual([]);
    expect(cli.run(['volume', 'rm', 'mntvol']).code).toBe(0);
  });

  it('bad options and other drivers are usage errors (125) naming what is wrong, and create nothing', () => {
    const volumesBefore = volumeNames();
    const containersBefore = cli.run(['ps', '-aq']).stdout;
    for (const [args, text] of [
      [['volume', 'create', '--opt', 'type=tmpfs', 'badopt1'], 'missing required option: "device"'],
      [['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'foo=1', 'badopt2'], 'invalid option: "foo"'],
      [['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', 'device=/nonexistent/srv', 'badopt3'], 'device "/nonexistent/srv" does not exist'],
      [['run', '--rm', '--mount', 'src=badopt5,dst=/x,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=bogus=1', image, 'true'], 'invalid option: "bogus"'],
      // Another driver is a volume plugin (volume-plugins.test.ts): one that is not there is an error.
      [['run', '--rm', '--mount', 'src=badopt6,dst=/x,volume-driver=rexray', image, 'true'], 'error looking up volume plugin rexray: plugin "rexray" not found'],
    ] as const) {
      const r = cli.run([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(125);
      expect(r.stderr).toContain(text);
    }
    // A driver with no plugin behind it: the failing step and volume named, exit 125 as every tsrun error.
    const missing = cli.run(['volume', 'create', '--driver', 'rexray', 'badopt4']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/^tsrun: create badopt4: error looking up volume plugin rexray: plugin "rexray" not found/);
    expect(volumeNames()).toEqual(volumesBefore);
    expect(cli.run(['ps', '-aq']).stdout).toBe(containersBefore);
  });

  it('after kill -9 of the monitor, rm -f leaves no mount under --root', async () => {
    expect(cli.run(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', 'k9vol']).code).toBe(0);
    const id = cli.run(['run', '-d', '-v', 'k9vol:/d', image, 'sleep', '600']).stdout.trim();
    expect(mountsUnder(dataDir('k9vol'))).toEqual([dataDir('k9vol')]);
    const state = readFileSync(join(cli.runroot, 'runtime', id, 'state.json'), 'utf8');
    const monitorPid = Number(state.match(/"monitorPid":\s*(\d+)/)?.[1]);
    expect(monitorPid).toBeGreaterThan(0);
    process.kill(monitorPid, 'SIGKILL');
    await sleep(200);
    expect(cli.run(['rm', '-f', id]).code).toBe(0);
    expect(mountsUnder(join(cli.root, 'volumes'))).toEqual([]);
    expect(mountsUnder(join(cli.root, 'containers', id))).toEqual([]);
    expect(cli.run(['volume', 'rm', 'k9vol']).code).toBe(0);
  });

  describe('after kill -9 of tsrun between the volume mount and the start (TSRUN_TEST_CRASH_AT=after-volume-mount)', () => {
    /** Runs tsrun with the crash point set; it must die of its own SIGKILL there, leaving the volume mounted. */
    const crashAfterMount = (args: string[], volume: string) => {
      const r = spawnSync(process.execPath, cli.args(args), { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRUN_TEST_CRASH_AT: 'after-volume-mount' } });
      expect(r.signal, r.stderr).toBe('SIGKILL');
      expect(mountsUnder(dataDir(volume))).toEqual([dataDir(volume)]);
    };
    const idOf = (name: string) => cli.run(['inspect', name]).code === 0 && JSON.parse(cli.run(['inspect', name]).stdout)[0].Id;

    it('ps shows the container not running; volume rm refuses, naming it, but unmounts; rm -f unmounts; then volume rm removes', () => {
      expect(cli.run(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'crashvol']).code).toBe(0);
      crashAfterMount(['run', '-d', '--name', 'crash1', '-v', 'crashvol:/d', image, 'sleep', '600'], 'crashvol');
      const id = idOf('crash1');
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      expect(cli.run(['ps', '-q', '--no-trunc']).stdout).not.toContain(id);
      expect(cli.run(['ps', '-aq', '--no-trunc']).stdout).toContain(id);
      expect(JSON.parse(cli.run(['inspect', 'crash1']).stdout)[0].State.Running).toBe(false);

      const refused = cli.run(['volume', 'rm', 'crashvol']);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toBe(`tsrun: remove crashvol: volume is in use - [${id}]\n`);
      expect(mountsUnder(dataDir('crashvol'))).toEqual([]); // no live user: the leftover mount is gone
      expect(volumeNames()).toContain('crashvol');

      // The same crash on `start`; rm -f of the dead container takes the mount.
      crashAfterMount(['start', 'crash1'], 'crashvol');
      expect(cli.run(['rm', '-f', 'crash1']).code).toBe(0);
      expect(mountsUnder(dataDir('crashvol'))).toEqual([]);
      const removed = cli.run(['volume', 'rm', 'crashvol']);
      expect(removed.code, removed.stderr).toBe(0);
      expect(existsSync(join(cli.root, 'volumes', 'crashvol'))).toBe(false);
    });

    it('container prune, volume prune and system prune sweep the leftover mounts; a live user keeps its mount', () => {
      expect(cli.run(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'crashvol2']).code).toBe(0);
      crashAfterMount(['run', '-d', '--name', 'crash2', '-v', 'crashvol2:/d', image, 'sleep', '600'], 'crashvol2');
      expect(cli.run(['container', 'prune', '-f']).code).toBe(0);
      expect(idOf('crash2')).toBe(false);
      expect(mountsUnder(dataDir('crashvol2'))).toEqual([]);

      crashAfterMount(['run', '-d', '--name', 'crash3', '-v', 'crashvol2:/d', image, 'sleep', '600'], 'crashvol2');
      expect(cli.run(['volume', 'prune', '-f', '-a']).code).toBe(0);
      expect(volumeNames()).toContain('crashvol2'); // crash3 still uses it
      expect(mountsUnder(dataDir('crashvol2'))).toEqual([]);

      crashAfterMount(['start', 'crash3'], 'crashvol2');
      expect(cli.run(['system', 'prune', '-f']).code).toBe(0);
      expect(idOf('crash3')).toBe(false);
      expect(mountsUnder(dataDir('crashvol2'))).toEqual([]);

      // A mount whose container record went before its unmount (kill -9 inside rm): system prune and volume rm take it.
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dataDir('crashvol2')]);
      expect(cli.run(['system', 'prune', '-f']).code).toBe(0);
      expect(mountsUnder(dataDir('crashvol2'))).toEqual([]);
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dataDir('crashvol2')]);
      writeFileSync(join(dataDir('crashvol2'), 'f'), 'x');
      expect(cli.run(['volume', 'rm', 'crashvol2']).code).toBe(0);
      expect(mountsUnder(join(cli.root, 'volumes'))).toEqual([]);

      // A live user: refused, and its mount stays.
      expect(cli.run(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'livevol']).code).toBe(0);
      const live = cli.run(['run', '-d', '--name', 'liveuser', '-v', 'livevol:/d', image, 'sleep', '600']).stdout.trim();
      const refused = cli.run(['volume', 'rm', 'livevol']);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toBe(`tsrun: remove livevol: volume is in use - [${live}]\n`);
      for (const verb of [['volume', 'prune', '-f', '-a'], ['container', 'prune', '-f'], ['system', 'prune', '-f']]) {
        expect(cli.run(verb).code).toBe(0);
        expect(mountsUnder(dataDir('livevol'))).toEqual([dataDir('livevol')]);
      }
      expect(cli.run(['exec', 'liveuser', 'true']).code).toBe(0);
      expect(cli.run(['rm', '-f', 'liveuser']).code).toBe(0);
      expect(mountsUnder(dataDir('livevol'))).toEqual([]);
      expect(cli.run(['volume', 'rm', 'livevol']).code).toBe(0);
    });
  });
});

describe('volume events', () => {
  interface EventJson {
    Type: string;
    Action: string;
    Actor: { ID: string; Attributes: Record<string, string> };
  }
  const eventsSince = (since: string, filters: string[]): EventJson[] => {
    const until = (Date.now() / 1000 + 0.001).toFixed(3);
    const r = cli.run(['events', '--since', since, '--until', until, ...filters.flatMap((f) => ['--filter', f]), '--format', 'json'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as EventJson);
  };

  it('create, mount, unmount and destroy as Docker records them, by events --filter type=volume --filter volume=NAME', () => {
    const since = (Date.now() / 1000).toFixed(3);
    expect(cli.run(['volume', 'create', 'evvol']).code).toBe(0);
    const id = cli.run(['run', '-d', '--name', 'evuser', '-v', 'evvol:/data:ro', image, 'sleep', '600']).stdout.trim();
    expect(cli.run(['stop', '-t', '1', 'evuser']).code).toBe(0);
    expect(cli.run(['rm', 'evuser']).code).toBe(0);
    expect(cli.run(['volume', 'rm', 'evvol']).code).toBe(0);

    const events = eventsSince(since, ['type=volume', 'volume=evvol']);
    expect(events.map((e) => e.Action)).toEqual(['create', 'mount', 'unmount', 'destroy']);
    expect(events.every((e) => e.Type === 'volume' && e.Actor.ID === 'evvol')).toBe(true);
    expect(events[0]!.Actor.Attributes).toEqual({ driver: 'local' });
    expect(events[1]!.Actor.Attributes).toEqual({ container: id, destination: '/data', driver: 'local', propagation: '', 'read/write': 'false' });
    expect(events[2]!.Actor.Attributes).toEqual({ container: id, driver: 'local' });
    expect(events[3]!.Actor.Attributes).toEqual({ driver: 'local' });
    // Docker's order around the container's own events: mount before start, unmount after die.
    const both = eventsSince(since, [])
      .filter((e) => e.Actor.ID === 'evvol' || e.Actor.ID === id)
      .map((e) => `${e.Type} ${e.Action}`);
    expect(both.indexOf('volume mount')).toBeLessThan(both.indexOf('container start'));
    expect(both.indexOf('volume unmount')).toBeGreaterThan(both.indexOf('container die'));
    expect(eventsSince(since, ['type=volume', 'volume=other'])).toEqual([]);
  });

  it('run --rm and rm -v destroy the anonymous volumes; a restart mounts again; prune destroys', () => {
    const since = (Date.now() / 1000).toFixed(3);
    const r = cli.run(['run', '--rm', '-v', '/anon', image, 'true']);
    expect(r.code, r.stderr).toBe(0);
    const anon = eventsSince(since, ['type=volume']);
    const anonName = anon[0]!.Actor.ID;
    expect(anonName).toMatch(/^[0-9a-f]{64}$/);
    expect(anon.map((e) => `${e.Action} ${e.Actor.ID}`)).toEqual(['create', 'mount', 'unmount', 'destroy'].map((a) => `${a} ${anonName}`));
    expect(anon[1]!.Actor.Attributes['read/write']).toBe('true');

    const since2 = (Date.now() / 1000).toFixed(3);
    expect(cli.run(['create', '--name', 'evrm', '-v', '/anon2', image, 'true']).code).toBe(0);
    expect(cli.run(['start', '-a', 'evrm']).code).toBe(0);
    expect(cli.run(['start', '-a', 'evrm']).code).toBe(0);
    expect(cli.run(['rm', '-v', 'evrm']).code).toBe(0);
    expect(cli.run(['volume', 'create', 'evprune']).code).toBe(0);
    expect(cli.run(['volume', 'prune', '-f', '-a']).code).toBe(0);
    const rest = eventsSince(since2, ['type=volume']).map((e) => `${e.Action} ${e.Actor.ID.length === 64 ? 'anon' : e.Actor.ID}`);
    expect(rest).toEqual(['create anon', 'mount anon', 'unmount anon', 'mount anon', 'unmount anon', 'destroy anon', 'create evprune', 'destroy evprune']);
  });
});

describe('volume ls, prune and system df', () => {
  it('filters dangling volumes, prunes anonymous ones (all unused with -a), and df counts them', () => {
    // Its own root, so other tests' volumes do not count.
    const own = new TsrunCli();
    try {
      expect(own.run(['pull', '-q', image]).code).toBe(0);
      expect(own.run(['volume', 'create', '--label', 'team=a', 'freenamed']).stdout).toBe('freenamed\n');
      const anon = own.run(['volume', 'create']).stdout.trim();
      expect(anon).toMatch(/^[0-9a-f]{64}$/);
      expect(own.run(['create', '--name', 'user', '-v', 'usednamed:/u', '-v', '/anonused', image, 'true']).code).toBe(0);
      const usedAnon = JSON.parse(own.run(['inspect', 'user']).stdout)[0].Mounts.find((m: MountJson) => m.Destination === '/anonused').Name;
      writeFileSync(join(dataDir('freenamed', own), 'f'), 'x'.repeat(2000));

      expect(volumeNames(own).sort()).toEqual([anon, 'freenamed', usedAnon, 'usednamed'].sort());
      expect(own.run(['volume', 'ls', '-q', '-f', 'dangling=true']).stdout.split('\n').filter(Boolean).sort()).toEqual([anon, 'freenamed'].sort());
      expect(own.run(['volume', 'ls', '-q', '-f', 'label=team=a']).stdout).toBe('freenamed\n');
      const json = own.run(['volume', 'ls', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(json.find((v) => v.Name === 'freenamed')).toMatchObject({ Driver: 'local', Labels: 'team=a', Mountpoint: dataDir('freenamed', own), Scope: 'local' });

      const df = own.run(['system', 'df', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(df.find((r) => r.Type === 'Local Volumes')).toMatchObject({ TotalCount: 4, Active: 2, Size: '2kB' });

      const prune = own.run(['volume', 'prune', '-f']);
      expect(prune.code, prune.stderr).toBe(0);
      expect(prune.stdout).toBe(`Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 0B\n`);
      expect(volumeNames(own).sort()).toEqual(['freenamed', usedAnon, 'usednamed'].sort());
      const all = own.run(['volume', 'prune', '-f', '-a']);
      expect(all.stdout).toMatch(/^Deleted Volumes:\nfreenamed\n\nTotal reclaimed space: 2kB\n$/);
      expect(volumeNames(own).sort()).toEqual([usedAnon, 'usednamed'].sort());
    } finally {
      own.destroy();
    }
  });
});
