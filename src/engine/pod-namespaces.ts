// A pod's IPC and UTS namespaces and its shared /dev/shm, under <runroot>/pods/<id>/:
//   ipc, uts  bind-mounted nsfs files (`unshare --ipc=FILE --uts=FILE` pins them)
//   shm       a tmpfs that every member mounts at /dev/shm (POSIX shm lives in
//             files there, not in the IPC namespace, so sharing it is a mount)
//
// Why no pause process: a namespace lives while anything references it — a
// process, an open fd, or a bind mount of its /proc/PID/ns file. The bind mount
// keeps it alive with nothing running, and the launcher joins it by path with
// setns(2), so the pod's namespaces outlive every member and need no infra
// container. (The PID namespace is the exception: it dies with its init, which
// is why pods never share it.) The network namespace is made the same way by
// the network module at <runroot>/netns/<id>.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TsrunError } from '../errors.js';
import { isNetnsMounted } from '../network/index.js';
import { MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, native } from '../native/index.js';
import { ensureDir } from '../util/fs.js';
import type { EngineContext } from './context.js';

const run = (file: string, args: readonly string[]) => promisify(execFile)(file, args);

/** Docker's and Podman's default /dev/shm size. */
const SHM_BYTES = 64 * 1024 * 1024;

export function podRuntimeDir(ctx: EngineContext, id: string): string {
  return join(ctx.runroot, 'pods', id);
}

export function podNamespacePaths(ctx: EngineContext, id: string) {
  const dir = podRuntimeDir(ctx, id);
  return { dir, ipc: join(dir, 'ipc'), uts: join(dir, 'uts'), shm: join(dir, 'shm') };
}

/** Ids with a directory under <runroot>/pods (live or leftover). */
export function listPodRuntimeDirs(ctx: EngineContext): string[] {
  const dir = join(ctx.runroot, 'pods');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => !n.startsWith('.'));
}

/** True when `path` is a mount point of `fstype` in our mount namespace. */
function isMountedAs(path: string, fstype: 'nsfs' | 'tmpfs'): boolean {
  if (fstype === 'nsfs') return isNetnsMounted(path); // the network module's reader, which unescapes paths
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => {
      const f = line.split(' ');
      const sep = f.indexOf('-');
      return sep > 0 && f[4] === path && f[sep + 1] === fstype;
    });
}

/**
 * Makes (or completes) the pod's IPC/UTS namespaces and its /dev/shm. Idempotent:
 * what is already mounted is kept, so `pod start` after a reboot rebuilds what the
 * reboot cleared. The hostname is set inside the new UTS namespace.
 */
export async function ensurePodNamespaces(ctx: EngineContext, id: string, opts: { ipc: boolean; uts: boolean; hostname: string }): Promise<void> {
  const p = podNamespacePaths(ctx, id);
  ensureDir(p.dir, 0o711);
  const args: string[] = [];
  if (opts.ipc && !isMountedAs(p.ipc, 'nsfs')) args.push(`--ipc=${p.ipc}`);
  if (opts.uts && !isMountedAs(p.uts, 'nsfs')) args.push(`--uts=${p.uts}`);
  if (args.length > 0) {
    // unshare bind-mounts the new namespaces over existing files.
    for (const a of args) closeSync(openSync(a.slice(a.indexOf('=') + 1), 'a', 0o444));
    // `hostname` runs inside the new UTS namespace; with only an IPC namespace to make, `true` does.
    const inner = args.some((a) => a.startsWith('--uts=')) ? ['hostname', opts.hostname] : ['true'];
    try {
      await run('unshare', [...args, ...inner]);
    } catch (err) {
      throw new TsrunError('POD_NAMESPACE', `cannot create the IPC/UTS namespaces of pod ${id}: ${(err as { stderr?: string }).stderr?.trim() || String(err)}`, { cause: err });
    }
  }
  if (opts.ipc && !isMountedAs(p.shm, 'tmpfs')) {
    ensureDir(p.shm, 0o1777);
    try {
      native().mount('shm', p.shm, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${SHM_BYTES}`);
    } catch (err) {
      throw new TsrunError('POD_NAMESPACE', `cannot mount the shared /dev/shm of pod ${id} at ${p.shm}`, { cause: err });
    }
  }
}

/** Unmounts and deletes everything under <runroot>/pods/<id>; safe to repeat and fine when nothing is left. */
export function removePodNamespaces(ctx: EngineContext, id: string): void {
  const p = podNamespacePaths(ctx, id);
  for (const [path, fstype] of [[p.ipc, 'nsfs'], [p.uts, 'nsfs'], [p.shm, 'tmpfs']] as const) {
    // A path can carry stacked mounts after races; unmount until none is left.
    for (let i = 0; i < 8 && isMountedAs(path, fstype); i++) {
      try {
        native().umount2(path, MNT_DETACH);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EINVAL') throw new TsrunError('POD_NAMESPACE', `cannot unmount ${path} of pod ${id}`, { cause: err });
      }
    }
  }
  rmSync(p.dir, { recursive: true, force: true });
}

/** Whether the pod's namespaces are all in place (after a reboot or a kill -9 they may not be). */
export function podNamespacesPresent(ctx: EngineContext, id: string, opts: { ipc: boolean; uts: boolean }): boolean {
  const p = podNamespacePaths(ctx, id);
  return (!opts.ipc || (isMountedAs(p.ipc, 'nsfs') && isMountedAs(p.shm, 'tmpfs'))) && (!opts.uts || isMountedAs(p.uts, 'nsfs'));
}
