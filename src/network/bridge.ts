// The Linux bridge a network's containers hang off, and the veth pair that
// connects one network namespace to it. All through iproute2 batches (one
// process per side) to keep a container start cheap.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkError } from '../errors.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';
import { FileLock } from '../util/lock.js';
import { CommandFailed, run } from './exec.js';
import type { Subnet } from './ipam.js';
import { runInNetns } from './netns.js';

/** Marks our host-side veths (ifalias), so repair can tell them and their owner apart from anyone else's. */
export const VETH_ALIAS_PREFIX = 'tsrun:';

/** Interface names are at most 15 bytes: 'tsv' + 12 hex of the owner id's hash, stable so teardown can find it again. */
export function vethName(id: string): string {
  return `tsv${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

export function validateBridgeName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new NetworkError(`invalid bridge name "${name}": 1-15 letters, digits, '_', '.', '-'`, 'bridge');
}

interface IpAddrInfo {
  ifname: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

async function linkInfo(name: string): Promise<IpAddrInfo | undefined> {
  try {
    const { stdout } = await run(['ip', '-j', 'addr', 'show', 'dev', name], { step: 'bridge' });
    return (JSON.parse(stdout) as IpAddrInfo[])[0];
  } catch (err) {
    if (err instanceof CommandFailed && /does not exist/.test(err.stderr)) return undefined;
    throw err;
  }
}

/**
 * Make sure bridge `name` exists, carries the gateway address of `subnet` and
 * is up; idempotent and serialised by a lock in `lockDir`. Also sets the
 * sysctls the bridge needs (see enableForwarding and route_localnet below).
 */
export async function ensureBridge(name: string, subnet: Subnet, opts: { lockDir: string; stateDir: string }): Promise<void> {
  validateBridgeName(name);
  ensureDir(opts.lockDir);
  const lock = await FileLock.acquire(join(opts.lockDir, `bridge-${name}.lock`));
  try {
    const info = await linkInfo(name);
    const gatewayCidr = `${subnet.gateway}/${subnet.prefixLength}`;
    const hasAddr = info?.addr_info?.some((a) => a.family === 'inet' && a.local === subnet.gateway && a.prefixlen === subnet.prefixLength);
    const isUp = info?.flags?.includes('UP');
    const batch: string[] = [];
    if (!info) batch.push(`link add name ${name} type bridge`);
    if (!hasAddr) batch.push(`addr add ${gatewayCidr} dev ${name}`);
    if (!isUp) batch.push(`link set ${name} up`);
    if (batch.length > 0) {
      try {
        await run(['ip', '-batch', '-'], { input: batch.join('\n') + '\n', step: 'bridge' });
      } catch (err) {
        throw new NetworkError(`cannot set up bridge ${name} with ${gatewayCidr}`, 'bridge', { cause: err });
      }
    }
    // Published ports must answer on 127.0.0.1: the DNATed packet leaves through the
    // bridge with a loopback source, which the kernel drops as martian unless
    // route_localnet is on for that interface (and the firewall masquerades it).
    writeSysctl(`net/ipv4/conf/${name}/route_localnet`, '1');
    enableForwarding(name, opts.stateDir);
  } finally {
    lock.release();
  }
}

/** Delete the bridge (its ports go with it) and restore ip_forward when we were the ones who turned it on. */
export async function removeBridge(name: string, opts: { stateDir: string }): Promise<void> {
  validateBridgeName(name);
  try {
    await run(['ip', 'link', 'del', name], { step: 'bridge' });
  } catch (err) {
    if (!(err instanceof CommandFailed && /Cannot find device/.test(err.stderr))) throw err;
  }
  releaseForwarding(name, opts.stateDir);
}

export async function bridgeExists(name: string): Promise<boolean> {
  return (await linkInfo(name)) !== undefined;
}

/** Names of the interfaces enslaved to `bridge`. */
export async function bridgePorts(bridge: string): Promise<string[]> {
  try {
    const { stdout } = await run(['ip', '-j', 'link', 'show', 'master', bridge], { step: 'bridge' });
    return (JSON.parse(stdout || '[]') as { ifname: string }[]).map((l) => l.ifname);
  } catch (err) {
    if (err instanceof CommandFailed && /does not exist|Cannot find device/.test(err.stderr)) return [];
    throw err;
  }
}

export interface VethOptions {
  id: string;
  bridge: string;
  netnsPath: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  /** Interface name inside the namespace (default eth0). */
  ifname?: string;
  /** Route the namespace's default traffic through this network's gateway (default true; false for a second network). */
  defaultRoute?: boolean;
}

/**
 * Create the veth pair: host end on the bridge (alias tsrun:<id>), the peer
 * created directly inside the namespace, given the leased address and a
 * default route through the gateway. A leftover pair of the same name (a
 * setup killed half-way) is replaced.
 */
export async function attachVeth(opts: VethOptions): Promise<{ hostIfname: string; mac: string }> {
  const host = vethName(opts.id);
  const ifname = opts.ifname ?? 'eth0';
  const hostBatch = [
    `link add ${host} type veth peer name ${ifname} netns ${opts.netnsPath}`,
    `link set dev ${host} alias ${VETH_ALIAS_PREFIX}${opts.id}`,
    `link set ${host} master ${opts.bridge}`,
    `link set ${host} up`,
  ].join('\n') + '\n';
  try {
    await run(['ip', '-batch', '-'], { input: hostBatch, step: 'veth' });
  } catch (err) {
    if (!(err instanceof CommandFailed && /File exists/.test(err.stderr))) throw new NetworkError(`cannot create veth ${host} for ${opts.id}`, 'veth', { cause: err });
    await detachVeth(opts.id);
    await run(['ip', '-batch', '-'], { input: hostBatch, step: 'veth' });
  }
  const nsBatch = [
    `addr add ${opts.ip}/${opts.prefixLength} dev ${ifname}`,
    `link set ${ifname} up`,
    ...(opts.defaultRoute === false ? [] : [`route add default via ${opts.gateway} dev ${ifname}`]),
  ].join('\n') + '\n';
  try {
    await runInNetns(opts.netnsPath, ['ip', '-batch', '-'], { input: nsBatch, step: 'veth' });
    const { stdout } = await runInNetns(opts.netnsPath, ['ip', '-j', 'link', 'show', 'dev', ifname], { step: 'veth' });
    const mac = (JSON.parse(stdout) as { address: string }[])[0]?.address ?? '';
    return { hostIfname: host, mac };
  } catch (err) {
    await detachVeth(opts.id).catch(() => {});
    throw new NetworkError(`cannot configure ${ifname} with ${opts.ip}/${opts.prefixLength} in ${opts.netnsPath}`, 'veth', { cause: err });
  }
}

/** Delete the host end (the kernel deletes the peer with it); no error when it is already gone. */
export async function detachVeth(id: string): Promise<void> {
  await deleteLink(vethName(id));
}

export async function deleteLink(name: string): Promise<void> {
  try {
    await run(['ip', 'link', 'del', name], { step: 'veth' });
  } catch (err) {
    if (err instanceof CommandFailed && /Cannot find device/.test(err.stderr)) return;
    throw err;
  }
}

/** Our host-side veths, with the owner id read back from their alias. */
export async function listVeths(): Promise<{ ifname: string; id: string; master?: string }[]> {
  const { stdout } = await run(['ip', '-j', '-d', 'link', 'show', 'type', 'veth'], { step: 'veth' });
  const links = JSON.parse(stdout || '[]') as { ifname: string; ifalias?: string; master?: string }[];
  return links
    .filter((l) => l.ifalias?.startsWith(VETH_ALIAS_PREFIX))
    .map((l) => ({ ifname: l.ifname, id: l.ifalias!.slice(VETH_ALIAS_PREFIX.length), ...(l.master ? { master: l.master } : {}) }));
}

function writeSysctl(key: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/${key}`, value);
  } catch (err) {
    throw new NetworkError(`cannot set sysctl ${key.replace(/\//g, '.')}=${value}`, 'sysctl', { cause: err });
  }
}

function readSysctl(key: string): string {
  return readFileSync(`/proc/sys/${key}`, 'utf8').trim();
}

interface ForwardingRecord {
  /** ip_forward before we changed it. */
  previous: string;
  changedAt: string;
  /** Bridges that need forwarding; the last one removed restores `previous`. */
  bridges: string[];
}

function forwardingRecordPath(stateDir: string): string {
  return join(stateDir, 'ip_forward.json');
}

/**
 * Containers reach beyond the host (and other hosts reach published ports)
 * only with IPv4 forwarding on. Turn it on if it is off, and record that we
 * did, so removing the last bridge can put the host back as it was.
 */
function enableForwarding(bridge: string, stateDir: string): void {
  const path = forwardingRecordPath(stateDir);
  const record = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ForwardingRecord) : undefined;
  const current = readSysctl('net/ipv4/ip_forward');
  if (record) {
    if (!record.bridges.includes(bridge)) writeJsonAtomic(path, { ...record, bridges: [...record.bridges, bridge] });
    if (current !== '1') writeSysctl('net/ipv4/ip_forward', '1');
    return;
  }
  if (current === '1') return; // already on, and not our doing: never touch it
  ensureDir(stateDir);
  writeJsonAtomic(path, { previous: current, changedAt: new Date().toISOString(), bridges: [bridge] } satisfies ForwardingRecord);
  writeSysctl('net/ipv4/ip_forward', '1');
}

function releaseForwarding(bridge: string, stateDir: string): void {
  const path = forwardingRecordPath(stateDir);
  if (!existsSync(path)) return;
  const record = JSON.parse(readFileSync(path, 'utf8')) as ForwardingRecord;
  const bridges = record.bridges.filter((b) => b !== bridge);
  if (bridges.length > 0) {
    writeJsonAtomic(path, { ...record, bridges });
    return;
  }
  writeSysctl('net/ipv4/ip_forward', record.previous);
  rmSync(path, { force: true });
}
