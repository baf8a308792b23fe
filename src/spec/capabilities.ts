// The capability set of a container from --privileged, --cap-add, --cap-drop
// (Docker's rules), limited to what the caller holds: a capability outside our
// own bounding set cannot be granted, and asking for it would fail the launch.
import { readFileSync } from 'node:fs';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from './defaults.js';

/**
 * Docker's rules, in order:
 * - privileged: every capability
 * - --cap-add ALL: every capability except those dropped
 * - --cap-drop ALL: only those added
 * - otherwise: the defaults minus the dropped, plus the added (defaults first, in Docker's order)
 * Then filtered by `available` (the caller's bounding set) when known; explicit
 * additions removed that way are reported through `warn`.
 */
export function computeCapabilities(
  opts: { privileged?: boolean; capAdd?: readonly string[]; capDrop?: readonly string[] },
  available: readonly string[] | undefined,
  warn: (msg: string) => void = () => {},
): string[] {
  const add = opts.capAdd ?? [];
  const drop = opts.capDrop ?? [];
  let caps: string[];
  if (opts.privileged) caps = [...ALL_CAPABILITIES];
  else if (add.includes('ALL')) caps = ALL_CAPABILITIES.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = add.filter((c) => c !== 'ALL');
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add.filter((c) => c !== 'ALL')];
  caps = [...new Set(caps)];
  if (!available) return caps;
  const missing = add.filter((c) => c !== 'ALL' && !available.includes(c));
  if (missing.length > 0) warn(`${missing.join(', ')} not granted: this process does not hold ${missing.length > 1 ? 'them' : 'it'} (bounding set)`);
  return caps.filter((c) => available.includes(c));
}

/** Capability names of a CapBnd/CapEff hex mask from /proc/<pid>/status. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The caller's bounding set, or undefined when /proc cannot tell. */
export function readBoundingCapabilities(path = '/proc/self/status'): string[] | undefined {
  try {
    const m = /^CapBnd:\s*([0-9a-fA-F]+)$/m.exec(readFileSync(path, 'utf8'));
    return m ? capabilitiesFromMask(m[1]!) : undefined;
  } catch {
    return undefined;
  }
}
