// The grammar of `tsrkt run` / `tsrkt prepare`, which commander cannot parse:
//   [pod flags] IMAGE1 [app flags] [-- args...] [--- IMAGE2 [app flags] [-- args...]] ...
// - Flags before the first image are pod flags (a --mount there applies to every app).
// - Flags after an image apply to that app only; another bare word starts the next app.
// - `--` ends flag parsing: what follows is appended to the app's exec, up to a lone `---`.
// - Value flags take `--flag=value` or `--flag value`; booleans `--flag` or `--flag=true|false`.
//   `--net` alone means default (rkt's pflag NoOptDefVal), so `--net host` is not `--net=host`.
import { UsageError } from '../../errors.js';
import {
  cpuToCpus, emptyPodSpec, memoryToBytes, parseMountFlag, parseNetFlag, parsePortFlag, parsePullPolicy, parseVolumeFlag, validateAcName,
  type RktAppSpec, type RktMount, type RktPodSpec,
} from '../../engine/rkt/pod-spec.js';
import { parseDnsFlags } from '../../engine/rkt/dns.js';
import { parseInsecureOptions, type InsecureOption } from '../../engine/rkt/insecure-options.js';
import { planAppMounts } from '../../engine/rkt/mount-points.js';
import { parseHostname } from '../../spec/index.js';
import { DEFAULT_STDIO, engineStdio, parseOutputMode, parseStdinMode } from '../../engine/rkt/stdio.js';

export interface RunArgs {
  spec: RktPodSpec;
  /** --mount given before the first image: applies to every app. */
  podMounts: RktMount[];
  uuidFileSave?: string;
  quiet: boolean;
  /** --insecure-options given after the verb (those before it are main.ts's). */
  insecure: Set<InsecureOption>;
}

const POD_VALUE = new Set([
  'volume', 'net', 'port', 'hostname', 'set-env', 'set-env-file', 'uuid-file-save', 'pull-policy', 'mount',
  'dns', 'dns-search', 'dns-opt', 'dns-domain', 'hosts-entry', 'insecure-options',
]);
const POD_BOOL = new Set(['interactive', 'inherit-env', 'quiet', 'no-overlay']);
const APP_VALUE = new Set(['exec', 'name', 'user', 'group', 'working-dir', 'environment', 'memory', 'cpu', 'mount', 'stdin', 'stdout', 'stderr']);
/** rkt flags tsrkt knows but does not offer, with the reason. */
const UNSUPPORTED: Record<string, string> = {
  'stage1-name': 'tsrkt has no stage1 images: apps run as tsrun containers',
  'stage1-path': 'tsrkt has no stage1 images: apps run as tsrun containers',
  'stage1-url': 'tsrkt has no stage1 images: apps run as tsrun containers',
  'stage1-hash': 'tsrkt has no stage1 images: apps run as tsrun containers',
  'stage1-from-dir': 'tsrkt has no stage1 images: apps run as tsrun containers',
};

interface FlagToken {
  name: string;
  value: string | undefined;
}

function flagOf(tok: string): FlagToken | undefined {
  if (!tok.startsWith('--') || tok === '--' || tok === '---') return undefined;
  const body = tok.slice(2);
  const eq = body.indexOf('=');
  return eq < 0 ? { name: body, value: undefined } : { name: body.slice(0, eq), value: body.slice(eq + 1) };
}

function boolValue(f: FlagToken): boolean {
  if (f.value === undefined || f.value === 'true') return true;
  if (f.value === 'false') return false;
  throw new UsageError(`invalid value "${f.value}" for --${f.name}: use true or false`);
}

/** --hostname: the rule tsrun's --hostname follows (RFC 1123 labels, at most 64 characters), with the flag named. */
function hostnameFlag(value: string): string {
  try {
    return parseHostname(value);
  } catch {
    throw new UsageError(`invalid --hostname "${value}": use letters, digits and - (not at either end) in dot-separated labels, at most 64 characters`);
  }
}

/**
 * What the apps' flags must agree on with the pod's, checked before any image is fetched:
 * every --mount names a declared --volume (planAppMounts' rule, here without the image's
 * mount points, which only add implicit volumes), and no two apps get the same --name.
 */
function checkAppsAgainstPod(spec: RktPodSpec, podMounts: readonly RktMount[]): void {
  const names = new Set<string>();
  for (const a of spec.apps) {
    planAppMounts(a.name ?? a.image, [], podMounts, a.mounts, spec.volumes);
    if (a.name === undefined) continue;
    if (names.has(a.name)) throw new UsageError(`two apps are named "${a.name}": give each its own --name`);
    names.add(a.name);
  }
}

export function parseRunArgs(argv: readonly string[], opts: { verb?: string } = {}): RunArgs {
  const verb = opts.verb ?? 'run';
  const spec = emptyPodSpec();
  const out: RunArgs = { spec, podMounts: [], quiet: false, insecure: new Set() };
  const nets: string[] = [];
  let app: RktAppSpec | undefined;
  let i = 0;

  const takeValue = (f: FlagToken): string => {
    if (f.value !== undefined) return f.value;
    const next = argv[i + 1];
    if (next === undefined || next === '--' || next === '---') throw new UsageError(`flag --${f.name} needs a value`);
    i++;
    return next;
  };

  const podFlag = (f: FlagToken) => {
    if (f.name === 'net') {
      nets.push(f.value ?? 'default');
      return;
    }
    if (POD_BOOL.has(f.name)) {
      const v = boolValue(f);
      if (f.name === 'interactive') spec.interactive = v;
      else if (f.name === 'inherit-env') spec.inheritEnv = v;
      else if (f.name === 'quiet') out.quiet = v;
      return; // no-overlay: accepted, overlay is how apps get their rootfs anyway
    }
    const value = takeValue(f);
    switch (f.name) {
      case 'volume': {
        const vol = parseVolumeFlag(value);
        if (spec.volumes.some((v) => v.name === vol.name)) throw new UsageError(`--volume ${vol.name} is given twice`);
        spec.volumes.push(vol);
        break;
      }
      case 'port':
        spec.ports.push(parsePortFlag(value));
        break;
      case 'hostname':
        spec.hostname = hostnameFlag(value);
        break;
      case 'set-env':
        if (!value.includes('=')) throw new UsageError(`invalid --set-env "${value}": use NAME=VALUE`);
        spec.setEnv.push(value);
        break;
      case 'set-env-file':
        spec.setEnvFile.push(value);
        break;
      case 'uuid-file-save':
        out.uuidFileSave = value;
        break;
      case 'pull-policy':
        spec.pullPolicy = parsePullPolicy(value);
        break;
      case 'dns':
        spec.dns.push(value);
        break;
      case 'dns-search':
        spec.dnsSearch.push(value);
        break;
      case 'dns-opt':
        spec.dnsOpt.push(value);
        break;
      case 'dns-domain':
        spec.dnsDomain = value;
        break;
      case 'hosts-entry':
        spec.hostsEntries.push(value);
        break;
      case 'mount':
        out.podMounts.push(parseMountFlag(value));
        break;
      case 'insecure-options': // rkt's global flag, also taken after the verb
        for (const o of parseInsecureOptions([value])) out.insecure.add(o);
        break;
    }
  };

  const appFlag = (a: RktAppSpec, f: FlagToken) => {
    const value = takeValue(f);
    switch (f.name) {
      case 'exec':
        a.exec = value;
        break;
      case 'name':
        a.name = validateAcName(value, '--name');
        break;
      case 'user':
        a.user = value;
        break;
      case 'group':
        a.group = value;
        break;
      case 'working-dir':
        if (!value.startsWith('/')) throw new UsageError(`invalid --working-dir "${value}": it must be an absolute path`);
        a.workingDir = value;
        break;
      case 'environment':
        if (!value.includes('=')) throw new UsageError(`invalid --environment "${value}": use NAME=VALUE`);
        a.environment.push(value);
        break;
      case 'memory':
        memoryToBytes(value); // its syntax checked now; the engine converts it when the app is made
        a.memory = value;
        break;
      case 'cpu':
        cpuToCpus(value);
        a.cpu = value;
        break;
      case 'mount':
        a.mounts.push(parseMountFlag(value));
        break;
      case 'stdin':
        a.stdio = { ...a.stdio, stdin: parseStdinMode(value) };
        break;
      case 'stdout':
      case 'stderr':
        a.stdio = { ...a.stdio, [f.name]: parseOutputMode(f.name, value) };
        break;
    }
  };

  for (; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '---') {
      // A lone --- outside the args of an app only separates apps: nothing to do.
      if (!app) throw new UsageError(`"---" before any image: ${verb} needs an image first`);
      continue;
    }
    if (tok === '--') {
      if (!app) throw new UsageError(`"--" before any image: arguments after -- belong to the image before them`);
      let j = i + 1;
      for (; j < argv.length && argv[j] !== '---'; j++) app.args.push(argv[j]!);
      i = j; // at the --- (or the end): the loop's i++ resumes after it
      continue;
    }
    const f = flagOf(tok);
    if (f) {
      if (f.name in UNSUPPORTED) throw new UsageError(`--${f.name} is not supported by tsrkt: ${UNSUPPORTED[f.name]}`);
      if (!app) {
        if (!POD_VALUE.has(f.name) && !POD_BOOL.has(f.name)) {
          throw new UsageError(
            APP_VALUE.has(f.name) ? `--${f.name} is an app flag: put it after the image it applies to` : `unknown flag --${f.name} for ${verb}`,
          );
        }
        podFlag(f);
      } else {
        if (!APP_VALUE.has(f.name)) {
          throw new UsageError(
            POD_VALUE.has(f.name) || POD_BOOL.has(f.name) || f.name === 'net'
              ? `--${f.name} is a pod flag: put it before the first image`
              : `unknown flag --${f.name} for an app of ${verb}`,
          );
        }
        appFlag(app, f);
      }
      continue;
    }
    if (tok.startsWith('-') && tok.length > 1) throw new UsageError(`unknown flag ${tok} for ${verb}: tsrkt takes long flags (--name)`);
    app = { image: tok, args: [], environment: [], mounts: [] };
    spec.apps.push(app);
  }

  spec.net = parseNetFlag(nets);
  if (spec.apps.length === 0) throw new UsageError(`${verb} needs at least one image`);
  if (spec.interactive && spec.apps.length > 1) throw new UsageError('--interactive works with one image only: an interactive pod has a single app');
  if (spec.ports.length > 0 && (spec.net === 'host' || spec.net === 'none')) throw new UsageError(`--port needs a contained network: it cannot be used with --net=${spec.net}`);
  for (const a of spec.apps) {
    if (!a.stdio) continue;
    if (spec.interactive) {
      throw new UsageError('--interactive puts the app on this terminal: it cannot be combined with --stdin, --stdout or --stderr');
    }
    engineStdio({ ...DEFAULT_STDIO, ...a.stdio }, a.name ?? a.image); // refuses what the engine cannot do, before anything is made
  }
  parseDnsFlags(spec); // rkt's checks of --dns* and --hosts-entry, likewise
  checkAppsAgainstPod(spec, out.podMounts);
  return out;
}
