// Docker's -p / -P syntax, turned into one PortMapping per port (pure).
//   -p [hostIp:][hostPort[-end]:]containerPort[-end][/tcp|udp]
//   -P publishes every EXPOSEd port (image ExposedPorts, --expose) not already
//      published with -p, on a free host port chosen at setup.
import { UsageError } from '../errors.js';
import type { PortMapping, Protocol } from './firewall.js';
import { formatIPv4, parseIPv4 } from './ipam.js';

export interface PortSpecMapping extends PortMapping {
  /** `-p 8000-8010:80`: any free host port in [hostPort, hostPortEnd]. */
  hostPortEnd?: number;
}

interface Range {
  start: number;
  end: number;
}

function parsePort(s: string, spec: string, what: string): number {
  if (!/^\d+$/.test(s)) throw new UsageError(`invalid ${what} "${s}" in port mapping "${spec}"`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw new UsageError(`invalid ${what} ${s} in port mapping "${spec}": ports are 1-65535`);
  return n;
}

function parseRange(s: string, spec: string, what: string): Range {
  const dash = s.indexOf('-');
  if (dash < 0) {
    const p = parsePort(s, spec, what);
    return { start: p, end: p };
  }
  const start = parsePort(s.slice(0, dash), spec, what);
  const end = parsePort(s.slice(dash + 1), spec, what);
  if (end < start) throw new UsageError(`invalid ${what} range "${s}" in port mapping "${spec}": end before start`);
  return { start, end };
}

function parseProtocol(s: string | undefined, spec: string): Protocol {
  const p = (s ?? 'tcp').toLowerCase();
  if (p === 'tcp' || p === 'udp') return p;
  throw new UsageError(`unsupported protocol "${s}" in port mapping "${spec}": use tcp or udp`);
}

function parseHostIp(s: string, spec: string): string {
  if (s === '' ) return '';
  if (s.startsWith('[') || s.includes(':')) throw new UsageError(`IPv6 host address in port mapping "${spec}" is not supported yet`);
  let n: number;
  try {
    n = parseIPv4(s);
  } catch (err) {
    throw new UsageError(`invalid host IP "${s}" in port mapping "${spec}"`, { cause: err });
  }
  return n === 0 ? '' : formatIPv4(n);
}

/** One -p value, expanded to one mapping per port. */
export function parsePortSpec(spec: string): PortSpecMapping[] {
  const slash = spec.lastIndexOf('/');
  const body = slash >= 0 ? spec.slice(0, slash) : spec;
  const protocol = parseProtocol(slash >= 0 ? spec.slice(slash + 1) : undefined, spec);
  if (body.startsWith('[')) throw new UsageError(`IPv6 host address in port mapping "${spec}" is not supported yet`);
  const parts = body.split(':');
  if (parts.length > 3 || body === '') throw new UsageError(`invalid port mapping "${spec}": expected [ip:][hostPort:]containerPort[/protocol]`);
  const containerPart = parts[parts.length - 1]!;
  const hostPart = parts.length >= 2 ? parts[parts.length - 2]! : '';
  const hostIp = parts.length === 3 ? parseHostIp(parts[0]!, spec) : '';
  const container = parseRange(containerPart, spec, 'container port');
  const count = container.end - container.start + 1;
  if (hostPart === '') {
    return Array.from({ length: count }, (_, i) => ({ hostIp, hostPort: 0, containerPort: container.start + i, protocol }));
  }
  const host = parseRange(hostPart, spec, 'host port');
  const hostCount = host.end - host.start + 1;
  if (count === 1 && hostCount > 1) {
    return [{ hostIp, hostPort: host.start, hostPortEnd: host.end, containerPort: container.start, protocol }];
  }
  if (hostCount !== count)
    throw new UsageError(`invalid port mapping "${spec}": host range has ${hostCount} ports but container range has ${count}`);
  return Array.from({ length: count }, (_, i) => ({ hostIp, hostPort: host.start + i, containerPort: container.start + i, protocol }));
}

/** An ExposedPorts key or --expose value: '80', '80/udp', '8000-8002/tcp'. */
export function parseExposed(spec: string): { port: number; protocol: Protocol }[] {
  const slash = spec.lastIndexOf('/');
  const protocol = parseProtocol(slash >= 0 ? spec.slice(slash + 1) : undefined, spec);
  const range = parseRange(slash >= 0 ? spec.slice(0, slash) : spec, spec, 'exposed port');
  return Array.from({ length: range.end - range.start + 1 }, (_, i) => ({ port: range.start + i, protocol }));
}

/**
 * All -p values, plus (with publishAll) the exposed ports not already covered,
 * each on a host port chosen at setup. UsageError names the offending value;
 * the same host address/port/protocol published twice is refused.
 */
export function parsePortMappings(specs: string[], exposed: string[] = [], publishAll = false): PortSpecMapping[] {
  const out = specs.flatMap(parsePortSpec);
  if (publishAll) {
    for (const e of exposed.flatMap(parseExposed)) {
      if (!out.some((m) => m.containerPort === e.port && m.protocol === e.protocol))
        out.push({ hostIp: '', hostPort: 0, containerPort: e.port, protocol: e.protocol });
    }
  }
  const seen = new Map<string, string>();
  for (const m of out) {
    if (m.hostPort === 0 || m.hostPortEnd !== undefined) continue;
    const key = `${m.protocol}/${m.hostPort}`;
    const prev = seen.get(key);
    if (prev !== undefined && (prev === '' || m.hostIp === '' || prev === m.hostIp))
      throw new UsageError(`host port ${m.hostPort}/${m.protocol} is published twice`);
    seen.set(key, m.hostIp);
  }
  return out;
}

/** Docker's display form: '0.0.0.0:8080->80/tcp'. */
export function formatPortMapping(m: PortMapping): string {
  return `${m.hostIp || '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`;
}
