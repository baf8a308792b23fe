// tsrkt attach [--app=NAME] [--mode=auto|list|ENDPOINTS] UUID: rkt's attach to
// an app whose streams were made attachable (--stdin/--stdout/--stderr=stream
// or tty; stdio.ts). The app's monitor serves the client on its attach socket.
//   auto (default)  every endpoint the app has
//   list            print the endpoints, one per line
//   ENDPOINTS       some of stdin, stdout, stderr, or tty (tty-in, tty-out)
// Ctrl-p Ctrl-q detaches (exit 0; the app runs on). When the app exits while
// attached, its exit code is tsrkt attach's.
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { StateError } from '../../../errors.js';
import { attachEndpoints, attachSelection } from '../../../engine/rkt/stdio.js';
import { AttachConnection, connectAttachSocket, DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../../runtime/index.js';
import { action, contextOf } from '../../common.js';
import { makeTerminalRaw } from '../../terminal.js';
import { EXIT_RKT } from '../../exit.js';
import { rktPodsFor } from '../engine-access.js';

const discard = () => new Writable({ write: (_c, _e, cb) => cb() });

export function registerAttachVerb(program: Command): void {
  program
    .command('attach')
    .description('attach to an app running within a pod (its streams in stream or tty mode)')
    .argument('<uuid>', 'pod UUID or unique prefix')
    .option('--app <name>', 'the app to attach to (needed when the pod has several)')
    .option('--mode <mode>', 'auto, list, or endpoints joined by commas (stdin, stdout, stderr, tty, tty-in, tty-out)', 'auto')
    .action(
      action(
        'tsrkt',
        async (prefix: string, opts: { app?: string; mode: string }, self: Command) => {
          const rkt = rktPodsFor(contextOf(self));
          const v = rkt.view(rkt.resolve(prefix));
          if (v.state !== 'running') throw new StateError(`pod ${v.loc.uuid} isn't currently running (it is ${v.state})`);
          const app = rkt.appFor(v, opts.app);
          const available = attachEndpoints(app.stdio);
          if (opts.mode === 'list') {
            for (const e of available) process.stdout.write(`${e}\n`);
            return 0;
          }
          if (available.length === 0) {
            throw new StateError(`app ${app.name} has no attachable streams: give it --stdin, --stdout or --stderr as stream or tty when the pod is made`);
          }
          const chosen = attachSelection(opts.mode, available, app.name);
          if (!app.record || app.state?.status !== 'running') throw new StateError(`app ${app.name} of pod ${v.loc.uuid} is not running`);
          const target = rkt.containers.attachTarget(app.record);
          const tty = chosen.has('tty-out') || chosen.has('tty-in');
          const withStdin = (chosen.has('stdin') || chosen.has('tty-in')) && target.openStdin;
          let sock;
          try {
            sock = await connectAttachSocket(target.socket);
          } catch (err) {
            throw new StateError(`cannot attach to app ${app.name} of pod ${v.loc.uuid}`, { cause: err });
          }
          const conn = new AttachConnection(sock);
          const stdin = process.stdin;
          const restoreTerminal = tty && withStdin && stdin.isTTY ? makeTerminalRaw(stdin.fd) : undefined;
          const out = process.stdout;
          const onResize = () => conn.resize(out.rows, out.columns);
          if (tty && out.isTTY) {
            onResize();
            out.on('resize', onResize);
          }
          const wantOut = chosen.has('stdout') || chosen.has('tty-out');
          const wantErr = chosen.has('stderr') || chosen.has('tty-out');
          let result;
          try {
            result = await conn.run({
              stdin: withStdin ? stdin : undefined,
              stdout: wantOut ? process.stdout : discard(),
              stderr: wantErr ? process.stderr : discard(),
              detachKeys: parseDetachKeys(DEFAULT_DETACH_KEYS),
            });
          } finally {
            restoreTerminal?.();
            out.off('resize', onResize);
            if (withStdin) stdin.destroy();
          }
          if (result.kind === 'exited') return result.exitCode;
          if (result.kind === 'detached') return 0;
          // Closed without an exit code: the app ended (killed) or the monitor dropped us.
          for (let i = 0; i < 40 && rkt.containers.isRunning(app.record); i++) await new Promise((r) => setTimeout(r, 50));
          if (!rkt.containers.isRunning(app.record)) return rkt.containers.state(app.record).exitCode ?? 0;
          throw new StateError(`the monitor of app ${app.name} closed the attach connection`);
        },
        EXIT_RKT,
      ),
    );
}
