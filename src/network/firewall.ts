// Masquerade and published ports, in a table of our own.
//
// nftables (preferred): one table `inet <table>` holds everything, so we never
// add to, reorder or flush anyone else's rules. Its rules are fixed; what
// changes per network or per container are set and map elements:
//   @nets / @bridges   subnets to masquerade and the bridges they live on
//   @pub_any           l4proto . hostPort          -> containerIp . containerPort
//   @pub_addr          hostIp . l4proto . hostPort -> containerIp . containerPort
// Each published element carries the comment "tsrun:<owner>", so teardown and
// repair delete exactly one owner's ports, and `create element` makes a host
// port that is already published fail atomically instead of being shadowed.
//
// Published ports answer on 127.0.0.1 by kernel DNAT in the output hook, not by
// a userspace proxy: tsrun has no daemon to host a proxy, a per-container proxy
// process would be one more thing to leak on kill -9, and the kernel path keeps
// loopback throughput at full speed. It needs route_localnet=1 on the bridge
// (set by bridge.ts) and masquerading of loopback-sourced DNATed packets (below)
// so replies come back to the host.
//
// iptables (fallback, only when `nft` is missing): chains <TABLE>-DNAT and
// <TABLE>-POSTROUTING in the nat table, reached by one jump rule each from
// PREROUTING, OUTPUT and POSTROUTING; per-container rules are tagged with a
// comment and deleted by it.
import { join } from 'node:path';
import { ConflictError, NetworkError } from '../errors.js';
import { ensureDir } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { CommandFailed, commandExists, run } from './exec.js';

export type Protocol = 'tcp' | 'udp';

export interface PortMapping {
  /** Host address to listen on; '' means every host address (and 127.0.0.1). */
  hostIp: string;
  /** 0 asks for a free port chosen at setup (-P, or -p with only a container port). */
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

export interface FirewallNetwork {
  /** Our table (nft) or chain prefix (iptables), e.g. 'tsrun'. */
  table: string;
  bridge: string;
  /** CIDR, e.g. '10.88.0.0/16'. */
  subnet: string;
}

export interface PublishedEntry extends PortMapping {
  owner: string;
  containerIp: string;
}

export interface Firewall {
  readonly backend: 'nftables' | 'iptables';
  /** Our table and fixed rules exist, and `net` is masqueraded. Idempotent, serialised by a lock in lockDir. */
  ensureNetwork(net: FirewallNetwork, lockDir: string): Promise<void>;
  /** Stop masquerading `net` (its containers are gone). */
  removeNetwork(net: FirewallNetwork): Promise<void>;
  /** Publish `ports` (hostPort already chosen) to `containerIp` for `owner`, all or nothing; ConflictError when a host port is taken. */
  publish(table: string, owner: string, containerIp: string, ports: PortMapping[]): Promise<void>;
  /** Remove every port `owner` published; no error when there is none. */
  unpublish(table: string, owner: string): Promise<void>;
  listPublished(table: string): Promise<PublishedEntry[]>;
  /** Remove our whole table (tests, `system reset`). */
  deleteTable(table: string): Promise<void>;
}

const OWNER_PREFIX = 'tsrun:';

export function validateTableName(table: string): void {
  if (!/^[a-z][a-z0-9_]{0,23}$/.test(table)) throw new NetworkError(`invalid firewall table name "${table}": lower-case letters, digits and '_'`, 'firewall');
}

/** nftables when `nft` is installed, else iptables; NetworkError when neither is. */
export async function detectFirewall(): Promise<Firewall> {
  if (await commandExists('nft')) return new NftFirewall();
  if (await commandExists('iptables')) return new IptablesFirewall();
  throw new NetworkError('neither nft (Debian package nftables) nor iptables is installed: bridge networking needs one of them', 'firewall');
}

async function withLock<T>(lockDir: string, name: string, fn: () => Promise<T>): Promise<T> {
  ensureDir(lockDir);
  const lock = await FileLock.acquire(join(lockDir, name));
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

function quoteIfname(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new NetworkError(`invalid interface name "${name}"`, 'firewall');
  return `"${name}"`;
}

function ownerComment(owner: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(owner)) throw new NetworkError(`invalid owner id "${owner}" for firewall rules`, 'firewall');
  return `${OWNER_PREFIX}${owner}`;
}

export class NftFirewall implements Firewall {
  readonly backend = 'nftables' as const;

  private async nft(script: string, step = 'firewall'): Promise<void> {
    await run(['nft', '-f', '-'], { input: script, step });
  }

  async tableExists(table: string): Promise<boolean> {
    try {
      await run(['nft', 'list', 'table', 'inet', table], { step: 'firewall' });
      return true;
    } catch (err) {
      if (err instanceof CommandFailed && /No such file or directory/.test(err.stderr)) return false;
      throw err;
    }
  }

  async ensureNetwork(net: FirewallNetwork, lockDir: string): Promise<void> {
    validateTableName(net.table);
    const t = `inet ${net.table}`;
    await withLock(lockDir, `firewall-${net.table}.lock`, async () => {
      if (!(await this.tableExists(net.table))) await this.nft(tableScript(net.table));
    });
    // `add element` is idempotent, so no lock is needed for the network's own elements.
    await this.nft(`add element ${t} nets { ${net.subnet} }\nadd element ${t} bridges { ${quoteIfname(net.bridge)} }\n`);
  }

  async removeNetwork(net: FirewallNetwork): Promise<void> {
    validateTableName(net.table);
    if (!(await this.tableExists(net.table))) return;
    const t = `inet ${net.table}`;
    // `delete` of a missing element fails the whole batch: delete each on its own, tolerating absence.
    for (const line of [`delete element ${t} nets { ${net.subnet} }`, `delete element ${t} bridges { ${quoteIfname(net.bridge)} }`]) {
      try {
        await this.nft(line + '\n');
      } catch (err) {
        if (!(err instanceof CommandFailed && /No such file or directory|element does not exist/.test(err.stderr))) throw err;
      }
    }
  }

  async publish(table: string, owner: string, containerIp: string, ports: PortMapping[]): Promise<void> {
    validateTableName(table);
    if (ports.length === 0) return;
    const comment = ownerComment(owner);
    const lines = ports.map((p) => {
      if (p.hostPort === 0) throw new NetworkError(`host port for ${p.containerPort}/${p.protocol} was not chosen before publishing`, 'firewall');
      const value = `${containerIp} . ${p.containerPort}`;
      return p.hostIp === ''
        ? `create element inet ${table} pub_any { ${p.protocol} . ${p.hostPort} comment "${comment}" : ${value} }`
        : `create element inet ${table} pub_addr { ${p.hostIp} . ${p.protocol} . ${p.hostPort} comment "${comment}" : ${value} }`;
    });
    try {
      // One transaction: either every port is published or none.
      await this.nft(lines.join('\n') + '\n');
    } catch (err) {
      if (err instanceof CommandFailed && /File exists/.test(err.stderr)) {
        const taken = await this.listPublished(table);
        const clash = ports.find((p) => taken.some((e) => e.protocol === p.protocol && e.hostPort === p.hostPort && (e.hostIp === p.hostIp || e.hostIp === '' || p.hostIp === '')));
        const who = clash && taken.find((e) => e.protocol === clash.protocol && e.hostPort === clash.hostPort);
        throw new ConflictError(
          clash
            ? `host port ${clash.hostIp ? clash.hostIp + ':' : ''}${clash.hostPort}/${clash.protocol} is already published by ${who?.owner ?? 'another container'}`
            : 'a host port is already published by another container',
          { cause: err },
        );
      }
      throw err;
    }
  }

  async unpublish(table: string, owner: string): Promise<void> {
    validateTableName(table);
    if (!(await this.tableExists(table))) return;
    const mine = (await this.listPublished(table)).filter((e) => e.owner === owner);
    if (mine.length === 0) return;
    const lines = mine.map((e) =>
      e.hostIp === ''
        ? `delete element inet ${table} pub_any { ${e.protocol} . ${e.hostPort} }`
        : `delete element inet ${table} pub_addr { ${e.hostIp} . ${e.protocol} . ${e.hostPort} }`,
    );
    await this.nft(lines.join('\n') + '\n');
  }

  async listPublished(table: string): Promise<PublishedEntry[]> {
    validateTableName(table);
    const out: PublishedEntry[] = [];
    for (const map of ['pub_any', 'pub_addr'] as const) {
      let stdout: string;
      try {
        ({ stdout } = await run(['nft', '-j', 'list', 'map', 'inet', table, map], { step: 'firewall' }));
      } catch (err) {
        if (err instanceof CommandFailed && /No such file or directory/.test(err.stderr)) continue;
        throw err;
      }
      const doc = JSON.parse(stdout) as { nftables: { map?: { elem?: unknown[] } }[] };
      for (const item of doc.nftables) for (const e of item.map?.elem ?? []) out.push(parseMapElement(e, map === 'pub_addr'));
    }
    return out;
  }

  async deleteTable(table: string): Promise<void> {
    validateTableName(table);
    if (await this.tableExists(table)) await this.nft(`delete table inet ${table}\n`);
  }
}

function tableScript(table: string): string {
  return `table inet ${table} {
  map pub_any { type inet_proto . inet_service : ipv4_addr . inet_service; }
  map pub_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
  set nets { type ipv4_addr; flags interval; }
  set bridges { type ifname; }
  chain published {
    dnat ip to ip daddr . meta l4proto . th dport map @pub_addr
    dnat ip to meta l4proto . th dport map @pub_any
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    meta l4proto { tcp, udp } fib daddr type local jump published
  }
  chain output {
    type nat hook output priority -100; policy accept;
    meta l4proto { tcp, udp } fib daddr type local jump published
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr @nets oifname != @bridges masquerade
    oifname @bridges ct status dnat ip saddr 127.0.0.0/8 masquerade
    oifname @bridges ct status dnat ip saddr @nets masquerade
  }
}
`;
}

/** One element of `nft -j list map`: [{ elem: { val: { concat: [...] }, comment } } | { concat }, { concat: [ip, port] }]. */
function parseMapElement(raw: unknown, withAddr: boolean): PublishedEntry {
  const [key, value] = raw as [unknown, { concat: [string, number] }];
  let concat: unknown[];
  let comment = '';
  const k = key as { elem?: { val: { concat: unknown[] }; comment?: string }; concat?: unknown[] };
  if (k.elem) {
    concat = k.elem.val.concat;
    comment = k.elem.comment ?? '';
  } else concat = k.concat ?? [];
  const [hostIp, protocol, hostPort] = withAddr ? concat : ['', ...concat];
  return {
    owner: comment.startsWith(OWNER_PREFIX) ? comment.slice(OWNER_PREFIX.length) : '',
    hostIp: String(hostIp),
    protocol: String(protocol) as Protocol,
    hostPort: Number(hostPort),
    containerIp: String(value.concat[0]),
    containerPort: Number(value.concat[1]),
  };
}

/** Fallback for hosts without the nft tool. */
export class IptablesFirewall implements Firewall {
  readonly backend = 'iptables' as const;

  private ipt(args: string[]) {
    return run(['iptables', '-w', '-t', 'nat', ...args], { step: 'firewall' });
  }

  private async has(args: string[]): Promise<boolean> {
    try {
      await this.ipt(['-C', ...args]);
      return true;
    } catch (err) {
      if (err instanceof CommandFailed) return false;
      throw err;
    }
  }

  private async ensureRule(chain: string, rule: string[]): Promise<void> {
    if (!(await this.has([chain, ...rule]))) await this.ipt(['-A', chain, ...rule]);
  }

  private chains(table: string) {
    validateTableName(table);
    const p = table.toUpperCase();
    return { dnat: `${p}-DNAT`, post: `${p}-POSTROUTING` };
  }

  async ensureNetwork(net: FirewallNetwork, lockDir: string): Promise<void> {
    const c = this.chains(net.table);
    await withLock(lockDir, `firewall-${net.table}.lock`, async () => {
      for (const chain of [c.dnat, c.post]) {
        try {
          await this.ipt(['-N', chain]);
        } catch (err) {
          if (!(err instanceof CommandFailed && /exists/.test(err.stderr))) throw err;
        }
      }
      const local = ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat];
      await this.ensureRule('PREROUTING', local);
      await this.ensureRule('OUTPUT', local);
      await this.ensureRule('POSTROUTING', ['-j', c.post]);
      const b = net.bridge;
      await this.ensureRule(c.post, ['-s', net.subnet, '!', '-o', b, '-j', 'MASQUERADE']);
      await this.ensureRule(c.post, ['-o', b, '-s', '127.0.0.0/8', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE']);
      await this.ensureRule(c.post, ['-o', b, '-s', net.subnet, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE']);
    });
  }

  async removeNetwork(net: FirewallNetwork): Promise<void> {
    const c = this.chains(net.table);
    for (const rule of [
      ['-s', net.subnet, '!', '-o', net.bridge, '-j', 'MASQUERADE'],
      ['-o', net.bridge, '-s', '127.0.0.0/8', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE'],
      ['-o', net.bridge, '-s', net.subnet, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE'],
    ])
      while (await this.has([c.post, ...rule])) await this.ipt(['-D', c.post, ...rule]);
  }

  private portRule(owner: string, containerIp: string, p: PortMapping): string[] {
    return [
      '-p', p.protocol, ...(p.hostIp ? ['-d', p.hostIp] : []), '--dport', String(p.hostPort),
      '-m', 'comment', '--comment', ownerComment(owner),
      '-j', 'DNAT', '--to-destination', `${containerIp}:${p.containerPort}`,
    ];
  }

  async publish(table: string, owner: string, containerIp: string, ports: PortMapping[]): Promise<void> {
    const c = this.chains(table);
    const taken = await this.listPublished(table);
    for (const p of ports) {
      const who = taken.find((e) => e.protocol === p.protocol && e.hostPort === p.hostPort && (e.hostIp === p.hostIp || e.hostIp === '' || p.hostIp === ''));
      if (who) throw new ConflictError(`host port ${p.hostIp ? p.hostIp + ':' : ''}${p.hostPort}/${p.protocol} is already published by ${who.owner || 'another container'}`);
    }
    // Address-specific rules go first so they win over a wildcard one.
    const ordered = [...ports.filter((p) => p.hostIp), ...ports.filter((p) => !p.hostIp)];
    try {
      for (const p of ordered) await this.ipt([p.hostIp ? '-I' : '-A', c.dnat, ...this.portRule(owner, containerIp, p)]);
    } catch (err) {
      await this.unpublish(table, owner).catch(() => {});
      throw err;
    }
  }

  async unpublish(table: string, owner: string): Promise<void> {
    const c = this.chains(table);
    const comment = ownerComment(owner);
    let rules: string;
    try {
      rules = (await this.ipt(['-S', c.dnat])).stdout;
    } catch {
      return;
    }
    for (const line of rules.split('\n')) {
      if (!line.startsWith(`-A ${c.dnat} `) || !line.includes(`--comment ${comment} `) && !line.includes(`--comment "${comment}" `)) continue;
      await this.ipt(['-D', ...splitRule(line.slice(3))]);
    }
  }

  async listPublished(table: string): Promise<PublishedEntry[]> {
    const c = this.chains(table);
    let rules: string;
    try {
      rules = (await this.ipt(['-S', c.dnat])).stdout;
    } catch {
      return [];
    }
    const out: PublishedEntry[] = [];
    for (const line of rules.split('\n')) {
      if (!line.startsWith(`-A ${c.dnat} `)) continue;
      const a = splitRule(line);
      const opt = (name: string) => {
        const i = a.indexOf(name);
        return i >= 0 ? a[i + 1] : undefined;
      };
      const to = opt('--to-destination') ?? '';
      const comment = opt('--comment') ?? '';
      out.push({
        owner: comment.startsWith(OWNER_PREFIX) ? comment.slice(OWNER_PREFIX.length) : '',
        hostIp: (opt('-d') ?? '').replace(/\/32$/, ''),
        protocol: (opt('-p') ?? 'tcp') as Protocol,
        hostPort: Number(opt('--dport')),
        containerIp: to.split(':')[0] ?? '',
        containerPort: Number(to.split(':')[1]),
      });
    }
    return out;
  }

  async deleteTable(table: string): Promise<void> {
    const c = this.chains(table);
    const local = ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat];
    for (const [chain, rule] of [['PREROUTING', local], ['OUTPUT', local], ['POSTROUTING', ['-j', c.post]]] as const)
      while (await this.has([chain, ...rule])) await this.ipt(['-D', chain, ...rule]);
    for (const chain of [c.dnat, c.post]) {
      await this.ipt(['-F', chain]).catch(() => {});
      await this.ipt(['-X', chain]).catch(() => {});
    }
  }
}

/** Split an `iptables -S` line into arguments (comments may be double-quoted). */
function splitRule(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}
