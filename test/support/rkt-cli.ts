// The harness of the tsrkt integration tests: the built tsrkt and tsrun over one
// --root/--runroot (tsrun must see rkt's pods as its own), the calls the tests
// make again and again (a verb that must succeed, a pod's status, `tsrkt run`
// in the background or saving its UUID, the pods on disk by phase), and the
// teardown that stops and removes every pod the file left behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import { TsrunCli, type CliResult } from './tsrun-cli.js';
import { waitFor } from './wait.js';

/** How long a pod condition may take, and how often it is looked at. */
const POD_WAIT_MS = 20_000;
const POD_POLL_MS = 100;

export interface RktHarness {
  /** tsrkt; set once the file's first beforeAll ran. */
  readonly rkt: TsrunCli;
  /** tsrun over the same state. */
  readonly tsrun: TsrunCli;
  /** tsrkt `args` (with `input` on stdin) that must exit 0: its stdout. */
  ok(args: string[], input?: string): string;
  /** Every pod UUID in every phase directory. */
  podUuids(): string[];
  /** The phase directory that holds `uuid` ('prepared', 'run', 'exited-garbage', ...), if any. */
  phaseOf(uuid: string): string | undefined;
  /** `tsrkt status` as key=value pairs. */
  status(uuid: string): Record<string, string>;
  /** Starts `tsrkt run` with --uuid-file-save; resolves with its UUID once written. */
  runInBackground(args: string[]): Promise<{ uuid: string; done: Promise<CliResult>; pid: number }>;
  /** `tsrkt run` to the end with --uuid-file-save: its result and the UUID ('' when none was saved). */
  runSaving(args: string[], opts?: { input?: string }): CliResult & { uuid: string };
  /** Resolves once `cond()` holds; fails after 20 s. */
  waitFor(cond: () => boolean, what?: string): Promise<void>;
}

/** Registers the file's beforeAll (the two CLIs) and afterAll (every pod stopped and removed, the state deleted). */
export function rktHarness(): RktHarness {
  let rkt: TsrunCli | undefined;
  let tsrun: TsrunCli | undefined;
  const cli = () => {
    if (!rkt || !tsrun) throw new Error('the rkt harness is used before its beforeAll ran');
    return { rkt, tsrun };
  };
  const podsDir = () => join(cli().rkt.root, 'rkt', 'pods');
  const uuidFile = () => join(cli().rkt.root, '..', `uuid-${Date.now()}-${Math.random()}`);

  const h: RktHarness = {
    get rkt() {
      return cli().rkt;
    },
    get tsrun() {
      return cli().tsrun;
    },
    ok(args, input) {
      const r = cli().rkt.run(args, { input });
      expect(r.code, `tsrkt ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    },
    podUuids() {
      if (!existsSync(podsDir())) return [];
      return readdirSync(podsDir()).flatMap((phase) => readdirSync(join(podsDir(), phase)));
    },
    phaseOf(uuid) {
      return readdirSync(podsDir()).find((phase) => existsSync(join(podsDir(), phase, uuid)));
    },
    status(uuid) {
      return Object.fromEntries(h.ok(['status', uuid]).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    },
    async runInBackground(args) {
      const file = uuidFile();
      const child = spawn(process.execPath, cli().rkt.args(['run', '--uuid-file-save', file, ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const done = new Promise<CliResult>((res) => child.on('close', (code, sig) => res({ code: code ?? (sig ? 128 : -1), stdout, stderr })));
      for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(50);
      return { uuid: readFileSync(file, 'utf8').trim(), done, pid: child.pid! };
    },
    runSaving(args, opts = {}) {
      const file = uuidFile();
      const r = cli().rkt.run(['run', '--uuid-file-save', file, ...args], opts);
      return { ...r, uuid: existsSync(file) ? readFileSync(file, 'utf8').trim() : '' };
    },
    waitFor(cond, what = 'the pod') {
      return waitFor(cond, what, POD_WAIT_MS, POD_POLL_MS);
    },
  };

  beforeAll(() => {
    const base = mkdtempSync('/tmp/tsrun-it-');
    rkt = new TsrunCli('tsrkt', base);
    tsrun = new TsrunCli('tsrun', base);
  });

  afterAll(() => {
    if (!rkt || !tsrun) return;
    for (const u of h.podUuids()) rkt.run(['stop', '--force', u]);
    rkt.run(['gc', '--grace-period=0s', '--expire-prepared=0s']);
    const pods = tsrun.run(['pod', 'ps', '-q', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (pods.length) tsrun.run(['pod', 'rm', '-f', ...pods]);
    tsrun.destroy();
  });

  return h;
}
