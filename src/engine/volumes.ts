// Local volumes behind `tsrun volume create|ls|inspect|rm|prune`, `-v NAME:/path`,
// `-v /path`, `--mount type=volume` and the image's VOLUME paths. On disk:
//   <root>/volumes/<name>/_data         what the container sees (bind-mounted)
//   <root>/volumes/<name>/volume.json   name, driver, creation time, labels, anonymous flag
//   <root>/volumes/.creating-<name>-*   a volume being created, renamed into place once complete
//   <root>/volumes/.removing-<name>-*   a volume being deleted, renamed out of sight first
//   <root>/volumes/<name>/.copy-*       copy-up of the image's content in progress (volume-copy.ts)
//   <root>/volumes/<name>/_data/.tsrun-copy-*  the same, into a volume mounted by its options
//   <root>/volumes/.lock                shared by whoever creates or fills volumes, exclusive for rm/prune/repair
// Which containers use a volume is read from the container records (their
// `mounts`), so there is no reference count to get out of step after a kill -9.
// A volume created with the local driver's type/device/o options (volume-options.ts)
// has its filesystem mounted on _data while some live container uses it (mountLocked,
// releaseUnused), as Docker's local driver does.
// A volume of another driver (a Docker volume plugin, volume-plugins.ts) is created and
// removed by its plugin; each container start asks the plugin to Mount it (the container's
// id is the mount ID, recorded first in <name>/plugin-mounts/<id> so that a kill -9 cannot
// lose it) and binds the returned path on _data, which the container sees as for any
// volume; releaseUnused calls Unmount for every recorded ID whose container is not live.
// Container creation holds the lock (shared) from finding or creating its volumes
// until its record is in place, so rm and prune never miss a user being born.
import { randomHex } from '../util/random.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, StateError, UsageError } from '../errors.js';
import { MS_BIND, MS_REC, MS_REMOUNT, native, removeTree } from '../native/index.js';
import { isMountPoint, unmount } from '../snapshot/overlay.js';
import { validateVolumeName, VOLUME_NAME_PATTERN } from '../spec/index.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { ContainerStore, type ContainerRecord } from './container-store.js';
import { treeSize } from './container-usage.js';
import { layout, type EngineContext } from './context.js';
import { recordEvent } from './events.js';
import { copyUp, MOUNTED_STAGING_PATTERN } from './volume-copy.js';
import { checkVolumeDriver, needsMount, resolveServerAddress, validateVolumeOptions, volumeMountArgs } from './volume-options.js';
import type { PluginVolume, VolumePlugin } from './volume-plugins.js';

/** Docker (23+) marks anonymous volumes with this label; `volume prune` without -a removes only those. */
export const ANONYMOUS_VOLUME_LABEL = 'com.docker.volume.anonymous';

/** A plugin mount ID (a container's id) as a file name under plugin-mounts/. */
const MOUNT_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface VolumeRecord {
  name: string;
  /** `local`, or the name of the volume plugin that holds the volume. */
  driver: string;
  /** RFC 3339 to the second, as Docker shows it. */
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Created without a name (-v /path, --mount without source, the image's VOLUME). */
  anonymous: boolean;
}

export interface VolumeInfo extends VolumeRecord {
  /** The host directory containers see: <root>/volumes/<name>/_data. */
  mountpoint: string;
}

/** What `volume inspect` shows: for a plugin's volume, its Mountpoint and Status as the plugin answers. */
export interface VolumeDescription extends VolumeInfo {
  status?: Record<string, unknown>;
  scope: string;
}

/** A volume tsrun has no record of, as the plugin that has it answers Get (Volumes.findInPlugins). */
export interface PluginOnlyVolume {
  /** Driver = the plugin, Mountpoint as Get gives it ('' when none), no labels or options. */
  volume: VolumeInfo;
  status?: Record<string, unknown>;
  plugin: VolumePlugin;
}

/** Whether the volume's _data is a mount made while containers use it (local options, or a plugin's path), not a plain directory. */
function mountsOnUse(v: Pick<VolumeRecord, 'driver' | 'options'>): boolean {
  return v.driver !== 'local' || needsMount(v.options);
}

/** The plugin module, loaded only for volumes of another driver: it brings node:http. */
async function pluginFor(driver: string) {
  const { volumePlugin } = await import('./volume-plugins.js');
  return volumePlugin(driver);
}

export interface CreateVolumeRequest {
  /** Omitted: an anonymous volume with a random 64-hex name. */
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

export interface VolumeDiskUsage {
  total: number;
  /** Volumes some container (running or not) uses. */
  active: number;
  size: number;
  /** Bytes of the volumes no container uses. */
  reclaimable: number;
}

/**
 * Docker's volume events (create, destroy, mount, unmount): the actor is the volume's name,
 * and the attributes always name the driver. Keys in Docker's (sorted) order.
 */
export function recordVolumeEvent(ctx: EngineContext, action: 'create' | 'destroy' | 'mount' | 'unmount', name: string, extra: Record<string, string> = {}): void {
  const attributes = Object.fromEntries(Object.entries({ driver: 'local', ...extra }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  recordEvent(ctx, 'volume', action, name, attributes);
}

/** Whether a container is live (its launcher has it up): the containers engine's answer, passed in. */
export type LivenessCheck = (record: ContainerRecord) => boolean;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Docker's CreatedAt: RFC 3339 without fractions. */
function createdNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Parses "k=v" (or a bare "k") labels. */
export function labelsFrom(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list ?? []) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

export class Volumes {
  readonly dir: string;

  constructor(readonly ctx: EngineContext) {
    this.dir = layout(ctx).volumes;
  }

  volumeDir(name: string): string {
    return join(this.dir, name);
  }

  /** The directory containers see. */
  dataDir(name: string): string {
    return join(this.dir, name, '_data');
  }

  private metaPath(name: string): string {
    return join(this.dir, name, 'volume.json');
  }

  /** Shared: creating or filling volumes; exclusive: removing them (rm, prune, repair). */
  async lease(exclusive = false): Promise<FileLock> {
    ensureDir(this.dir);
    return FileLock.acquire(join(this.dir, '.lock'), { shared: !exclusive });
  }

  async withLease<T>(exclusive: boolean, fn: () => T | Promise<T>): Promise<T> {
    const lock = await this.lease(exclusive);
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /** Creates a volume (idempotent for a name that exists, as Docker); returns it and whether it is new. */
  async create(req: CreateVolumeRequest): Promise<{ volume: VolumeInfo; created: boolean }> {
    return this.withLease(false, () => this.createLocked(req));
  }

  /**
   * create() for a caller holding lease(). No driver asked for: an existing volume of any
   * driver, one only a plugin in use has (findInPlugins), or a new local one. A plugin's volume is created by the plugin first; if that
   * fails nothing is recorded.
   */
  async createLocked(req: CreateVolumeRequest): Promise<{ volume: VolumeInfo; created: boolean }> {
    const driver = req.driver ?? 'local';
    // Checked even for a name that exists, as Docker's local driver does.
    checkVolumeDriver(driver);
    if (driver === 'local') validateVolumeOptions(req.options ?? {});
    const anonymous = req.name === undefined;
    const name = req.name ?? randomHex(32);
    validateVolumeName(name);
    const existing = this.find(name);
    if (existing) {
      if (req.driver !== undefined && existing.driver !== req.driver) throw new ConflictError(`create ${name}: volume name must be unique: driver '${existing.driver}' already has volume '${name}'`);
      return { volume: existing, created: false };
    }
    // No driver asked for (-v NAME): a volume a plugin in use already has (made elsewhere) is
    // taken as it is, as Docker does; it is recorded with that driver, without a Create.
    const adopted = req.driver === undefined && !anonymous ? await this.findInPlugins(name) : undefined;
    if (adopted) return this.recordLocked(name, adopted.volume.driver, req, false);
    if (driver !== 'local') await (await pluginFor(driver)).create(name, req.options ?? {});
    return this.recordLocked(name, driver, req, true);
  }

  /** Writes a volume's record (and its empty _data) into place; `isNew`: a volume just created, which gets its create event. */
  private recordLocked(name: string, driver: string, req: CreateVolumeRequest, isNew: boolean): { volume: VolumeInfo; created: boolean } {
    const anonymous = req.name === undefined;
    const record: VolumeRecord = {
      name,
      driver,
      createdAt: createdNow(),
      labels: { ...(req.labels ?? {}), ...(anonymous ? { [ANONYMOUS_VOLUME_LABEL]: '' } : {}) },
      options: { ...(req.options ?? {}) },
      anonymous,
    };
    ensureDir(this.dir);
    const temp = join(this.dir, `.creating-${name}-${process.pid}-${randomHex(4)}`);
    try {
      mkdirSync(temp, { mode: 0o701 });
      mkdirSync(join(temp, '_data'), { mode: 0o755 });
      writeJsonAtomic(join(temp, 'volume.json'), record);
      renameSync(temp, this.volumeDir(name));
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      // Another process created the same name meanwhile: theirs is as good as ours.
      if ((errno(err) === 'ENOTEMPTY' || errno(err) === 'EEXIST') && this.find(name)) return { volume: this.find(name)!, created: false };
      throw err;
    }
    if (isNew) recordVolumeEvent(this.ctx, 'create', name, { driver });
    return { volume: { ...record, mountpoint: this.dataDir(name) }, created: isNew };
  }

  /** The volume as `volume inspect` shows it: a plugin's volume with the Mountpoint and Status its plugin gives (Get, else Path). */
  async describe(name: string): Promise<VolumeDescription> {
    const v = this.find(name);
    if (!v) {
      const known = await this.findInPlugins(name);
      if (!known) throw new NotFoundError('volume', name);
      return { ...known.volume, ...(known.status ? { status: known.status } : {}), scope: await known.plugin.scope() };
    }
    if (v.driver === 'local') return { ...v, scope: 'local' };
    const plugin = await pluginFor(v.driver);
    let mountpoint: string;
    let status: Record<string, unknown> | undefined;
    try {
      const got = await plugin.get(name);
      mountpoint = got.Mountpoint ?? '';
      status = got.Status;
    } catch {
      mountpoint = await plugin.path(name);
    }
    return { ...v, mountpoint, ...(status ? { status } : {}), scope: await plugin.scope() };
  }

  /** The volume, or undefined when there is none of that name. */
  find(name: string): VolumeInfo | undefined {
    if (!VOLUME_NAME_PATTERN.test(name)) return undefined;
    let record: VolumeRecord;
    try {
      record = JSON.parse(readFileSync(this.metaPath(name), 'utf8')) as VolumeRecord;
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      // A volume directory without metadata (copied in by hand): still a volume, as Docker's local driver sees it.
      if (!existsSync(this.dataDir(name))) return undefined;
      record = { name, driver: 'local', createdAt: createdNow(), labels: {}, options: {}, anonymous: false };
    }
    return { ...record, name, labels: record.labels ?? {}, options: record.options ?? {}, mountpoint: this.dataDir(name) };
  }

  get(name: string): VolumeInfo {
    const v = this.find(name);
    if (!v) throw new NotFoundError('volume', name);
    return v;
  }

  /**
   * The plugins (drivers other than local) of the recorded volumes, each once: the only ones
   * asked about volumes tsrun has no record of, so that no plugin is activated for nothing.
   */
  private pluginDriversInUse(recorded: readonly VolumeInfo[] = this.list()): string[] {
    return [...new Set(recorded.map((v) => v.driver).filter((d) => d !== 'local'))];
  }

  /**
   * A volume tsrun has no record of that a plugin in use knows (made elsewhere), looked up as
   * Docker looks a name up in its drivers: the first plugin whose Get answers has it. A plugin
   * that fails or does not know the name is passed over. Undefined for a recorded name or when
   * no plugin knows it. The one lookup behind inspect (describe), rm (remove) and -v NAME (createLocked).
   */
  async findInPlugins(name: string): Promise<PluginOnlyVolume | undefined> {
    if (!VOLUME_NAME_PATTERN.test(name) || this.find(name)) return undefined;
    for (const driver of this.pluginDriversInUse()) {
      let plugin: VolumePlugin;
      let got: PluginVolume;
      try {
        plugin = await pluginFor(driver);
        got = await plugin.get(name);
      } catch {
        continue;
      }
      const volume: VolumeInfo = {
        name,
        driver,
        createdAt: typeof got.CreatedAt === 'string' ? got.CreatedAt : '',
        labels: {},
        options: {},
        anonymous: false,
        mountpoint: typeof got.Mountpoint === 'string' ? got.Mountpoint : '',
      };
      const status = got.Status && typeof got.Status === 'object' ? got.Status : undefined;
      return { volume, plugin, ...(status ? { status } : {}) };
    }
    return undefined;
  }

  /** Every volume, by name. */
  list(): VolumeInfo[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => VOLUME_NAME_PATTERN.test(n))
      .sort()
      .map((n) => this.find(n))
      .filter((v): v is VolumeInfo => v !== undefined);
  }

  /**
   * `volume ls`: every recorded volume, and the volumes that the plugins of recorded volumes
   * report through List (a plugin may know volumes made elsewhere), each once, by name. Only
   * those plugins are asked (none is activated for nothing); a plugin's own Mountpoint replaces
   * the bind target. A plugin that fails is named in `failures` and the rest is still listed.
   */
  async listWithPlugins(): Promise<{ volumes: VolumeInfo[]; failures: { driver: string; error: unknown }[] }> {
    const byName = new Map(this.list().map((v) => [v.name, v]));
    const drivers = this.pluginDriversInUse([...byName.values()]);
    const failures: { driver: string; error: unknown }[] = [];
    for (const driver of drivers) {
      let reported: PluginVolume[];
      try {
        reported = await (await pluginFor(driver)).list();
      } catch (error) {
        failures.push({ driver, error });
        continue;
      }
      for (const pv of reported) {
        if (typeof pv?.Name !== 'string' || pv.Name === '') continue;
        const known = byName.get(pv.Name);
        // Another driver's volume of the same name: ours stays (names are unique, as in Docker).
        if (known && known.driver !== driver) continue;
        const mountpoint = typeof pv.Mountpoint === 'string' ? pv.Mountpoint : '';
        byName.set(pv.Name, known ? { ...known, mountpoint } : { name: pv.Name, driver, createdAt: pv.CreatedAt ?? '', labels: {}, options: {}, anonymous: false, mountpoint });
      }
    }
    const volumes = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { volumes, failures };
  }

  /** Volume name -> ids of the containers (any state) that mount it. */
  usage(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const record of new ContainerStore(this.ctx).list()) {
      for (const m of record.mounts ?? []) {
        if (m.type !== 'volume' || !m.name) continue;
        const ids = out.get(m.name) ?? [];
        if (!ids.includes(record.id)) ids.push(record.id);
        out.set(m.name, ids);
      }
    }
    return out;
  }

  /**
   * Removes a volume no container uses; -f makes a missing one no error (Docker's rules).
   * A volume still mounted by its options is unmounted first. With `isLive`, a refused
   * volume whose users are none of them live (a kill -9 left it mounted) is unmounted all
   * the same: the refusal still stands, as Docker's for a stopped user.
   */
  async remove(name: string, opts: { force?: boolean; isLive?: LivenessCheck } = {}): Promise<void> {
    await this.withLease(true, async () => {
      if (!this.find(name)) {
        // Only a plugin has it (made elsewhere): removed through that plugin, as Docker does.
        const known = await this.findInPlugins(name);
        if (known) {
          await known.plugin.remove(name);
          recordVolumeEvent(this.ctx, 'destroy', name, { driver: known.volume.driver });
          return;
        }
        if (opts.force) return;
        throw new NotFoundError('volume', name);
      }
      const users = this.usage().get(name) ?? [];
      if (users.length > 0) {
        // Best effort: the refusal is the answer, whatever the release met.
        if (opts.isLive) await this.releaseUnusedLocked([name], opts.isLive).catch(() => undefined);
        throw new ConflictError(`remove ${name}: volume is in use - [${users.join(' ')}]`);
      }
      await this.removeLocked(name);
    });
  }

  /**
   * Renamed out of sight first, so a crash never leaves a half-deleted volume visible.
   * A plugin's volume is removed by its plugin first (after undoing the mounts that users
   * gone for good left): if the plugin refuses, the volume stays, as in Docker.
   */
  private async removeLocked(name: string): Promise<void> {
    // Never delete through a mount: a bind volume's _data is the host's own directory.
    unmount(this.dataDir(name));
    const driver = this.find(name)?.driver ?? 'local';
    if (driver !== 'local') {
      const plugin = await pluginFor(driver);
      for (const id of this.pluginMountIds(name)) await this.pluginUnmount(plugin, name, id);
      await plugin.remove(name);
    }
    const doomed = join(this.dir, `.removing-${name}-${randomHex(4)}`);
    try {
      renameSync(this.volumeDir(name), doomed);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    // Gone for every reader from here: what is left is a sweep of its data.
    recordVolumeEvent(this.ctx, 'destroy', name, { driver });
    // removeTree stops at a mount still inside (EXDEV) rather than delete through it.
    removeTree(doomed);
  }

  /**
   * Removes the anonymous volumes created for `record` (rm -v, --rm) that no
   * other container uses; call it once the container's record is gone.
   * Named volumes are never removed here. Returns the names removed.
   */
  async removeAnonymousOf(record: Pick<ContainerRecord, 'mounts'>): Promise<string[]> {
    const names = (record.mounts ?? []).filter((m) => m.type === 'volume' && m.anonymous && m.name).map((m) => m.name!);
    if (names.length === 0) return [];
    return this.withLease(true, async () => {
      const usage = this.usage();
      const removed: string[] = [];
      for (const name of names) {
        if ((usage.get(name) ?? []).length > 0 || !this.find(name)) continue;
        await this.removeLocked(name);
        removed.push(name);
      }
      return removed;
    });
  }

  /**
   * Volumes no container uses: only anonymous ones unless `all` (Docker 23+). Returns names and
   * bytes freed. With `isLive`, the volumes kept mounted with no live user (after a kill -9) are unmounted.
   */
  async prune(opts: { all?: boolean; isLive?: LivenessCheck } = {}): Promise<{ removed: string[]; reclaimed: number }> {
    return this.withLease(true, async () => {
      this.repairLocked();
      if (opts.isLive) await this.releaseUnusedLocked(undefined, opts.isLive).catch(() => undefined);
      const usage = this.usage();
      const out = { removed: [] as string[], reclaimed: 0 };
      for (const v of this.list()) {
        if ((usage.get(v.name) ?? []).length > 0) continue;
        if (!opts.all && !this.isAnonymous(v)) continue;
        const bytes = treeSize(v.mountpoint);
        try {
          await this.removeLocked(v.name);
        } catch (err) {
          // A plugin that refuses Remove keeps its volume (Docker's prune goes on with the others).
          if (v.driver === 'local') throw err;
          continue;
        }
        out.reclaimed += bytes;
        out.removed.push(v.name);
      }
      return out;
    });
  }

  isAnonymous(v: VolumeInfo): boolean {
    return v.anonymous || ANONYMOUS_VOLUME_LABEL in v.labels;
  }

  /** Sweeps what crashes leave (half-created or half-removed volumes, copy-up temp dirs), unless someone is creating. */
  repair(): string[] {
    if (!existsSync(this.dir)) return [];
    const lock = FileLock.tryAcquire(join(this.dir, '.lock'));
    if (!lock) return [];
    try {
      return this.repairLocked();
    } finally {
      lock.release();
    }
  }

  private repairLocked(): string[] {
    const swept: string[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return swept;
    }
    for (const n of names) {
      if (n.startsWith('.creating-') || n.startsWith('.removing-')) {
        try {
          unmount(join(this.dir, n, '_data'));
          removeTree(join(this.dir, n)); // never through a mount left inside
          swept.push(n);
        } catch {
          // a mount that would not go: left for a later sweep, its data untouched
        }
      } else if (VOLUME_NAME_PATTERN.test(n)) {
        let inner: string[] = [];
        try {
          inner = readdirSync(this.volumeDir(n));
        } catch {
          continue;
        }
        for (const c of inner.filter((c) => c.startsWith('.copy-'))) {
          try {
            removeTree(join(this.volumeDir(n), c)); // never through a mount or a symlink
            swept.push(`${n}/${c}`);
          } catch {
            // left for a later sweep
          }
        }
        swept.push(...this.sweepMountedStaging(n));
      }
    }
    return swept;
  }

  /** The staging dirs a crashed copy-up left inside a mounted volume; removeTree never crosses a mount in them. */
  private sweepMountedStaging(name: string): string[] {
    const data = this.dataDir(name);
    const v = this.find(name);
    if (!v || !mountsOnUse(v) || !isMountPoint(data)) return [];
    let entries: string[] = [];
    try {
      entries = readdirSync(data);
    } catch {
      return [];
    }
    const swept: string[] = [];
    for (const e of entries.filter((e) => MOUNTED_STAGING_PATTERN.test(e))) {
      try {
        removeTree(join(data, e));
        swept.push(`${name}/_data/${e}`);
      } catch {
        // left for a later sweep
      }
    }
    return swept;
  }

  /**
   * Copy-up (Docker's): fills the empty volume `name` from `source`, a directory
   * of a container's mounted rootfs. Holds the lease so repair leaves the copy alone.
   * A volume with mount options or of a plugin is skipped: its filesystem is mounted only
   * while containers run, so it is filled at start instead (populateMountedLocked).
   */
  async populate(name: string, source: string): Promise<boolean> {
    const v = this.find(name);
    if (v && mountsOnUse(v)) return false;
    return this.withLease(false, () => copyUp(source, this.dataDir(name)));
  }

  /**
   * Copy-up into a volume with mount options, once mountLocked() has put its filesystem
   * on _data (so the content lands in it, not underneath it). The caller holds lease().
   */
  populateMountedLocked(name: string, source: string): boolean {
    if (!isMountPoint(this.dataDir(name))) throw new StateError(`volume ${name} is not mounted: cannot copy the image's content into it`);
    return copyUp(source, this.dataDir(name), { mounted: true });
  }

  /** The volumes among `names` that are mounts (created with type/device, or a plugin's), not plain directories. */
  withMountOptions(names: readonly string[]): string[] {
    return [...new Set(names)].filter((n) => {
      const v = this.find(n);
      return v !== undefined && mountsOnUse(v);
    });
  }

  /**
   * Mounts the filesystems of the volumes among `names` created with type/device/o
   * that are not mounted yet, on their _data dirs in the host's mount namespace; a
   * plugin's volume is mounted by its plugin for `mountId` (the container's id) and its
   * path bound on _data. The caller holds lease() until the containers using them are
   * live, so that releaseUnused() never unmounts what a starting container is about to bind.
   * Returns the path each plugin's Mount gave, by volume name.
   */
  async mountLocked(names: readonly string[], mountId?: string): Promise<Map<string, string>> {
    const pluginPaths = new Map<string, string>();
    for (const name of this.withMountOptions(names)) {
      const v = this.get(name);
      if (v.driver !== 'local') {
        pluginPaths.set(name, await this.mountPluginVolumeLocked(v, mountId));
        continue;
      }
      if (isMountPoint(v.mountpoint)) continue;
      const { source, fstype, flags, data } = volumeMountArgs(await resolveServerAddress(v.options));
      try {
        if (flags & MS_BIND) {
          native().mount(source, v.mountpoint, '', flags & (MS_BIND | MS_REC), null);
          // A bind ignores ro, nosuid... on the first call: they take a remount.
          const rest = flags & ~(MS_BIND | MS_REC);
          if (rest) native().mount('', v.mountpoint, '', MS_REMOUNT | MS_BIND | rest, null);
        } else {
          native().mount(source, v.mountpoint, fstype, flags, data || null);
        }
      } catch (err) {
        unmount(v.mountpoint);
        throw new StateError(`failed to mount local volume ${name}: mount ${source}:${v.mountpoint} (type ${fstype || 'none'}, options "${v.options.o ?? ''}"): ${(err as Error).message}`);
      }
    }
    return pluginPaths;
  }

  /**
   * Docker's Mount of a plugin's volume for one user. The ID is on disk before the plugin
   * hears of it, so whatever kills tsrun after that, releaseUnused() finds an Unmount to
   * make. One left by an earlier run of the same container is undone first, so every
   * Mount has exactly one Unmount. The first user's path is bound on _data; later users
   * share that bind while it lasts. Returns the path the plugin's Mount gave.
   */
  private async mountPluginVolumeLocked(v: VolumeInfo, mountId: string | undefined): Promise<string> {
    if (mountId === undefined || !MOUNT_ID_PATTERN.test(mountId)) throw new StateError(`volume ${v.name} of driver ${v.driver} needs a valid mount ID, not "${mountId ?? ''}"`);
    const plugin = await pluginFor(v.driver);
    if (this.pluginMountIds(v.name).includes(mountId)) await this.pluginUnmount(plugin, v.name, mountId);
    const record = join(this.pluginMountsDir(v.name), mountId);
    ensureDir(this.pluginMountsDir(v.name));
    writeFileSync(record, '');
    let path: string;
    try {
      path = await plugin.mount(v.name, mountId);
    } catch (err) {
      rmSync(record, { force: true }); // the plugin did not mount: nothing to undo
      throw new StateError(`error while mounting volume '${v.name}': ${(err as Error).message}`, { cause: err });
    }
    if (isMountPoint(v.mountpoint)) return path;
    try {
      native().mount(path, v.mountpoint, '', MS_BIND | MS_REC, null);
    } catch (err) {
      await this.pluginUnmount(plugin, v.name, mountId).catch(() => undefined);
      throw new StateError(`error while mounting volume '${v.name}': cannot bind ${path} (from plugin ${v.driver}) on ${v.mountpoint}: ${(err as Error).message}`);
    }
    return path;
  }

  private pluginMountsDir(name: string): string {
    return join(this.volumeDir(name), 'plugin-mounts');
  }

  /** The mount IDs a plugin's volume was mounted for and not unmounted yet. */
  pluginMountIds(name: string): string[] {
    try {
      return readdirSync(this.pluginMountsDir(name)).filter((id) => MOUNT_ID_PATTERN.test(id));
    } catch {
      return [];
    }
  }

  /** Docker's Unmount for one mount ID; its record goes only once the plugin has answered. */
  private async pluginUnmount(plugin: { unmount(volume: string, id: string): Promise<void> }, name: string, id: string): Promise<void> {
    await plugin.unmount(name, id);
    rmSync(join(this.pluginMountsDir(name), id), { force: true });
  }

  /**
   * Docker's active count, recomputed instead of stored (a kill -9 cannot leave it
   * wrong): unmounts the mounted volumes among `names` (every volume when omitted)
   * whose users (containers recording them) are none of them live. A tmpfs volume
   * loses its content here, as in Docker. A plugin's volume gets an Unmount for each
   * recorded mount ID whose container is not live (gone, stopped, or killed with
   * tsrun). Returns the names unmounted.
   */
  async releaseUnused(names: readonly string[] | undefined, isLive: LivenessCheck): Promise<string[]> {
    if (this.mountedOnUse(names).length === 0) return [];
    return this.withLease(true, () => this.releaseUnusedLocked(names, isLive));
  }

  /** releaseUnused() for a caller holding lease(true). A plugin that fails an Unmount keeps its ID for a later try: the first failure is thrown once all are tried. */
  private async releaseUnusedLocked(names: readonly string[] | undefined, isLive: LivenessCheck): Promise<string[]> {
    const candidates = this.mountedOnUse(names);
    if (candidates.length === 0) return [];
    const records = new ContainerStore(this.ctx).list();
    const released: string[] = [];
    let failure: unknown;
    for (const name of candidates) {
      const users = records.filter((r) => (r.mounts ?? []).some((m) => m.type === 'volume' && m.name === name));
      const liveIds = new Set(users.filter(isLive).map((r) => r.id));
      if (liveIds.size === 0 && unmount(this.dataDir(name))) released.push(name);
      const driver = this.find(name)?.driver ?? 'local';
      if (driver === 'local') continue;
      try {
        const stale = this.pluginMountIds(name).filter((id) => !liveIds.has(id));
        if (stale.length === 0) continue;
        const plugin = await pluginFor(driver);
        for (const id of stale) await this.pluginUnmount(plugin, name, id).catch((err) => (failure ??= err));
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return released;
  }

  /** The volumes among `names` (every one when omitted) with mount options whose filesystem is mounted now, or a plugin's with mount IDs recorded. */
  private mountedOnUse(names: readonly string[] | undefined): string[] {
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    const all = names ?? this.list().map((v) => v.name);
    return this.withMountOptions(all).filter((n) => isMountPoint(this.dataDir(n), mountinfo) || this.pluginMountIds(n).length > 0);
  }

  /** For `system df`. */
  diskUsage(): VolumeDiskUsage {
    const usage = this.usage();
    const out: VolumeDiskUsage = { total: 0, active: 0, size: 0, reclaimable: 0 };
    for (const v of this.list()) {
      const bytes = treeSize(v.mountpoint);
      out.total++;
      out.size += bytes;
      if ((usage.get(v.name) ?? []).length > 0) out.active++;
      else out.reclaimable += bytes;
    }
    return out;
  }
}

const FILTER_KEYS = new Set(['dangling', 'name', 'label', 'driver']);

/**
 * `volume ls --filter` values ("dangling=true", "name=web", "label=k[=v]",
 * "driver=local"), grouped by key: values of one key are alternatives, keys
 * must all match (Docker's rules).
 */
export function parseVolumeFilters(list: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of list) {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    const value = eq < 0 ? '' : f.slice(eq + 1);
    if (!FILTER_KEYS.has(key)) throw new UsageError(`invalid filter '${key}' (dangling, name, label or driver)`);
    if (key === 'dangling' && !['true', 'false', '1', '0'].includes(value)) throw new UsageError(`invalid filter 'dangling=${value}' (true or false)`);
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** Whether volume `v` (used by `users` containers) passes the filters of parseVolumeFilters. */
export function volumeMatches(v: VolumeRecord, users: number, filters: Map<string, string[]>): boolean {
  const test: Record<string, (value: string) => boolean> = {
    dangling: (value) => (value === 'true' || value === '1') === (users === 0),
    name: (value) => v.name.includes(value),
    driver: (value) => v.driver === value,
    label: (value) => {
      const eq = value.indexOf('=');
      if (eq < 0) return value in v.labels;
      return v.labels[value.slice(0, eq)] === value.slice(eq + 1);
    },
  };
  for (const [key, values] of filters) {
    if (!values.some((value) => test[key]!(value))) return false;
  }
  return true;
}
