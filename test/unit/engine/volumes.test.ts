// Local volumes on disk (a temp --root; no containers run): creation by rename,
// names, in-use from container records, rm/prune rules, repair, filters, copy-up.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContainerStore, type ContainerMount, type ContainerRecord } from '../../../src/engine/container-store.js';
import { storedContainerUsing } from '../../support/container-records.js';
import type { EngineContext } from '../../../src/engine/context.js';
import { copyTree, copyUp, MOUNTED_STAGING_PREFIX } from '../../../src/engine/volume-copy.js';
import { readPastEvents } from '../../../src/engine/events.js';
import { ANONYMOUS_VOLUME_LABEL, labelsFrom, parseVolumeFilters, recordVolumeEvent, volumeMatches, Volumes } from '../../../src/engine/volumes.js';
import { ConflictError, NotFoundError, UsageError } from '../../../src/errors.js';
import { native } from '../../../src/native/index.js';
import { mountPoints, unmount } from '../../../src/snapshot/overlay.js';

const isRoot = process.getuid?.() === 0;

let base: string;
let ctx: EngineContext;
let volumes: Volumes;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'tsrun-volumes-'));
  ctx = { root: join(base, 'root'), runroot: join(base, 'run') };
  volumes = new Volumes(ctx);
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** A container record on disk that mounts the given volumes. */
const containerUsing = (mounts: ContainerMount[]): ContainerRecord => storedContainerUsing(ctx, mounts);

const volumeMount = (name: string, anonymous = false): ContainerMount => ({
  type: 'volume',
  name,
  source: join(ctx.root, 'volumes', name, '_data'),
  destination: '/data',
  mode: '',
  rw: true,
  anonymous,
});

describe('Volumes: create, get, list', () => {
  it('a named volume is volumes/<name>/_data plus volume.json, and nothing else is left', async () => {
    const { volume, created } = await volumes.create({ name: 'data1', labels: { team: 'a' } });
    expect(created).toBe(true);
    expect(volume).toMatchObject({ name: 'data1', driver: 'local', labels: { team: 'a' }, options: {}, anonymous: false, mountpoint: join(ctx.root, 'volumes', 'data1', '_data') });
    expect(volume.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(statSync(volume.mountpoint).isDirectory()).toBe(true);
    const meta = JSON.parse(readFileSync(join(ctx.root, 'volumes', 'data1', 'volume.json'), 'utf8'));
    expect(meta).toMatchObject({ name: 'data1', driver: 'local', labels: { team: 'a' }, anonymous: false });
    expect(readdirSync(join(ctx.root, 'volumes')).sort()).toEqual(['.lock', 'data1']);
  });

  it('creating an existing name returns it unchanged (Docker is idempotent here)', async () => {
    await volumes.create({ name: 'data1', labels: { v: '1' } });
    writeFileSync(join(volumes.dataDir('data1'), 'keep'), 'x');
    const again = await volumes.create({ name: 'data1', labels: { v: '2' } });
    expect(again.created).toBe(false);
    expect(again.volume.labels).toEqual({ v: '1' });
    expect(readFileSync(join(volumes.dataDir('data1'), 'keep'), 'utf8')).toBe('x');
  });

  it('an anonymous volume gets a 64-hex name, the anonymous flag and Docker\'s label', async () => {
    const { volume } = await volumes.create({});
    expect(volume.name).toMatch(/^[0-9a-f]{64}$/);
    expect(volume.anonymous).toBe(true);
    expect(volume.labels).toEqual({ [ANONYMOUS_VOLUME_LABEL]: '' });
    expect(volumes.isAnonymous(volume)).toBe(true);
  });

  it('refuses bad names, other drivers and options, creating nothing', async () => {
    for (const bad of ['a', 'a/b', '.hidden', '-x', '_x', 'x y', '../up', '']) {
      await expect(volumes.create({ name: bad })).rejects.toThrow(UsageError);
    }
    await expect(volumes.create({ name: 'a/b' })).rejects.toThrow('"a/b" includes invalid characters');
    // Another driver is a volume plugin: one that cannot be found is an error, and nothing is created.
    await expect(volumes.create({ name: 'ok1', driver: 'tsrun-test-no-such-plugin' })).rejects.toThrow('error looking up volume plugin tsrun-test-no-such-plugin: plugin "tsrun-test-no-such-plugin" not found');
    await expect(volumes.create({ name: 'ok1', driver: 'bad name' })).rejects.toThrow('invalid volume driver name "bad name"');
    await expect(volumes.create({ name: 'ok1', options: { type: 'tmpfs' } })).rejects.toThrow('missing required option: "device"');
    await expect(volumes.create({ name: 'ok1', options: { type: 'tmpfs', device: 'tmpfs', foo: '1' } })).rejects.toThrow('invalid option: "foo"');
    await expect(volumes.create({ name: 'ok1', options: { type: 'none', device: join(ctx.root, 'nowhere'), o: 'bind' } })).rejects.toThrow('does not exist');
    expect(volumes.list()).toEqual([]);
    expect(readdirSync(join(ctx.root, 'volumes')).filter((n) => n !== '.lock')).toEqual([]);
  });

  it('lists by name and finds none that is missing', async () => {
    await volumes.create({ name: 'zeta' });
    await volumes.create({ name: 'alpha' });
    expect(volumes.list().map((v) => v.name)).toEqual(['alpha', 'zeta']);
    expect(() => volumes.get('nope')).toThrow(NotFoundError);
    expect(volumes.find('a/../zeta')).toBeUndefined();
  });
});

describe('Volumes: in use, rm, prune', () => {
  it('refuses to remove a volume a container (even stopped) uses, naming it, then removes it once the container is gone', async () => {
    await volumes.create({ name: 'shared' });
    const c = containerUsing([volumeMount('shared')]);
    expect(volumes.usage().get('shared')).toEqual([c.id]);
    await expect(volumes.remove('shared')).rejects.toThrow(ConflictError);
    await expect(volumes.remove('shared')).rejects.toThrow(`remove shared: volume is in use - [${c.id}]`);
    await expect(volumes.remove('shared', { force: true })).rejects.toThrow('volume is in use');
    expect(volumes.find('shared')).toBeDefined();
    new ContainerStore(ctx).remove(c);
    await volumes.remove('shared');
    expect(volumes.find('shared')).toBeUndefined();
    expect(existsSync(join(ctx.root, 'volumes', 'shared'))).toBe(false);
  });

  it.skipIf(!isRoot)('a refused rm unmounts a volume none of whose users is live, and keeps a live user\'s mount (as root)', async () => {
    await volumes.create({ name: 'mnt', options: { type: 'tmpfs', device: 'tmpfs' } });
    const c = containerUsing([volumeMount('mnt')]);
    const lease = await volumes.lease();
    await volumes.mountLocked(['mnt']);
    lease.release();
    const mounted = () => mountPoints().includes(volumes.dataDir('mnt'));
    try {
      expect(mounted()).toBe(true);
      await expect(volumes.remove('mnt', { isLive: () => true })).rejects.toThrow(`volume is in use - [${c.id}]`);
      expect(mounted()).toBe(true);
      await expect(volumes.prune({ all: true, isLive: () => true })).resolves.toEqual({ removed: [], reclaimed: 0 });
      expect(mounted()).toBe(true);
      await expect(volumes.remove('mnt', { isLive: () => false })).rejects.toThrow(`volume is in use - [${c.id}]`);
      expect(mounted()).toBe(false);
      expect(volumes.find('mnt')).toBeDefined();
    } finally {
      unmount(volumes.dataDir('mnt'));
    }
  });

  it('records Docker\'s volume events: create once (not for an existing name), destroy on rm, prune and rm of anonymous ones', async () => {
    await volumes.create({ name: 'ev' });
    await volumes.create({ name: 'ev' });
    const { volume: anon } = await volumes.create({});
    await volumes.remove('ev');
    await volumes.removeAnonymousOf({ mounts: [volumeMount(anon.name, true)] });
    await volumes.create({ name: 'pruned' });
    await volumes.prune({ all: true });
    recordVolumeEvent(ctx, 'mount', 'x', { 'read/write': 'true', container: 'c', propagation: '', destination: '/d' });
    const events = readPastEvents(ctx).events;
    expect(events.map((e) => `${e.Type} ${e.Action} ${e.Actor.ID}`)).toEqual([
      'volume create ev',
      `volume create ${anon.name}`,
      'volume destroy ev',
      `volume destroy ${anon.name}`,
      'volume create pruned',
      'volume destroy pruned',
      'volume mount x',
    ]);
    expect(events.slice(0, 6).every((e) => JSON.stringify(e.Actor.Attributes) === '{"driver":"local"}')).toBe(true);
    // Docker's JSON has the attributes' keys sorted (a Go map).
    expect(Object.keys(events[6]!.Actor.Attributes)).toEqual(['container', 'destination', 'driver', 'propagation', 'read/write']);
    expect(events[6]).not.toHaveProperty('status');
  });

  it('rm of a missing volume is an error unless forced', async () => {
    await expect(volumes.remove('ghost')).rejects.toThrow(NotFoundError);
    await expect(volumes.remove('ghost', { force: true })).resolves.toBeUndefined();
  });

  it('removeAnonymousOf removes only the anonymous volumes no other container uses', async () => {
    const anon1 = (await volumes.create({})).volume.name;
    const anon2 = (await volumes.create({})).volume.name;
    await volumes.create({ name: 'named' });
    containerUsing([volumeMount(anon2)]); // another container mounts anon2 by name
    const removed = await volumes.removeAnonymousOf({ mounts: [volumeMount(anon1, true), volumeMount(anon2, true), volumeMount('named')] });
    expect(removed).toEqual([anon1]);
    expect(volumes.list().map((v) => v.name).sort()).toEqual([anon2, 'named'].sort());
  });

  it('prune removes unused anonymous volumes; -a also unused named ones; used ones stay', async () => {
    const usedAnon = (await volumes.create({})).volume.name;
    const freeAnon = (await volumes.create({})).volume.name;
    await volumes.create({ name: 'usednamed' });
    await volumes.create({ name: 'freenamed' });
    writeFileSync(join(volumes.dataDir(freeAnon), 'f'), 'x'.repeat(1000));
    containerUsing([volumeMount(usedAnon, true), volumeMount('usednamed')]);
    const first = await volumes.prune();
    expect(first.removed).toEqual([freeAnon]);
    expect(first.reclaimed).toBe(1000);
    const all = await volumes.prune({ all: true });
    expect(all.removed).toEqual(['freenamed']);
    expect(volumes.list().map((v) => v.name).sort()).toEqual([usedAnon, 'usednamed'].sort());
  });

  it('disk usage counts volumes, the used ones as active, the others as reclaimable', async () => {
    await volumes.create({ name: 'used1' });
    await volumes.create({ name: 'free1' });
    writeFileSync(join(volumes.dataDir('used1'), 'a'), 'x'.repeat(10));
    writeFileSync(join(volumes.dataDir('free1'), 'b'), 'x'.repeat(30));
    containerUsing([volumeMount('used1')]);
    expect(volumes.diskUsage()).toEqual({ total: 2, active: 1, size: 40, reclaimable: 30 });
  });

  it('repair sweeps half-created and half-removed volumes and copy-up leftovers, keeping volumes', async () => {
    await volumes.create({ name: 'keep' });
    const dir = join(ctx.root, 'volumes');
    mkdirSync(join(dir, '.creating-new1-1-aa', '_data'), { recursive: true });
    mkdirSync(join(dir, '.removing-old1-bb', '_data'), { recursive: true });
    mkdirSync(join(dir, 'keep', '.copy-1-cc', 'etc'), { recursive: true });
    expect(volumes.list().map((v) => v.name)).toEqual(['keep']);
    expect(volumes.repair().sort()).toEqual(['.creating-new1-1-aa', '.removing-old1-bb', 'keep/.copy-1-cc']);
    expect(readdirSync(dir).sort()).toEqual(['.lock', 'keep']);
    expect(readdirSync(join(dir, 'keep')).sort()).toEqual(['_data', 'volume.json']);
  });

  it('repair leaves everything alone while someone holds the lease (a creation in progress)', async () => {
    const lease = await volumes.lease();
    try {
      mkdirSync(join(ctx.root, 'volumes', '.creating-busy1-1-aa'), { recursive: true });
      expect(volumes.repair()).toEqual([]);
      expect(existsSync(join(ctx.root, 'volumes', '.creating-busy1-1-aa'))).toBe(true);
    } finally {
      lease.release();
    }
  });
});

describe('volume filters', () => {
  const v = (name: string, labels: Record<string, string> = {}) => ({ name, driver: 'local' as const, createdAt: '', labels, options: {}, anonymous: false });
  it('dangling, name, label and driver; values of one key are alternatives, keys all apply', () => {
    const f = (...list: string[]) => parseVolumeFilters(list);
    expect(volumeMatches(v('web'), 0, f('dangling=true'))).toBe(true);
    expect(volumeMatches(v('web'), 2, f('dangling=true'))).toBe(false);
    expect(volumeMatches(v('web'), 2, f('dangling=false'))).toBe(true);
    expect(volumeMatches(v('webdata'), 0, f('name=data'))).toBe(true);
    expect(volumeMatches(v('web'), 0, f('name=data', 'name=we'))).toBe(true);
    expect(volumeMatches(v('web', { a: '1' }), 0, f('label=a'))).toBe(true);
    expect(volumeMatches(v('web', { a: '1' }), 0, f('label=a=1'))).toBe(true);
    expect(volumeMatches(v('web', { a: '1' }), 0, f('label=a=2'))).toBe(false);
    expect(volumeMatches(v('web', { a: '1' }), 0, f('label=a', 'dangling=false'))).toBe(false);
    expect(volumeMatches(v('web'), 0, f('driver=local'))).toBe(true);
  });
  it('refuses unknown keys and bad dangling values', () => {
    expect(() => parseVolumeFilters(['color=red'])).toThrow("invalid filter 'color'");
    expect(() => parseVolumeFilters(['dangling=maybe'])).toThrow("invalid filter 'dangling=maybe'");
  });
  it('labelsFrom parses k=v and bare keys', () => {
    expect(labelsFrom(['a=1', 'b', 'c=x=y'])).toEqual({ a: '1', b: '', c: 'x=y' });
  });
});

describe('copy-up', () => {
  it('copies content, modes, times, symlinks (unfollowed), hard links and FIFOs into an empty volume', () => {
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(join(src, 'sub', 'deep'), { recursive: true });
    mkdirSync(dst);
    writeFileSync(join(src, 'file'), 'hello');
    chmodSync(join(src, 'file'), 0o640);
    writeFileSync(join(src, 'sub', 'deep', 'x'), 'deep');
    chmodSync(join(src, 'sub'), 0o750);
    utimesSync(join(src, 'file'), 1_000_000, 1_000_000);
    linkSync(join(src, 'file'), join(src, 'hardlink'));
    symlinkSync('/etc/shadow', join(src, 'abs-link'));
    symlinkSync('file', join(src, 'rel-link'));
    execFileSync('mkfifo', [join(src, 'fifo')]);
    expect(copyUp(src, dst)).toBe(true);
    expect(readFileSync(join(dst, 'file'), 'utf8')).toBe('hello');
    expect(statSync(join(dst, 'file')).mode & 0o7777).toBe(0o640);
    expect(statSync(join(dst, 'file')).mtimeMs).toBe(1_000_000_000);
    expect(statSync(join(dst, 'sub')).mode & 0o7777).toBe(0o750);
    expect(readFileSync(join(dst, 'sub', 'deep', 'x'), 'utf8')).toBe('deep');
    expect(statSync(join(dst, 'hardlink')).ino).toBe(statSync(join(dst, 'file')).ino);
    expect(readlinkSync(join(dst, 'abs-link'))).toBe('/etc/shadow');
    expect(lstatSync(join(dst, 'abs-link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dst, 'rel-link'))).toBe('file');
    expect(lstatSync(join(dst, 'fifo')).isFIFO()).toBe(true);
    // The temp copy beside the volume is gone.
    expect(readdirSync(base).filter((n) => n.startsWith('.copy-'))).toEqual([]);
  });

  it.skipIf(!isRoot)('keeps owners, set-id bits and the root directory\'s owner and mode (as root)', () => {
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(join(src, 'owned'), { recursive: true });
    mkdirSync(dst, { mode: 0o755 });
    writeFileSync(join(src, 'owned', 'f'), 'x');
    chownSync(join(src, 'owned', 'f'), 1234, 5678);
    chmodSync(join(src, 'owned', 'f'), 0o4755);
    chownSync(join(src, 'owned'), 999, 998);
    chownSync(src, 70, 71);
    chmodSync(src, 0o1770);
    expect(copyUp(src, dst)).toBe(true);
    const f = statSync(join(dst, 'owned', 'f'));
    expect([f.uid, f.gid, f.mode & 0o7777]).toEqual([1234, 5678, 0o4755]);
    const d = statSync(join(dst, 'owned'));
    expect([d.uid, d.gid]).toEqual([999, 998]);
    const root = statSync(dst);
    expect([root.uid, root.gid, root.mode & 0o7777]).toEqual([70, 71, 0o1770]);
  });

  it('copies user xattrs where the filesystem has them', () => {
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    writeFileSync(join(src, 'f'), 'x');
    try {
      native().lsetxattr(join(src, 'f'), 'user.tsrun.test', Buffer.from('v1'));
    } catch {
      return; // this temp filesystem has no user xattrs: nothing to compare
    }
    copyTree(src, dst);
    expect(native().lgetxattr(join(dst, 'f'), 'user.tsrun.test')?.toString()).toBe('v1');
  });

  it('does nothing to a volume that has content, or when the image has no directory there', () => {
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    writeFileSync(join(src, 'image-file'), 'image');
    writeFileSync(join(dst, 'mine'), 'mine');
    expect(copyUp(src, dst)).toBe(false);
    expect(readdirSync(dst)).toEqual(['mine']);
    rmSync(join(dst, 'mine'));
    expect(copyUp(join(base, 'missing'), dst)).toBe(false);
    expect(copyUp(join(src, 'image-file'), dst)).toBe(false);
    expect(readdirSync(dst)).toEqual([]);
  });

  it('into a mounted volume: stages inside it, and a crashed copy-up\'s staging dir still counts as empty', () => {
    const src = join(base, 'src');
    const vol = join(base, 'vol');
    const dst = join(vol, '_data');
    mkdirSync(join(src, 'sub'), { recursive: true });
    mkdirSync(dst, { recursive: true });
    writeFileSync(join(src, 'sub', 'f'), 'image');
    const leftover = `${MOUNTED_STAGING_PREFIX}123-0badcafe`;
    mkdirSync(join(dst, leftover));
    expect(copyUp(src, dst, { mounted: true })).toBe(true);
    expect(readFileSync(join(dst, 'sub', 'f'), 'utf8')).toBe('image');
    // Nothing staged beside _data (a rename from there would cross the volume's mount), only the old leftover inside.
    expect(readdirSync(vol)).toEqual(['_data']);
    expect(readdirSync(dst).sort()).toEqual([leftover, 'sub'].sort());
    // A staging-like name the user made is content: the volume is not empty.
    const other = join(base, 'other');
    mkdirSync(other);
    mkdirSync(join(other, '.tsrun-copy-mine'));
    expect(copyUp(src, other, { mounted: true })).toBe(false);
  });
});
