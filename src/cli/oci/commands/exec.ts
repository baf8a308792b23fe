// tsrun-oci exec: run another process in a running container, described by
// --process FILE or by the command line plus --env/--cwd/--user/--cap.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../../errors.js';
import type { Process, Spec } from '../../../oci/runtime.js';
import { checkOciVersion } from '../../../runtime/launcher.js';
import { flag, int, list, str, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new UsageError(`exec: cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The process from the flags, on top of the container's own process settings. */
function processFromFlags(args: Parsed, base: Process | undefined, cmd: string[]): Process {
  if (cmd.length === 0) throw new UsageError('exec: a command is required (or --process FILE)');
  const p: Process = {
    terminal: flag(args, 'tty'),
    user: { uid: base?.user.uid ?? 0, gid: base?.user.gid ?? 0 },
    args: cmd,
    env: [...(base?.env ?? []), ...list(args, 'env')],
    cwd: str(args, 'cwd') ?? base?.cwd ?? '/',
    noNewPrivileges: flag(args, 'no-new-privs') || !!base?.noNewPrivileges,
  };
  if (base?.capabilities) p.capabilities = structuredClone(base.capabilities);
  if (base?.rlimits) p.rlimits = base.rlimits;
  const user = str(args, 'user');
  if (user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    if (!m) throw new UsageError(`exec: --user must be UID[:GID], not "${user}"`);
    p.user = { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
  }
  const gids = list(args, 'additional-gids').map(Number);
  if (gids.length) p.user.additionalGids = gids;
  for (const cap of list(args, 'cap')) {
    const c = cap.toUpperCase().startsWith('CAP_') ? cap.toUpperCase() : `CAP_${cap.toUpperCase()}`;
    p.capabilities ??= {};
    for (const set of ['bounding', 'effective', 'permitted'] as const) {
      const cur = p.capabilities[set] ?? [];
      if (!cur.includes(c)) p.capabilities[set] = [...cur, c];
    }
  }
  return p;
}

export const command: OciCommand = {
  usage: 'exec [--process FILE | options] [--detach] [--pid-file FILE] [--console-socket SOCK] <container-id> [command...]',
  stopAtPositional: true,
  options: {
    process: { value: true, aliases: ['p'] },
    tty: { value: false, aliases: ['t'] },
    detach: { value: false, aliases: ['d'] },
    'pid-file': { value: true },
    'console-socket': { value: true },
    cwd: { value: true },
    env: { value: true, repeat: true, aliases: ['e'] },
    user: { value: true, aliases: ['u'] },
    'additional-gids': { value: true, repeat: true, aliases: ['g'] },
    cap: { value: true, repeat: true, aliases: ['c'] },
    'no-new-privs': { value: false },
    'preserve-fds': { value: true },
    apparmor: { value: true },
    'process-label': { value: true },
    'ignore-paused': { value: false },
    cgroup: { value: true },
  },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const [id, ...cmd] = args.positional;
    if (!id) throw new UsageError('exec: a container id is required');
    const procFile = str(args, 'process');
    let proc: Process;
    if (procFile) {
      if (cmd.length) throw new UsageError('exec: give either --process or a command, not both');
      proc = readJson<Process>(resolve(procFile), 'process file');
      if (!proc.args?.length) throw new UsageError(`exec: ${procFile} has no args`);
    } else {
      const bundle = ctx.launcher.describe(id).bundle;
      const spec = readJson<Spec>(join(bundle, 'config.json'), 'config');
      checkOciVersion(spec.ociVersion);
      proc = processFromFlags(args, spec.process, cmd);
    }
    const detach = flag(args, 'detach');
    const status = await ctx.launcher.exec(id, proc, {
      detach,
      noMonitor: detach,
      inheritStdio: detach || !proc.terminal,
      stdin: true,
      pidFile: str(args, 'pid-file') && resolve(str(args, 'pid-file')!),
      consoleSocket: str(args, 'console-socket') && resolve(str(args, 'console-socket')!),
      preserveFds: int(args, 'preserve-fds', 'exec'),
    });
    return detach || !status ? 0 : status.exitCode;
  },
};
