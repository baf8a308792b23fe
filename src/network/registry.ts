// User-defined networks (`tsrun network create`): their definitions and the
// choice of a free subnet and bridge name.
//
// A network is a host-wide thing (a bridge, a subnet, elements in the firewall
// table), so its definition is host-wide too: <base>/defs/<name>.json, with
// <base> = /run/tsrun-networks (TSRUN_NETWORK_STATE overrides it), the same
// place the address leases live. Every --root therefore sees the same networks,
// and two roots can never create two networks on one subnet or bridge. /run is
// emptied by a reboot, so each root also keeps a copy of the networks it
// created (<root>/network/networks/<name>.json); a copy whose name is missing
// host-wide is registered again on the next lookup, unless its subnet or
// bridge has been taken meanwhile.
//
// All user networks share the default network's firewall table: the table's
// @nets/@bridges sets take one element per network, and one table means one
// place to look for published host ports (no two networks publish one port).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { run } from './exec.js';
import { formatIPv4, parseIPv4, parseSubnet, type Subnet } from './ipam.js';

export interface NetworkDefinition {
  /** 64 hex characters, like Docker's network ids. */
  id: string;
  name: string;
  driver: 'bridge';
  bridge: string;
  subnet: string;
  gateway: string;
  /** Firewall table (shared with the default network). */
  table: string;
  labels: Record<string, string>;
  created: string;
  /** The creating root's copy (restored from after a reboot; removed with the network, by whichever root removes it). */
  copy?: string;
}

/** Names that mean something else to --network. */
export const RESERVED_NETWORK_NAMES = new Set(['bridge', 'host', 'none', 'default', 'tsrun']);

/** The first subnet automatic choice tries, and how far it goes: 10.89.0.0/24 up to 10.127.255.0/24. */
// The range of automatic subnets, 10.89.0.0/24 to 10.127.255.0/24 (numbers, not parsed at every start).
const AUTO_FIRST = (10 << 24) + (89 << 16);
const AUTO_LAST = (10 << 24) + (127 << 16) + (255 << 8);

export function networkStateBase(): string {
  return process.env.TSRUN_NETWORK_STATE ?? '/run/tsrun-networks';
}

function defsDir(): string {
  return join(networkStateBase(), 'defs');
}

export function validateNetworkName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(name))
    throw new UsageError(`invalid network name "${name}": 1-64 letters, digits, '_', '.', '-', starting with a letter or digit`);
  if (RESERVED_NETWORK_NAMES.has(name)) throw new UsageError(`network name "${name}" is reserved: choose another name`);
}

/** A bridge name of at most 15 bytes, stable for the network: "tsrun-" + 9 hex of its id. */
export function bridgeNameFor(id: string): string {
  return `tsrun-${id.slice(0, 9)}`;
}

/** An address range (a route, an interface address, a subnet) as network number and prefix length. */
export interface AddressRange {
  network: number;
  prefixLength: number;
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  const mask = maskOf(Math.min(a.prefixLength, b.prefixLength));
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

/** "10.1.0.0/16", "10.1.2.3" (a /32), or undefined for anything else ("default", IPv6). */
export function parseRange(text: string): AddressRange | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(text.trim());
  if (!m) return undefined;
  let addr: number;
  try {
    addr = parseIPv4(m[1]!);
  } catch {
    return undefined;
  }
  const prefixLength = m[2] === undefined ? 32 : Number(m[2]);
  if (prefixLength > 32) return undefined;
  return { network: (addr & maskOf(prefixLength)) >>> 0, prefixLength };
}

/**
 * The first /24 from 10.89.0.0 upward that overlaps nothing in `taken` (other
 * networks' subnets, the host's routes and addresses). Pure, for unit tests.
 */
export function chooseSubnet(taken: AddressRange[]): Subnet {
  for (let n = AUTO_FIRST; n <= AUTO_LAST; n += 256) {
    const candidate = { network: n, prefixLength: 24 };
    // A default route (0.0.0.0/0) overlaps everything and is not a reason to skip: callers leave it out.
    if (!taken.some((t) => rangesOverlap(t, candidate))) return parseSubnet(`${formatIPv4(n)}/24`);
  }
  throw new ConflictError('no free subnet left between 10.89.0.0/24 and 10.127.255.0/24: remove unused networks or pass --subnet');
}

/** The host's IPv4 routes (every table) and interface addresses, without default routes. */
export async function hostRanges(): Promise<AddressRange[]> {
  const out: AddressRange[] = [];
  const routes = JSON.parse((await run(['ip', '-j', '-4', 'route', 'show', 'table', 'all'], { step: 'registry' })).stdout || '[]') as { dst?: string; type?: string }[];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || r.type === 'broadcast') continue;
    const range = parseRange(r.dst);
    // Local-table entries like 127.0.0.0/8 are routes too; a /0 would block everything and is a default route by another name.
    if (range && range.prefixLength > 0) out.push(range);
  }
  const addrs = JSON.parse((await run(['ip', '-j', '-4', 'addr', 'show'], { step: 'registry' })).stdout || '[]') as {
    addr_info?: { local?: string; prefixlen?: number }[];
  }[];
  for (const link of addrs)
    for (const a of link.addr_info ?? []) {
      const range = a.local ? parseRange(`${a.local}/${a.prefixlen ?? 32}`) : undefined;
      if (range) out.push(range);
    }
  return out;
}

export interface CreateNetworkRequest {
  name: string;
  subnet?: string;
  gateway?: string;
  driver?: string;
  labels?: Record<string, string>;
}

/**
 * The host-wide definitions plus this root's copies. `rootDir` is
 * <root>/network; `table` the firewall table the networks go into.
 */
export class NetworkRegistry {
  constructor(
    private readonly rootDir: string,
    private readonly table: string,
    /** Address ranges in use besides other networks (the default network's subnet, host routes). */
    private readonly inUse: () => Promise<AddressRange[]> = hostRanges,
  ) {}

  private copiesDir(): string {
    return join(this.rootDir, 'networks');
  }

  private async locked<T>(fn: () => Promise<T> | T): Promise<T> {
    ensureDir(defsDir());
    const lock = await FileLock.acquire(join(defsDir(), '.lock'));
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  private readDir(dir: string): NetworkDefinition[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
      .flatMap((n) => {
        try {
          return [JSON.parse(readFileSync(join(dir, n), 'utf8')) as NetworkDefinition];
        } catch {
          return []; // a half-written file cannot exist (atomic writes); anything else unreadable is not ours
        }
      });
  }

  /** Every network on the host, by name; this root's copies missing host-wide (after a reboot) are registered again. */
  async list(): Promise<NetworkDefinition[]> {
    const hostWide = this.readDir(defsDir());
    const missing = this.readDir(this.copiesDir()).filter((c) => !hostWide.some((h) => h.name === c.name));
    if (missing.length > 0) {
      await this.locked(() => {
        const now = this.readDir(defsDir());
        for (const copy of missing) {
          const clash = now.find((h) => h.name === copy.name || h.bridge === copy.bridge || rangesOverlap(parseSubnet(h.subnet), parseSubnet(copy.subnet)));
          if (clash) continue; // taken meanwhile by another root: this copy stays dormant
          writeJsonAtomic(join(defsDir(), `${copy.name}.json`), copy);
          now.push(copy);
        }
      });
    }
    return this.readDir(defsDir()).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A network by name, full id or unique id prefix; undefined when none matches. */
  async find(ref: string): Promise<NetworkDefinition | undefined> {
    const all = await this.list();
    const exact = all.find((n) => n.name === ref || n.id === ref);
    if (exact) return exact;
    if (!/^[0-9a-f]{1,64}$/.test(ref)) return undefined;
    const byPrefix = all.filter((n) => n.id.startsWith(ref));
    if (byPrefix.length > 1) throw new ConflictError(`network id prefix "${ref}" is ambiguous: it matches ${byPrefix.map((n) => n.name).join(', ')}`);
    return byPrefix[0];
  }

  async get(ref: string): Promise<NetworkDefinition> {
    const def = await this.find(ref);
    if (!def) throw new NotFoundError('network', ref);
    return def;
  }

  async create(req: CreateNetworkRequest): Promise<NetworkDefinition> {
    validateNetworkName(req.name);
    if (req.driver !== undefined && req.driver !== 'bridge') throw new UsageError(`network driver "${req.driver}" is not supported: tsrun networks use the bridge driver`);
    const labels = req.labels ?? {};
    const wanted = req.subnet !== undefined ? parseSubnet(req.subnet) : undefined;
    if (req.gateway !== undefined) {
      if (!wanted) throw new UsageError('--gateway needs --subnet');
      if (parseIPv4(req.gateway) !== parseIPv4(wanted.gateway))
        throw new UsageError(`--gateway ${req.gateway} is not supported: the gateway of a tsrun network is the first address of its subnet (${wanted.gateway})`);
    }
    const hostTaken = await this.inUse();
    await this.list(); // restore this root's copies first, so a new network cannot take their place
    return this.locked(() => {
      const defs = this.readDir(defsDir());
      if (defs.some((d) => d.name === req.name)) throw new ConflictError(`network with name ${req.name} already exists`);
      const netRanges = defs.map((d) => parseSubnet(d.subnet));
      let subnet: Subnet;
      if (wanted) {
        const other = defs.find((d) => rangesOverlap(parseSubnet(d.subnet), wanted));
        if (other) throw new ConflictError(`subnet ${wanted.cidr} overlaps network ${other.name} (${other.subnet})`);
        if (hostTaken.some((t) => rangesOverlap(t, wanted))) throw new ConflictError(`subnet ${wanted.cidr} overlaps an address or route of this host`);
        subnet = wanted;
      } else subnet = chooseSubnet([...netRanges, ...hostTaken]);
      let id = randomBytes(32).toString('hex');
      while (defs.some((d) => d.bridge === bridgeNameFor(id))) id = randomBytes(32).toString('hex');
      const def: NetworkDefinition = {
        id,
        name: req.name,
        driver: 'bridge',
        bridge: bridgeNameFor(id),
        subnet: subnet.cidr,
        gateway: subnet.gateway,
        table: this.table,
        labels,
        created: new Date().toISOString(),
        copy: join(this.copiesDir(), `${req.name}.json`),
      };
      ensureDir(this.copiesDir());
      writeJsonAtomic(def.copy!, def);
      writeJsonAtomic(join(defsDir(), `${def.name}.json`), def);
      return def;
    });
  }

  /** Forget the definition (host-wide and this root's copy); the caller has taken the host side down. */
  async remove(def: NetworkDefinition): Promise<void> {
    await this.locked(() => {
      rmSync(join(defsDir(), `${def.name}.json`), { force: true });
      for (const copy of [def.copy, join(this.copiesDir(), `${def.name}.json`)]) {
        if (!copy || !existsSync(copy)) continue;
        try {
          if ((JSON.parse(readFileSync(copy, 'utf8')) as NetworkDefinition).id !== def.id) continue; // a later network of the same name
        } catch {
          continue;
        }
        rmSync(copy, { force: true });
      }
    });
  }
}
