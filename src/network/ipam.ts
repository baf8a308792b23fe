// IPv4 address management: subnet parsing and a lease file per network.
// Leases live in one JSON file under a directory the caller owns; every change
// happens under a flock so concurrent `tsrun run`s never hand out one address
// twice, and a kill -9 never leaves the lock held.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkError, UsageError } from '../errors.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';

export interface Subnet {
  /** Canonical form, e.g. '10.88.0.0/16'. */
  readonly cidr: string;
  /** Network address as an unsigned 32-bit integer. */
  readonly network: number;
  readonly prefixLength: number;
  /** The bridge's address: the first address of the subnet. */
  readonly gateway: string;
  /** First and last addresses a container may get (gateway and broadcast excluded). */
  readonly firstHost: number;
  readonly lastHost: number;
}

export function parseIPv4(input: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(input.trim());
  if (!m) throw new UsageError(`invalid IPv4 address "${input}"`);
  let n = 0;
  for (const part of m.slice(1)) {
    const v = Number(part);
    if (v > 255 || (part.length > 1 && part.startsWith('0'))) throw new UsageError(`invalid IPv4 address "${input}": octet ${part} out of range`);
    n = n * 256 + v;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/**
 * Parse 'a.b.c.d/n'. Host bits must be zero (a typo like 10.88.0.1/16 is
 * refused rather than silently widened), and the prefix must leave room for a
 * gateway and at least one container (8..30).
 */
export function parseSubnet(input: string): Subnet {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(input.trim());
  if (!m) throw new UsageError(`invalid subnet "${input}": expected CIDR notation such as 10.88.0.0/16`);
  const addr = parseIPv4(m[1]!);
  const prefixLength = Number(m[2]);
  if (prefixLength < 8 || prefixLength > 30) throw new UsageError(`invalid subnet "${input}": prefix length must be between 8 and 30`);
  const mask = maskOf(prefixLength);
  const network = (addr & mask) >>> 0;
  if (network !== addr) throw new UsageError(`invalid subnet "${input}": host bits are set (did you mean ${formatIPv4(network)}/${prefixLength}?)`);
  const broadcast = (network | ~mask) >>> 0;
  return {
    cidr: `${formatIPv4(network)}/${prefixLength}`,
    network,
    prefixLength,
    gateway: formatIPv4(network + 1),
    firstHost: network + 2,
    lastHost: broadcast - 1,
  };
}

export function subnetContains(subnet: Subnet, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : parseIPv4(ip);
  return ((n & maskOf(subnet.prefixLength)) >>> 0) === subnet.network;
}

export function subnetsOverlap(a: Subnet, b: Subnet): boolean {
  const shorter = a.prefixLength <= b.prefixLength ? a : b;
  const other = shorter === a ? b : a;
  return subnetContains(shorter, other.network);
}

export interface Lease {
  ip: string;
  owner: string;
  allocatedAt: string;
}

interface LeaseFile {
  version: 1;
  subnet: string;
  /** The last address handed out: allocation continues after it, so a just-released address is not reused at once. */
  last?: string;
  leases: Record<string, { owner: string; allocatedAt: string }>;
}

/** The leases of one subnet, in <dir>/leases.json, locked by <dir>/leases.lock. */
export class Ipam {
  readonly subnet: Subnet;
  private readonly file: string;
  private readonly lockPath: string;

  constructor(readonly dir: string, subnet: Subnet | string) {
    this.subnet = typeof subnet === 'string' ? parseSubnet(subnet) : subnet;
    this.file = join(dir, 'leases.json');
    this.lockPath = join(dir, 'leases.lock');
  }

  /**
   * A free address for `owner`. Idempotent: an owner that already holds a lease
   * gets it back. `requested` asks for one address (--ip); ConflictError-like
   * NetworkError when it is taken or outside the subnet.
   */
  async allocate(owner: string, requested?: string): Promise<Lease> {
    return this.locked((data) => {
      const existing = Object.entries(data.leases).find(([, l]) => l.owner === owner);
      if (existing) return { ip: existing[0], ...existing[1] };
      let ip: number;
      if (requested !== undefined) {
        ip = parseIPv4(requested);
        if (ip < this.subnet.firstHost || ip > this.subnet.lastHost)
          throw new UsageError(`address ${requested} is not a usable address of subnet ${this.subnet.cidr}`);
        if (data.leases[formatIPv4(ip)]) throw new NetworkError(`address ${requested} is already in use by ${data.leases[formatIPv4(ip)]!.owner}`, 'ipam');
      } else {
        ip = this.nextFree(data);
      }
      const lease = { owner, allocatedAt: new Date().toISOString() };
      data.leases[formatIPv4(ip)] = lease;
      data.last = formatIPv4(ip);
      return { ip: formatIPv4(ip), ...lease };
    });
  }

  /** Drop the lease of `owner`; false when it had none. */
  async release(owner: string): Promise<boolean> {
    const gone = await this.releaseWhere((l) => l.owner === owner);
    return gone.length > 0;
  }

  /** Drop every lease matching `pred` (repair of leftovers); returns what was dropped. */
  async releaseWhere(pred: (lease: Lease) => boolean): Promise<Lease[]> {
    if (!existsSync(this.file)) return [];
    return this.locked((data) => {
      const dropped: Lease[] = [];
      for (const [ip, l] of Object.entries(data.leases)) {
        const lease = { ip, ...l };
        if (pred(lease)) {
          dropped.push(lease);
          delete data.leases[ip];
        }
      }
      return dropped;
    });
  }

  /** A snapshot of the leases (the file is replaced atomically, so no lock is needed to read it). */
  leases(): Lease[] {
    const data = this.read();
    return Object.entries(data.leases).map(([ip, l]) => ({ ip, ...l }));
  }

  leaseOf(owner: string): Lease | undefined {
    return this.leases().find((l) => l.owner === owner);
  }

  private nextFree(data: LeaseFile): number {
    const { firstHost, lastHost } = this.subnet;
    const total = lastHost - firstHost + 1;
    const last = data.last !== undefined ? parseIPv4(data.last) : lastHost;
    const start = last >= firstHost && last <= lastHost ? last - firstHost + 1 : 0;
    for (let i = 0; i < total; i++) {
      const candidate = firstHost + ((start + i) % total);
      if (!data.leases[formatIPv4(candidate)]) return candidate;
    }
    throw new NetworkError(`no free address left in subnet ${this.subnet.cidr} (${total} leases in use)`, 'ipam');
  }

  private read(): LeaseFile {
    if (!existsSync(this.file)) return { version: 1, subnet: this.subnet.cidr, leases: {} };
    let data: LeaseFile;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8')) as LeaseFile;
    } catch (err) {
      throw new NetworkError(`corrupt lease file ${this.file}`, 'ipam', { cause: err });
    }
    if (typeof data !== 'object' || data === null || typeof data.leases !== 'object') throw new NetworkError(`corrupt lease file ${this.file}: no leases object`, 'ipam');
    return data;
  }

  private async locked<T>(change: (data: LeaseFile) => T): Promise<T> {
    ensureDir(this.dir);
    const lock = await FileLock.acquire(this.lockPath, { pollMs: 5 });
    try {
      const data = this.read();
      if (data.subnet !== this.subnet.cidr) {
        // A network whose subnet changed may only move once it holds no leases.
        if (Object.keys(data.leases).length > 0)
          throw new NetworkError(`lease file ${this.file} belongs to subnet ${data.subnet}, not ${this.subnet.cidr}, and still holds leases`, 'ipam');
        data.subnet = this.subnet.cidr;
        delete data.last;
      }
      const before = JSON.stringify(data);
      const result = change(data);
      if (JSON.stringify(data) !== before) writeJsonAtomic(this.file, data);
      return result;
    } finally {
      lock.release();
    }
  }
}
