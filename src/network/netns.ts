// Persistent network namespaces as bind-mounted nsfs files under
// <runroot>/netns/<id>. The container launcher joins one by path, so no
// process has to stay alive to keep it (no pause process), and nothing here
// depends on `ip netns` and its /run/netns directory.
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkError } from '../errors.js';
import { MNT_DETACH, native } from '../native/index.js';
import { ensureDir, removeFile } from '../util/fs.js';
import { run } from './exec.js';

export function netnsDir(runroot: string): string {
  return join(runroot, 'netns');
}

export function netnsPath(runroot: string, id: string): string {
  return join(netnsDir(runroot), id);
}

/**
 * Create a new network namespace pinned at `path`, with `lo` up. `unshare
 * --net=FILE` makes the namespace, bind-mounts it onto FILE and runs the
 * command inside it, so one process does all three. Idempotent: a path that is
 * already a namespace is kept (only lo is brought up again).
 */
export async function createNetns(path: string): Promise<void> {
  ensureDir(join(path, '..'), 0o755);
  if (isNetnsMounted(path)) {
    await runInNetns(path, ['ip', 'link', 'set', 'lo', 'up'], { step: 'netns' });
    return;
  }
  // unshare needs an existing file to mount over (a leftover empty file from a kill -9 is fine).
  closeSync(openSync(path, 'a', 0o644));
  try {
    await run(['unshare', `--net=${path}`, 'ip', 'link', 'set', 'lo', 'up'], { step: 'netns' });
  } catch (err) {
    await deleteNetns(path).catch(() => {});
    throw err;
  }
}

/** Unmount and remove the namespace file; the kernel frees the namespace (and its veth ends) once nothing else holds it. */
export async function deleteNetns(path: string): Promise<void> {
  // No file, no mount on it in our namespace: the common case of a container that had none
  // (--network none, host) skips reading the mount table.
  if (!lstatSync(path, { throwIfNoEntry: false })) return;
  // A path can carry stacked mounts after races; unmount until none is left.
  for (let i = 0; i < 8 && isNetnsMounted(path); i++) {
    try {
      native().umount2(path, MNT_DETACH);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EINVAL') throw new NetworkError(`cannot unmount network namespace ${path}`, 'netns', { cause: err });
    }
  }
  try {
    removeFile(path);
  } catch (err) {
    throw new NetworkError(`cannot remove network namespace file ${path}`, 'netns', { cause: err });
  }
}

/** The ids that have a file under <runroot>/netns (mounted or leftover). */
export function listNetns(runroot: string): string[] {
  const dir = netnsDir(runroot);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => !n.startsWith('.'));
}

/** True when `path` is a mount point of an nsfs (a live namespace) in our mount namespace. */
export function isNetnsMounted(path: string): boolean {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0) continue;
    if (unescapeMountPath(fields[4] ?? '') === path && fields[sep + 1] === 'nsfs') return true;
  }
  return false;
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Run a command inside the namespace at `path` (nsenter, since `ip -n` only knows /run/netns names). */
export function runInNetns(path: string, argv: string[], opts: { input?: string; step: string }) {
  return run(['nsenter', `--net=${path}`, '--', ...argv], opts);
}
