// Turning "-u user[:group]" (or the image's User) into numeric ids, with the
// rules of Docker/runc: names must exist in the image's /etc/passwd and
// /etc/group; numbers need no entry; supplementary groups come from /etc/group
// membership when no group was given, plus --group-add.
import { SpecError } from '../errors.js';
import { readRootfsFile } from './rootfs.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups: /etc/group membership (only without an explicit group) then --group-add, deduplicated. */
  additionalGids: number[];
  /** HOME from the passwd entry; "/" when there is none. */
  home: string;
  /** The passwd name when an entry matched. */
  username?: string;
}

/** Ids are 32-bit but Docker keeps them below 2^31 so they survive signed conversions. */
const MAX_ID = 2 ** 31 - 1;

function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
}

/** Lines "name:x:uid:gid:gecos:home:shell"; malformed lines are skipped, as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 4 || f[0] === '' || f[0]!.startsWith('#')) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** Lines "name:x:gid:member1,member2"; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 3 || f[0] === '' || f[0]!.startsWith('#')) continue;
    const gid = parseId(f[2]!);
    if (gid === undefined) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    out.push({ name: f[0]!, gid, members });
  }
  return out;
}

function numericId(text: string, what: 'uid' | 'gid'): number | undefined {
  if (!/^-?\d+$/.test(text)) return undefined;
  const n = Number(text);
  if (n < 0 || n > MAX_ID) throw new SpecError(`invalid ${what} ${text}: uids and gids must be in range 0-${MAX_ID}`);
  return n;
}

/** The image's passwd and group entries, read safely from inside the rootfs (missing files = no entries). */
export function readUserDatabase(rootfsDir: string): { passwd: PasswdEntry[]; groups: GroupEntry[] } {
  return {
    passwd: parsePasswd(readRootfsFile(rootfsDir, '/etc/passwd') ?? ''),
    groups: parseGroup(readRootfsFile(rootfsDir, '/etc/group') ?? ''),
  };
}

/**
 * Resolve a Docker user spec ("", "name", "uid", "name:group", "uid:gid", ...)
 * against the given entries. "" means root (uid 0), whose entry, if any,
 * supplies HOME and groups.
 */
export function resolveUserFrom(
  db: { passwd: PasswdEntry[]; groups: GroupEntry[] },
  userSpec: string | undefined,
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const spec = (userSpec ?? '').trim();
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  if (colon >= 0 && groupArg === '') throw new SpecError(`invalid user "${spec}": empty group after ":"`);

  let uid = 0;
  let gid = 0;
  let home = '/';
  let entry: PasswdEntry | undefined;
  const uidArg = userArg === '' ? 0 : numericId(userArg, 'uid');
  if (uidArg !== undefined) {
    uid = uidArg;
    entry = db.passwd.find((p) => p.uid === uidArg);
  } else {
    entry = db.passwd.find((p) => p.name === userArg);
    if (!entry) throw new SpecError(`unable to find user ${userArg}: no matching entries in passwd file`);
  }
  if (entry) {
    uid = entry.uid;
    gid = entry.gid;
    if (entry.home !== '') home = entry.home;
  }

  const additional: number[] = [];
  if (groupArg !== '') {
    gid = lookupGroup(db.groups, groupArg);
  } else if (entry) {
    for (const g of db.groups) if (g.members.includes(entry.name)) additional.push(g.gid);
  }
  for (const g of groupAdd) additional.push(lookupGroup(db.groups, g));

  const result: ResolvedUser = { uid, gid, additionalGids: [...new Set(additional)], home };
  if (entry) result.username = entry.name;
  return result;
}

function lookupGroup(groups: GroupEntry[], arg: string): number {
  const gid = numericId(arg, 'gid');
  if (gid !== undefined) return gid;
  const g = groups.find((e) => e.name === arg);
  if (!g) throw new SpecError(`unable to find group ${arg}: no matching entries in group file`);
  return g.gid;
}

/** resolveUserFrom over the rootfs's own /etc/passwd and /etc/group. */
export function resolveUser(rootfsDir: string, userSpec: string | undefined, groupAdd: readonly string[] = []): ResolvedUser {
  return resolveUserFrom(readUserDatabase(rootfsDir), userSpec, groupAdd);
}
