// tsrun-oci: a runc-compatible OCI runtime CLI over tsrun's launcher, for
// Podman (conmon), containerd (the runc v2 shim) and Kubernetes through them.
// Only the command asked for is loaded; errors end as "tsrun-oci: msg" on
// stderr, a runc-style line in --log, and exit status 1.
import { describeError, NotFoundError, TsrunError, UsageError } from '../../errors.js';
import { parseArgs, str, flag, type Parsed } from './args.js';
import { OciContext, type OciCommand } from './context.js';
import { warmIfStarting } from '../warm-start.js';

import { VERSION } from '../version.js';
import { stdout } from '../stdout.js';

export { VERSION };
export const SPEC_VERSION = '1.2.0';
const DEFAULT_ROOT = '/run/tsrun-oci';

type Loader = () => Promise<{ command: OciCommand }>;
const COMMANDS: Record<string, Loader> = {
  create: () => import('./commands/create.js'),
  start: () => import('./commands/start.js'),
  state: () => import('./commands/state.js'),
  kill: () => import('./commands/kill.js'),
  delete: () => import('./commands/delete.js'),
  run: () => import('./commands/run.js'),
  exec: () => import('./commands/exec.js'),
  ps: () => import('./commands/ps.js'),
  pause: () => import('./commands/pause.js'),
  resume: () => import('./commands/resume.js'),
  update: () => import('./commands/update.js'),
  features: () => import('./commands/features.js'),
  spec: () => import('./commands/spec.js'),
  list: () => import('./commands/list.js'),
  events: () => import('./commands/events.js'),
};

const GLOBAL_OPTIONS = {
  root: { value: true },
  log: { value: true },
  'log-format': { value: true },
  debug: { value: false },
  'systemd-cgroup': { value: false },
  rootless: { value: true },
  criu: { value: true },
  help: { value: false, aliases: ['h'] },
  version: { value: false, aliases: ['v'] },
};

const USAGE = `usage: tsrun-oci [global options] <command> [options] <container-id> ...

A runc-compatible OCI runtime (https://github.com/opencontainers/runtime-spec).

global options:
  --root DIR              state directory (default ${DEFAULT_ROOT})
  --log FILE              also write errors and warnings to FILE
  --log-format text|json  format of --log lines (default text)
  --debug                 print stack traces of errors
  --systemd-cgroup        not supported yet (refused)

commands: ${Object.keys(COMMANDS).join(', ')}
`;

function messageOf(err: unknown): string {
  // containerd and podman look for runc's wording of a missing container.
  if (err instanceof NotFoundError && err.kind === 'container') return `container "${err.what}" does not exist`;
  return describeError(err);
}

async function main(argv: string[]): Promise<number> {
  const firstCmd = argv.findIndex((a, i) => !a.startsWith('-') && !isGlobalValue(argv, i));
  const globalArgs = firstCmd < 0 ? argv : argv.slice(0, firstCmd);
  const g: Parsed = parseArgs(globalArgs, GLOBAL_OPTIONS, 'tsrun-oci');
  const logFormat = str(g, 'log-format') ?? 'text';
  const ctx = new OciContext(
    {
      root: str(g, 'root') ?? DEFAULT_ROOT,
      log: str(g, 'log'),
      logFormat: logFormat === 'json' ? 'json' : 'text',
      debug: flag(g, 'debug'),
      systemdCgroup: flag(g, 'systemd-cgroup'),
    },
    (c) => new LauncherClass!(c.globals.root, { onWarning: (m) => c.warn(m) }),
  );
  try {
    if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json, not "${logFormat}"`);
    if (flag(g, 'version')) {
      stdout.write(`tsrun-oci version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    if (firstCmd < 0 || flag(g, 'help')) {
      stdout.write(USAGE);
      return firstCmd < 0 && !flag(g, 'help') ? 1 : 0;
    }
    if (ctx.globals.systemdCgroup) {
      throw new UsageError('--systemd-cgroup is not supported yet: use cgroupfs paths (containerd: SystemdCgroup = false; podman: --cgroup-manager cgroupfs)');
    }
    const rootless = str(g, 'rootless');
    if (rootless !== undefined && rootless !== 'false' && rootless !== 'auto') throw new UsageError('--rootless is not supported: run tsrun-oci as root');
    const name = argv[firstCmd]!;
    const load = COMMANDS[name];
    if (!load) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    const { command } = await load();
    const rest = argv.slice(firstCmd + 1);
    if (rest.includes('--help') || rest.includes('-h')) {
      stdout.write(`usage: tsrun-oci ${command.usage}\n`);
      return 0;
    }
    warmIfStarting(name, ['create', 'run', 'exec']);
    if (needsLauncher(name)) LauncherClass = (await import('../../runtime/launcher.js')).Launcher;
    const args = parseArgs(rest, command.options, `tsrun-oci ${name}`, command.stopAtPositional);
    return await command.run(ctx, args);
  } catch (err) {
    const msg = messageOf(err);
    ctx.logLine('error', msg);
    process.stderr.write(`tsrun-oci: ${msg}\n`);
    if (err instanceof TsrunError && err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (ctx.globals.debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

let LauncherClass: typeof import('../../runtime/launcher.js').Launcher | undefined;

function needsLauncher(name: string): boolean {
  return !['features', 'spec'].includes(name);
}

/** True when argv[i] is the value of a preceding global option that takes one ("--root DIR"). */
function isGlobalValue(argv: string[], i: number): boolean {
  const prev = argv[i - 1];
  if (!prev || prev.includes('=')) return false;
  const key = prev.replace(/^--?/, '');
  return prev.startsWith('-') && (GLOBAL_OPTIONS as Record<string, { value: boolean }>)[key]?.value === true;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`tsrun-oci: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
