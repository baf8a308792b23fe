// The options of Docker's `local` volume driver (moby volume/local): `type`, `device`
// and `o` name a filesystem that mount(2) puts on the volume's _data directory while
// containers use it (tmpfs, a bind of a host directory with type=none,o=bind, nfs...).
// This module checks them at create and turns them into mount(2) arguments; volumes.ts
// performs the mounts.
import { statSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { UsageError } from '../errors.js';
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC } from '../native/index.js';

/** The keys Docker's local driver takes (its `size` quota needs XFS project quotas: refused, as Docker does without quota support). */
const KEYS = ['type', 'device', 'o'];
/** Docker's mandatoryOpts: each key needs the others listed. */
const NEEDS: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };

/**
 * A driver name as Docker takes it: `local`, or a volume plugin's name (found and asked
 * only when used, volume-plugins.ts). Only the shape is checked here.
 */
export function checkVolumeDriver(driver: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.:/-]*$/.test(driver) || driver.includes('..')) throw new UsageError(`invalid volume driver name "${driver}"`);
}

/** Docker's validateOpts, plus a bind's device that must exist now (it is mounted only later). */
export function validateVolumeOptions(opts: Record<string, string>): void {
  for (const key of Object.keys(opts)) {
    if (key === 'size') throw new UsageError('invalid option: "size": quota size requested but no quota support');
    if (!KEYS.includes(key)) throw new UsageError(`invalid option: "${key}" (the local driver takes type, device and o)`);
  }
  for (const [key, needs] of Object.entries(NEEDS)) {
    if (!(key in opts)) continue;
    for (const need of needs) if (!(need in opts)) throw new UsageError(`missing required option: "${need}" (with "${key}")`);
  }
  if (needsMount(opts) && !opts.device) throw new UsageError('missing device in volume options');
  if (isBind(opts)) {
    try {
      statSync(opts.device!);
    } catch {
      throw new UsageError(`invalid option: device "${opts.device}" does not exist (o=bind needs an existing host path)`);
    }
  }
}

/** Whether the volume is a mount rather than a plain directory (moby's needsMount). */
export function needsMount(opts: Record<string, string>): boolean {
  return Boolean(opts.type || opts.device);
}

function isBind(opts: Record<string, string>): boolean {
  return splitO(opts.o).some((o) => o === 'bind' || o === 'rbind');
}

function splitO(o: string | undefined): string[] {
  return (o ?? '').split(',').filter((s) => s !== '');
}

/** Flags mount(8) (and moby's mount.Mount) take out of the option string; the rest is the filesystem's data. */
const FLAGS: Record<string, [set: number, clear: number]> = {
  ro: [MS_RDONLY, 0],
  rw: [0, MS_RDONLY],
  nosuid: [MS_NOSUID, 0],
  suid: [0, MS_NOSUID],
  nodev: [MS_NODEV, 0],
  dev: [0, MS_NODEV],
  noexec: [MS_NOEXEC, 0],
  exec: [0, MS_NOEXEC],
  bind: [MS_BIND, 0],
  rbind: [MS_BIND | MS_REC, 0],
  defaults: [0, 0],
};

export interface VolumeMountArgs {
  source: string;
  fstype: string;
  flags: number;
  data: string;
}

/** mount(2)'s arguments for the options (already validated). */
export function volumeMountArgs(opts: Record<string, string>): VolumeMountArgs {
  let flags = 0;
  const data: string[] = [];
  for (const o of splitO(opts.o)) {
    const f = FLAGS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else data.push(o);
  }
  return { source: opts.device ?? '', fstype: opts.type ?? '', flags, data: data.join(',') };
}

/**
 * nfs and cifs take the server as `addr=`: a host name is resolved to an address
 * first, as Docker does (the kernel wants an IP).
 */
export async function resolveServerAddress(opts: Record<string, string>, resolve: (host: string) => Promise<string> = async (h) => (await lookup(h)).address): Promise<Record<string, string>> {
  if (opts.type !== 'nfs' && opts.type !== 'nfs4' && opts.type !== 'cifs') return opts;
  const parts = splitO(opts.o);
  const i = parts.findIndex((p) => p.startsWith('addr='));
  if (i < 0 || isIPv4(parts[i]!.slice(5))) return opts;
  parts[i] = `addr=${await resolve(parts[i]!.slice(5))}`;
  return { ...opts, o: parts.join(',') };
}
