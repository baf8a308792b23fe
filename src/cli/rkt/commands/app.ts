// tsrkt app sandbox|add|start|stop|rm|list|status: mutable pods (rkt's app-level
// API, which rkt hid behind RKT_EXPERIMENT_APP; tsrkt offers it openly).
// `app add` takes rkt's app flags, so main.ts hands it the raw argv.
import type { Command } from 'commander';
import type { EngineContext } from '../../../engine/context.js';
import { parseDnsFlags } from '../../../engine/rkt/dns.js';
import { emptyPodSpec, parseNetFlag } from '../../../engine/rkt/pod-spec.js';
import { UsageError } from '../../../errors.js';
import { action, contextOf } from '../../common.js';
import { EXIT_RKT } from '../../exit.js';
import { printColumns, rktPodsFor } from '../engine-access.js';
import { parseRunArgs } from '../run-args.js';
import { stdout } from '../../stdout.js';

const act = <A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) => action('tsrkt', fn, EXIT_RKT);
const collect = (v: string, all: string[]) => [...all, v];

interface SandboxOptions {
  hostname?: string;
  net: string | boolean;
  uuidFileSave?: string;
  dns: string[];
  dnsSearch: string[];
  dnsOpt: string[];
  dnsDomain?: string;
  hostsEntry: string[];
}

/** app add UUID IMAGE [app flags] [-- args] */
export async function appAdd(ctx: EngineContext, argv: string[]): Promise<number> {
  const [uuid, ...rest] = argv;
  if (!uuid || rest.length === 0) throw new UsageError('usage: tsrkt app add UUID IMAGE [--name=NAME ...] [-- args]');
  const parsed = parseRunArgs(rest, { verb: 'app add' });
  if (parsed.spec.apps.length !== 1) throw new UsageError('app add takes exactly one image');
  const rkt = rktPodsFor(ctx);
  const name = await rkt.addApp(rkt.resolve(uuid), parsed.spec.apps[0]!, parsed.spec, { onWarning: (m) => process.stderr.write(`tsrkt: ${m}\n`) });
  stdout.write(`${name}\n`);
  return 0;
}

export function registerAppVerbs(program: Command): void {
  const app = program.command('app').description('manage the apps of a mutable pod (app sandbox)');

  app
    .command('sandbox')
    .description('create an empty, mutable pod and print its UUID')
    .option('--hostname <name>', 'the pod hostname (default rkt-UUID)')
    .option('--net [net]', 'default, host or none', 'default')
    .option('--uuid-file-save <file>', 'write the UUID to this file')
    .option('--dns <ip>', "name server for the pod's /etc/resolv.conf (repeatable; host or none)", collect, [])
    .option('--dns-search <domain>', 'search domain for /etc/resolv.conf (repeatable)', collect, [])
    .option('--dns-opt <option>', 'resolv.conf option (repeatable)', collect, [])
    .option('--dns-domain <domain>', 'domain for /etc/resolv.conf')
    .option('--hosts-entry <IP=HOST>', "entry for the pod's /etc/hosts (repeatable; host for the host's)", collect, [])
    .action(
      act(async (opts: SandboxOptions, self: Command) => {
        const spec = emptyPodSpec();
        spec.net = parseNetFlag([opts.net === true ? 'default' : String(opts.net)]);
        if (opts.hostname) spec.hostname = opts.hostname;
        Object.assign(spec, { dns: opts.dns, dnsSearch: opts.dnsSearch, dnsOpt: opts.dnsOpt, hostsEntries: opts.hostsEntry });
        if (opts.dnsDomain !== undefined) spec.dnsDomain = opts.dnsDomain;
        parseDnsFlags(spec); // usage errors before anything is made
        const loc = await rktPodsFor(contextOf(self)).sandbox(spec);
        if (opts.uuidFileSave) (await import('node:fs')).writeFileSync(opts.uuidFileSave, loc.uuid);
        stdout.write(`${loc.uuid}\n`);
      }),
    );

  app
    .command('add')
    .description('add an app to a mutable pod: app add UUID IMAGE [app flags] [-- args]')
    .allowUnknownOption()
    .argument('[args...]')
    .action(act((args: string[], _o: unknown, self: Command) => appAdd(contextOf(self), args)));

  for (const verb of ['start', 'stop', 'rm'] as const) {
    app
      .command(verb)
      .description(`${verb} an app of a mutable pod`)
      .argument('<uuid>')
      .requiredOption('--app <name>', 'the app')
      .action(
        act(async (uuid: string, opts: { app: string }, self: Command) => {
          const rkt = rktPodsFor(contextOf(self));
          const loc = rkt.resolve(uuid);
          if (verb === 'start') await rkt.startApp(loc, opts.app);
          else if (verb === 'stop') await rkt.stopApp(loc, opts.app);
          else await rkt.removeApp(loc, opts.app);
        }),
      );
  }

  app
    .command('list')
    .description('list the apps of a pod')
    .argument('<uuid>')
    .option('--no-legend', 'no header line')
    .action(
      act((uuid: string, opts: { legend: boolean }, self: Command) => {
        const rkt = rktPodsFor(contextOf(self));
        const v = rkt.view(rkt.resolve(uuid));
        const rows: string[][] = opts.legend ? [['NAME', 'STATE', 'IMAGE NAME', 'EXIT CODE']] : [];
        for (const a of v.apps) rows.push([a.name, a.state?.status ?? 'unknown', a.image, a.state?.status === 'exited' ? String(a.state.exitCode ?? 0) : '']);
        printColumns(rows);
      }),
    );

  app
    .command('status')
    .description('show the state of one app')
    .argument('<uuid>')
    .requiredOption('--app <name>', 'the app')
    .action(
      act((uuid: string, opts: { app: string }, self: Command) => {
        const rkt = rktPodsFor(contextOf(self));
        const v = rkt.view(rkt.resolve(uuid));
        const a = rkt.appFor(v, opts.app);
        const lines = [`name=${a.name}`, `state=${a.state?.status ?? 'unknown'}`, `image=${a.image}`];
        if (a.state?.startedAt) lines.push(`started=${a.state.startedAt}`);
        if (a.state?.status === 'exited') lines.push(`finished=${a.state.finishedAt ?? ''}`, `exit_code=${a.state.exitCode ?? 0}`);
        stdout.write(lines.join('\n') + '\n');
      }),
    );
}
