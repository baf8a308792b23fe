// rkt's pod-wide /etc/resolv.conf and /etc/hosts (rkt's networking/dns.md),
// from `run`/`prepare`'s --dns, --dns-search, --dns-opt, --dns-domain and
// --hosts-entry. Pure: parsing, rkt's checks, and the files' text.
//
// resolv.conf:
//   default  no flag: the engine's (the host's name servers, a stub resolver
//            replaced by its upstreams), as a network's DNS would give
//   stage0   --dns IP / --dns-search / --dns-opt / --dns-domain: a file written
//            for the pod ("search", "nameserver", "options", "domain" lines)
//   host     --dns=host: the host's /etc/resolv.conf, bind-mounted read-only
//   none     --dns=none: no DNS from the network; the image's own file stays
// hosts:
//   default  no flag: the engine's (localhost, the pod's hostname and address)
//   stage0   --hosts-entry IP=HOST[,IP=HOST]: rkt's defaults plus the entries, one line per IP
//   host     --hosts-entry=host: the host's /etc/hosts, bind-mounted read-only
import { isIP } from 'node:net';
import { UsageError } from '../../errors.js';

export interface RktDnsFlags {
  dns: string[];
  dnsSearch: string[];
  dnsOpt: string[];
  dnsDomain?: string;
  hostsEntries: string[];
}

export interface RktDnsConfig {
  resolv: 'default' | 'stage0' | 'host' | 'none';
  hosts: 'default' | 'stage0' | 'host';
  nameservers: string[];
  search: string[];
  options: string[];
  domain?: string;
  /** IP -> names, in the order the IPs first appeared. */
  hostsEntries: [string, string[]][];
}

export function emptyDnsFlags(): RktDnsFlags {
  return { dns: [], dnsSearch: [], dnsOpt: [], hostsEntries: [] };
}

/** rkt's parseDNSFlags: one magic value alone, valid IPs, no search/opt/domain with a magic --dns. */
export function parseDnsFlags(f: RktDnsFlags): RktDnsConfig {
  const cfg: RktDnsConfig = { resolv: 'default', hosts: 'default', nameservers: [], search: [], options: [], hostsEntries: [] };
  for (const d of f.dns) {
    if (d === 'host' || d === 'none') {
      if (f.dns.length > 1) throw new UsageError(`no other --dns options allowed when --dns=${d} is passed`);
      cfg.resolv = d;
      break;
    }
    for (const ip of d.split(',')) {
      if (isIP(ip.trim()) === 0) throw new UsageError(`invalid IP passed to --dns: "${ip}"`);
      cfg.nameservers.push(ip.trim());
    }
  }
  for (const [flag, list] of [['--dns-search', f.dnsSearch], ['--dns-opt', f.dnsOpt]] as const) {
    for (const v of list) if (v.trim() === '' || /\s/.test(v.trim())) throw new UsageError(`invalid ${flag} "${v}": give one value per flag`);
  }
  if (f.dnsDomain !== undefined && (f.dnsDomain.trim() === '' || /\s/.test(f.dnsDomain.trim()))) throw new UsageError(`invalid --dns-domain "${f.dnsDomain}"`);
  cfg.search = f.dnsSearch.map((s) => s.trim());
  cfg.options = f.dnsOpt.map((s) => s.trim());
  if (f.dnsDomain !== undefined) cfg.domain = f.dnsDomain.trim();
  const hasConfig = cfg.nameservers.length > 0 || cfg.search.length > 0 || cfg.options.length > 0 || cfg.domain !== undefined;
  if (hasConfig) {
    if (cfg.resolv !== 'default') throw new UsageError(`cannot pass --dns-opt, --dns-search or --dns-domain with --dns=${cfg.resolv}`);
    cfg.resolv = 'stage0';
  }

  const byIp = new Map<string, string[]>();
  for (const entry of f.hostsEntries) {
    if (entry === 'host') {
      if (f.hostsEntries.length > 1) throw new UsageError('cannot pass --hosts-entry=host with other --hosts-entry values');
      cfg.hosts = 'host';
      break;
    }
    for (const pair of entry.split(',')) {
      const eq = pair.indexOf('=');
      if (eq < 0) throw new UsageError(`did not understand --hosts-entry "${pair}": use IP=HOSTNAME`);
      const ip = pair.slice(0, eq).trim();
      const name = pair.slice(eq + 1).trim();
      if (isIP(ip) === 0) throw new UsageError(`invalid IP passed to --hosts-entry: "${ip}"`);
      if (name === '' || /\s/.test(name)) throw new UsageError(`invalid host name "${name}" in --hosts-entry "${pair}"`);
      const names = byIp.get(ip) ?? [];
      if (!names.includes(name)) names.push(name);
      byIp.set(ip, names);
    }
  }
  if (byIp.size > 0) {
    cfg.hosts = 'stage0';
    cfg.hostsEntries = [...byIp];
  }
  return cfg;
}

/**
 * run-prepared's flags over what prepare was given: any of --dns,
 * --dns-search, --dns-opt, --dns-domain replaces the whole resolv.conf side,
 * --hosts-entry the hosts side; the other side stays as prepared. Undefined
 * when no flag was given (nothing changes).
 */
export function overrideDnsConfig(prepared: RktDnsConfig | undefined, flags: RktDnsFlags): RktDnsConfig | undefined {
  const resolvGiven = flags.dns.length > 0 || flags.dnsSearch.length > 0 || flags.dnsOpt.length > 0 || flags.dnsDomain !== undefined;
  const hostsGiven = flags.hostsEntries.length > 0;
  if (!resolvGiven && !hostsGiven) return undefined;
  const given = parseDnsFlags(flags);
  const out: RktDnsConfig = { ...(prepared ?? parseDnsFlags(emptyDnsFlags())) };
  if (resolvGiven) {
    Object.assign(out, { resolv: given.resolv, nameservers: given.nameservers, search: given.search, options: given.options });
    if (given.domain !== undefined) out.domain = given.domain;
    else delete out.domain;
  }
  if (hostsGiven) Object.assign(out, { hosts: given.hosts, hostsEntries: given.hostsEntries });
  return out;
}

/** The resolv.conf rkt generates for --dns and friends (rkt's order: search, nameserver, options, domain). */
export function renderResolvConf(cfg: RktDnsConfig): string {
  let out = '# Generated by tsrkt run\n\n';
  if (cfg.search.length > 0) out += `search ${cfg.search.join(' ')}\n`;
  for (const ns of cfg.nameservers) out += `nameserver ${ns}\n`;
  if (cfg.options.length > 0) out += `options ${cfg.options.join(' ')}\n`;
  if (cfg.domain !== undefined) out += `domain ${cfg.domain}\n`;
  return out;
}

/** rkt's stub defaults for a generated /etc/hosts. */
export const HOSTS_DEFAULTS = [
  '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4',
  '::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6',
];

/** The /etc/hosts of --hosts-entry: the defaults, then one line per IP with all its names. */
export function renderHosts(cfg: RktDnsConfig): string {
  return [...HOSTS_DEFAULTS, '', '# Added by tsrkt run --hosts-entry', ...cfg.hostsEntries.map(([ip, names]) => `${ip} ${names.join(' ')}`)].join('\n') + '\n';
}
