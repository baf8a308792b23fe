// The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, written
// into the container's directory and bind-mounted over the image's.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from '../util/fs.js';

export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/** The host's resolv.conf, with a loopback stub resolver (systemd-resolved's 127.0.0.53) replaced by its upstreams. */
export function hostResolvConf(read = (p: string) => readFileSync(p, 'utf8')): string {
  let text = '';
  try {
    text = read('/etc/resolv.conf');
  } catch {
    return '';
  }
  const servers = [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  if (servers.length > 0 && servers.every((s) => s.startsWith('127.') || s === '::1')) {
    try {
      return read('/run/systemd/resolve/resolv.conf');
    } catch {
      return text;
    }
  }
  return text;
}

export function writeEtcFiles(
  dir: string,
  opts: {
    hostname: string;
    addHosts?: string[];
    dns?: string[];
    dnsSearch?: string[];
    ownAddresses?: string[];
    /**
     * The host's network: as Docker, the host's own /etc/hosts (with --add-host lines after it)
     * and its resolv.conf as it is (a loopback resolver is reachable there).
     */
    hostNetwork?: boolean;
  },
): EtcFiles {
  ensureDir(dir);
  const hostnamePath = join(dir, 'hostname');
  const hostsPath = join(dir, 'hosts');
  const resolvPath = join(dir, 'resolv.conf');
  writeFileSync(hostnamePath, `${opts.hostname}\n`);

  const fromHost = opts.hostNetwork ? readHostFile('/etc/hosts') : undefined;
  const hostLines = fromHost ? [fromHost.trimEnd()] : [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const h of opts.addHosts ?? []) {
    const i = h.indexOf(':');
    hostLines.push(`${h.slice(i + 1)}\t${h.slice(0, i)}`);
  }
  // The container's own address(es) on its network, else a loopback alias so its name resolves
  // (the host's file already names the host).
  if (opts.ownAddresses?.length) hostLines.push(...opts.ownAddresses);
  else if (!fromHost) hostLines.push(`127.0.1.1\t${opts.hostname}`);
  writeFileSync(hostsPath, hostLines.join('\n') + '\n');

  let resolv = (opts.hostNetwork ? readHostFile('/etc/resolv.conf') : undefined) ?? hostResolvConf();
  if (opts.dns?.length) resolv = resolv.replace(/^\s*nameserver.*\n?/gm, '') + opts.dns.map((d) => `nameserver ${d}\n`).join('');
  if (opts.dnsSearch?.length) resolv = resolv.replace(/^\s*search.*\n?/gm, '') + `search ${opts.dnsSearch.join(' ')}\n`;
  writeFileSync(resolvPath, resolv);
  return { hostname: hostnamePath, hosts: hostsPath, resolvConf: resolvPath };
}

/** A host file's text, or undefined when it cannot be read. */
function readHostFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
