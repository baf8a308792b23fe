// tsrkt run / prepare / run-prepared (whose --dns* and --hosts-entry replace
// prepare's for that run). `run` and `prepare` take rkt's own
// grammar (run-args.ts), so main.ts hands them the raw argv.
//
// A foreground run starts every app detached (each with its monitor and exit
// hook), keeps the pod's lock, and streams the apps' output the way rkt's
// systemd console did: "[    1.234567] APP[PID]: LINE" (seconds since the pod
// started; stderr lines go to stderr) for the streams in rkt's default "log"
// mode (those in stream/tty mode are for `tsrkt attach`). It returns when every
// app has exited, with rkt's status: the code of the app that halted the pod,
// else 0. --interactive runs the pod's single app attached to this terminal.
import { statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { EngineContext } from '../../../engine/context.js';
import { UsageError } from '../../../errors.js';
import { readLogs } from '../../../engine/logs.js';
import type { PreparedPod, RktPods } from '../../../engine/rkt/rkt-pods.js';
import { emptyDnsFlags, overrideDnsConfig, parseDnsFlags, type RktDnsFlags } from '../../../engine/rkt/dns.js';
import type { InsecureOptions } from '../../../engine/rkt/insecure-options.js';
import { consoleStreams } from '../../../engine/rkt/stdio.js';
import { parseRunArgs } from '../run-args.js';
import { rktPodsFor } from '../engine-access.js';

export async function runOrPrepare(ctx: EngineContext, verb: 'run' | 'prepare', argv: string[], globalInsecure: InsecureOptions = new Set()): Promise<number> {
  const args = parseRunArgs(argv, { verb });
  const insecure = new Set([...globalInsecure, ...args.insecure]);
  if (args.uuidFileSave !== undefined) checkUuidFileDir(args.uuidFileSave);
  const rkt = rktPodsFor(ctx);
  const onPull = args.quiet ? undefined : (ref: string) => process.stderr.write(`pulling ${ref}\n`);
  const onWarning = (message: string) => process.stderr.write(`tsrkt: ${message}\n`);
  const prepared = await rkt.prepare(args.spec, args.podMounts, { onPull, onWarning, insecure });
  if (args.uuidFileSave) writeFileSync(args.uuidFileSave, prepared.loc.uuid);
  if (verb === 'prepare') {
    rkt.finishPrepare(prepared);
    process.stdout.write(`${prepared.loc.uuid}\n`);
    return 0;
  }
  return runPod(rkt, prepared);
}

/** --uuid-file-save is written once the pod is prepared: a directory that is not there fails now, before any image is fetched. */
function checkUuidFileDir(file: string): void {
  const dir = dirname(resolve(file));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // missing: refused below
  }
  if (!isDir) throw new UsageError(`--uuid-file-save ${file}: ${dir} is not a directory`);
}

/** run-prepared: --dns* / --hosts-entry, when given, replace what prepare was given for this run. */
export async function runPrepared(ctx: EngineContext, uuid: string, dnsFlags: RktDnsFlags = emptyDnsFlags()): Promise<number> {
  parseDnsFlags(dnsFlags); // rkt's checks, before the pod is touched
  const rkt = rktPodsFor(ctx);
  const p = rkt.lockPrepared(rkt.resolve(uuid));
  try {
    const dns = overrideDnsConfig(rkt.view(p.loc, true).meta?.dns, dnsFlags);
    if (dns) await rkt.changeDns(p, dns);
  } catch (err) {
    p.lock.release();
    throw err;
  }
  return runPod(rkt, p);
}

async function runPod(rkt: RktPods, p: PreparedPod): Promise<number> {
  try {
    const { loc, exitCode } = await rkt.start(p);
    if (exitCode !== undefined) return exitCode; // interactive
    // ^C or a TERM for `tsrkt run` stops the pod, as stopping rkt's stage1 did; the wait goes on.
    let stopping = false;
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      void rkt.stop(rkt.dirs.find(loc.uuid) ?? loc).catch(() => undefined);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await streamUntilEnd(rkt, loc.uuid);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const view = rkt.view(rkt.dirs.find(loc.uuid) ?? loc, true);
    return rkt.exitCode(view);
  } finally {
    p.lock.release();
  }
}

function prefix(seconds: number, app: string, pid: number | undefined): string {
  return `[${seconds.toFixed(6).padStart(12)}] ${app}[${pid ?? 0}]: `;
}

async function streamUntilEnd(rkt: RktPods, uuid: string): Promise<void> {
  const loc = rkt.dirs.find(uuid)!;
  const view = rkt.view(loc, true);
  const started = Date.parse(view.meta?.started ?? new Date().toISOString());
  await Promise.all(
    view.apps.map(async (app) => {
      if (!app.record) return;
      const record = app.record;
      const pid = app.state?.pid;
      const shown = consoleStreams(app.stdio); // streams in tty/stream mode are for `tsrkt attach`
      if (!shown.stdout && !shown.stderr) return;
      for await (const e of readLogs(rkt.containers.logPath(record), { follow: true, isRunning: () => rkt.containers.isRunning(record), pollMs: 50 })) {
        if (!(e.stream === 'stderr' ? shown.stderr : shown.stdout)) continue;
        const t = Date.parse(e.time);
        const text = e.log.endsWith('\n') ? e.log : `${e.log}\n`;
        (e.stream === 'stderr' ? process.stderr : process.stdout).write(prefix((t - started) / 1000, app.name, pid) + text);
      }
    }),
  );
  // A monitor's exit hook may still be halting the pod: wait until no app runs.
  while (!rkt.hasEnded(rkt.dirs.find(uuid) ?? loc)) await new Promise((r) => setTimeout(r, 50));
}
