// rkt pod UUIDs: real RFC 4122 version-4 UUIDs. Users may type any unique prefix
// of the dashed form ("3f2a1b9c", "3f2a1b9c-4d"), or of the form without dashes.
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, UsageError } from '../../errors.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newPodUuid(): string {
  return randomUUID();
}

export function isPodUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** The 8-character prefix rkt prints in its tables. */
export function shortUuid(uuid: string): string {
  return uuid.slice(0, 8);
}

/**
 * The one UUID among `uuids` that `prefix` names: a prefix of the dashed form,
 * or of the dashless form. Ambiguous prefixes and unknown ones are errors that
 * name the prefix.
 */
export function matchUuidPrefix(uuids: readonly string[], prefix: string): string {
  const p = prefix.trim().toLowerCase();
  if (p === '' || !/^[0-9a-f-]+$/.test(p)) throw new UsageError(`invalid pod UUID "${prefix}": use a UUID or a prefix of one (hex digits and dashes)`);
  const exact = uuids.find((u) => u === p);
  if (exact) return exact;
  const bare = p.replace(/-/g, '');
  const matches = uuids.filter((u) => u.startsWith(p) || (!p.includes('-') && u.replace(/-/g, '').startsWith(bare)));
  if (matches.length === 0) throw new NotFoundError('pod', prefix);
  if (matches.length > 1) {
    throw new ConflictError(`the UUID prefix "${prefix}" is ambiguous: it matches ${matches.join(', ')}; type more characters`);
  }
  return matches[0]!;
}
