// tsrkt list / status / enter / stop / rm / gc / cat-manifest / run-prepared (with its DNS overrides).
import type { Command } from 'commander';
import { describeError, UsageError } from '../../../errors.js';
import type { RktDnsFlags } from '../../../engine/rkt/dns.js';
import { parseDuration } from '../../../engine/rkt/pod-state.js';
import type { RktPodView, RktPods } from '../../../engine/rkt/rkt-pods.js';
import { shortRktImageId } from '../../../engine/rkt/image-id.js';
import { shortUuid } from '../../../engine/rkt/uuid.js';
import { action, contextOf } from '../../common.js';
import { EXIT_RKT } from '../../exit.js';
import { timeAgo } from '../../format.js';
import { printColumns, rktPodsFor } from '../engine-access.js';
import { runPrepared } from './run.js';
import { isatty } from 'node:tty';
import { stdout } from '../../stdout.js';

const rktOf = (cmd: Command): RktPods => rktPodsFor(contextOf(cmd));
const act = <A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) => action('tsrkt', fn, EXIT_RKT);

function checkFormat(format: string | undefined): 'json' | undefined {
  if (format === undefined || format === '') return undefined;
  if (format === 'json') return 'json';
  throw new UsageError(`invalid --format "${format}": tsrkt knows json`);
}

/** Several pods: report each failure and go on; 254 at the end if any failed (rkt's rm/stop). */
async function eachPod(rkt: RktPods, uuids: string[], fn: (uuid: string) => Promise<void>): Promise<number> {
  if (uuids.length === 0) throw new UsageError('give at least one pod UUID');
  let failed = 0;
  for (const u of uuids) {
    try {
      await fn(u);
    } catch (err) {
      process.stderr.write(`tsrkt: ${u}: ${describeError(err)}\n`);
      failed++;
    }
  }
  return failed ? EXIT_RKT : 0;
}

function podJson(v: RktPodView) {
  return {
    name: v.loc.uuid,
    state: v.state,
    networks: v.networks ? [{ netName: v.networks.split(':')[0], ip: v.networks.split('ip4=')[1] ?? '' }] : [],
    app_names: v.apps.map((a) => a.name),
    apps: v.apps.map((a) => ({
      name: a.name,
      image_id: a.rktImageId,
      state: a.state?.status ?? 'unknown',
      ...(a.state?.status === 'exited' ? { exit_code: a.state.exitCode ?? 0 } : {}),
    })),
    ...(v.meta?.created ? { created_at: Date.parse(v.meta.created) * 1e6 } : {}),
    ...(v.meta?.started ? { started_at: Date.parse(v.meta.started) * 1e6 } : {}),
    ...(v.pid ? { pid: v.pid } : {}),
  };
}

export function registerPodVerbs(program: Command): void {
  program
    .command('list')
    .description('list pods, one row per app')
    .option('--full', 'full UUIDs, image IDs and absolute times')
    .option('--no-legend', 'no header line')
    .option('--format <format>', 'json')
    .action(
      act((opts: { full?: boolean; legend: boolean; format?: string }, self: Command) => {
        const format = checkFormat(opts.format);
        const pods = rktOf(self).list();
        if (format === 'json') {
          stdout.write(JSON.stringify(pods.map(podJson)) + '\n');
          return;
        }
        const when = (t: string | undefined) => (t ? (opts.full ? t : timeAgo(t)) : '');
        const header = opts.full
          ? ['UUID', 'APP', 'IMAGE NAME', 'IMAGE ID', 'STATE', 'CREATED', 'STARTED', 'NETWORKS']
          : ['UUID', 'APP', 'IMAGE NAME', 'STATE', 'CREATED', 'STARTED', 'NETWORKS'];
        const rows: string[][] = opts.legend ? [header] : [];
        for (const v of pods) {
          const apps = v.apps.length > 0 ? v.apps : [{ name: '-', image: '-', rktImageId: '-' }];
          apps.forEach((a, i) => {
            const podCols = i === 0 ? [v.state, when(v.meta?.created), when(v.meta?.started), v.networks] : ['', '', '', ''];
            const uuid = i === 0 ? (opts.full ? v.loc.uuid : shortUuid(v.loc.uuid)) : '';
            // rkt's list --full shows the short image ID ("sha512-" + 12 hex digits).
            rows.push(opts.full ? [uuid, a.name, a.image, shortRktImageId(a.rktImageId), ...podCols] : [uuid, a.name, a.image, ...podCols]);
          });
        }
        printColumns(rows);
      }),
    );

  program
    .command('status')
    .description('show the state of a pod and the exit codes of its apps')
    .argument('[uuid]', 'pod UUID or unique prefix')
    .option('--wait [duration]', 'wait for the pod to exit (true, false or a timeout such as 10s)')
    .option('--format <format>', 'json')
    .action(
      act(async (uuidArg: string | undefined, opts: { wait?: string | boolean; format?: string }, self: Command) => {
        const format = checkFormat(opts.format);
        // "status --wait UUID": commander gives the UUID to --wait's optional value; rkt's pflag would not.
        let prefix = uuidArg;
        if (prefix === undefined && typeof opts.wait === 'string' && !/^(true|false|[\d.]+(ms|s|m|h).*)$/.test(opts.wait)) {
          prefix = opts.wait;
          opts.wait = true;
        }
        if (prefix === undefined) throw new UsageError('status needs a pod UUID');
        const rkt = rktOf(self);
        let loc = rkt.resolve(prefix);
        if (opts.wait !== undefined && opts.wait !== false && opts.wait !== 'false') {
          const limit = opts.wait === true || opts.wait === 'true' ? Number.POSITIVE_INFINITY : parseDuration(opts.wait, '--wait');
          const end = Date.now() + limit;
          for (;;) {
            loc = rkt.dirs.find(loc.uuid) ?? loc;
            const s = rkt.view(loc).state;
            if (s !== 'running' && s !== 'preparing' && s !== 'embryo' && s !== 'prepared') break;
            if (Date.now() >= end) throw new UsageError(`pod ${loc.uuid} is still ${s} after --wait=${opts.wait}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        const v = rkt.view(rkt.dirs.find(loc.uuid) ?? loc);
        if (format === 'json') {
          stdout.write(JSON.stringify(podJson(v)) + '\n');
          return;
        }
        const ended = v.state !== 'running' && v.state !== 'preparing' && v.state !== 'embryo' && v.state !== 'prepared';
        const lines = [
          `state=${v.state}`,
          `created=${v.meta?.created ?? ''}`,
          `started=${v.meta?.started ?? ''}`,
          `networks=${v.networks}`,
          `pid=${v.pid ?? -1}`,
          `exited=${ended && v.meta?.started !== undefined}`,
        ];
        for (const a of v.apps) if (a.state?.status === 'exited') lines.push(`app-${a.name}=${a.state.exitCode ?? 0}`);
        stdout.write(lines.join('\n') + '\n');
      }),
    );

  program
    .command('enter')
    .description('run a command in an app of a running pod (default /bin/bash)')
    .argument('<uuid>', 'pod UUID or unique prefix')
    .argument('[cmd...]', 'command and arguments')
    .option('--app <name>', 'the app to enter (needed when the pod has several)')
    .passThroughOptions()
    .action(
      act(async (prefix: string, cmd: string[], opts: { app?: string }, self: Command) => {
        const rkt = rktOf(self);
        const v = rkt.view(rkt.resolve(prefix));
        const tty = Boolean(process.stdin.isTTY && isatty(1));
        const r = await rkt.enter(v, opts.app, cmd, { tty, interactive: true });
        if (r.note) process.stderr.write(`tsrkt: ${r.note}\n`);
        return r.exitCode;
      }),
    );

  program
    .command('stop')
    .description('stop running pods (TERM, then KILL after a timeout)')
    .argument('[uuids...]')
    .option('--force', 'send KILL at once')
    .action(
      act(async (uuids: string[], opts: { force?: boolean }, self: Command) => {
        const rkt = rktOf(self);
        return eachPod(rkt, uuids, async (u) => {
          const loc = rkt.resolve(u);
          await rkt.stop(loc, { force: opts.force });
          stdout.write(`${loc.uuid}\n`);
        });
      }),
    );

  program
    .command('rm')
    .description('remove pods that are not running, at once')
    .argument('[uuids...]')
    .action(
      act(async (uuids: string[], _opts: unknown, self: Command) => {
        const rkt = rktOf(self);
        return eachPod(rkt, uuids, async (u) => {
          const loc = rkt.resolve(u);
          await rkt.remove(loc);
          stdout.write(`"${loc.uuid}"\n`);
        });
      }),
    );

  program
    .command('gc')
    .description('mark exited pods as garbage and remove garbage older than the grace period')
    .option('--grace-period <duration>', 'time an exited pod is kept after it is marked', '30m')
    .option('--expire-prepared <duration>', 'age after which prepared pods are removed', '24h')
    .option('--mark-only', 'only mark exited pods')
    .action(
      act(async (opts: { gracePeriod: string; expirePrepared: string; markOnly?: boolean }, self: Command) => {
        const gracePeriodMs = parseDuration(opts.gracePeriod, '--grace-period');
        const expirePreparedMs = parseDuration(opts.expirePrepared, '--expire-prepared');
        const r = await rktOf(self).gc({ gracePeriodMs, expirePreparedMs, markOnly: Boolean(opts.markOnly) });
        for (const u of r.marked) stdout.write(`Moving pod "${u}" to garbage\n`);
        for (const u of r.removed) stdout.write(`Garbage collecting pod "${u}"\n`);
        for (const f of r.failed) process.stderr.write(`tsrkt: gc of pod ${f.uuid} failed: ${f.error}\n`);
        return r.failed.length > 0 ? EXIT_RKT : 0;
      }),
    );

  program
    .command('cat-manifest')
    .description('print the pod manifest')
    .argument('<uuid>')
    .option('--pretty-print [bool]', 'indent the JSON', 'true')
    .action(
      act((prefix: string, opts: { prettyPrint: string | boolean }, self: Command) => {
        const rkt = rktOf(self);
        const pretty = opts.prettyPrint !== 'false' && opts.prettyPrint !== false;
        stdout.write(JSON.stringify(rkt.manifest(rkt.resolve(prefix)), null, pretty ? 2 : undefined) + '\n');
      }),
    );

  program
    .command('run-prepared')
    .description('run a prepared pod in the foreground')
    .argument('[uuid]') // optional here so that a refused "--interactive UUID" (commander gives it the UUID) says why
    .option('--dns <ip>', "name server for the pod's /etc/resolv.conf (repeatable; host or none); replaces prepare's DNS", collect, [])
    .option('--dns-search <domain>', "search domain for /etc/resolv.conf (repeatable); replaces prepare's DNS", collect, [])
    .option('--dns-opt <option>', "resolv.conf option (repeatable); replaces prepare's DNS", collect, [])
    .option('--dns-domain <domain>', "domain for /etc/resolv.conf; replaces prepare's DNS")
    .option('--hosts-entry <IP=HOST>', "entry for the pod's /etc/hosts (repeatable; host for the host's); replaces prepare's", collect, [])
    .option('--mds-register [bool]', 'register with the metadata service: only false (tsrkt has none)')
    .option('--net [networks]', 'refused: tsrkt sets the network at prepare')
    .option('--hostname <name>', 'refused: tsrkt sets the hostname at prepare')
    .option('--interactive [bool]', 'refused: tsrkt sets --interactive at prepare')
    .action(
      act((prefix: string | undefined, opts: RunPreparedOpts, self: Command) => {
        // rkt's run-prepared takes these; tsrkt fixes them when it prepares the pod.
        for (const [flag, value] of [['--net', opts.net], ['--hostname', opts.hostname], ['--interactive', opts.interactive]] as const) {
          if (value !== undefined) throw new UsageError(`${flag} is not supported by tsrkt run-prepared: give it to tsrkt prepare`);
        }
        if (opts.mdsRegister !== undefined && opts.mdsRegister !== 'false') throw new UsageError('--mds-register is not supported: tsrkt has no metadata service');
        if (prefix === undefined) throw new UsageError('run-prepared needs a pod UUID');
        const dns: RktDnsFlags = { dns: opts.dns, dnsSearch: opts.dnsSearch, dnsOpt: opts.dnsOpt, hostsEntries: opts.hostsEntry };
        if (opts.dnsDomain !== undefined) dns.dnsDomain = opts.dnsDomain;
        return runPrepared(contextOf(self), prefix, dns);
      }),
    );
}

interface RunPreparedOpts {
  dns: string[];
  dnsSearch: string[];
  dnsOpt: string[];
  dnsDomain?: string;
  hostsEntry: string[];
  mdsRegister?: string | boolean;
  net?: string | boolean;
  hostname?: string;
  interactive?: string | boolean;
}

const collect = (v: string, all: string[]) => [...all, v];
