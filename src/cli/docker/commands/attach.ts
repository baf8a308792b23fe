// tsrun attach [--no-stdin] [--sig-proxy=true] [--detach-keys KEYS] CONTAINER
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { StateError, UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { attachSignalProxy } from '../attach.js';
import { AttachConnection, connectAttachSocket, DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../../runtime/index.js';

export function registerAttach(program: Command): void {
  program
    .command('attach')
    .description('attach local standard input, output, and error streams to a running container')
    .argument('<container>')
    .option('--no-stdin', 'do not attach STDIN')
    .option('--sig-proxy [bool]', 'proxy all received signals to the process', 'true')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container', DEFAULT_DETACH_KEYS)
    .action(
      // docker attach's own errors exit 1.
      action(
        'tsrun',
        async (name: string, flags: { stdin: boolean; sigProxy: string; detachKeys: string }, self: Command) => {
          const containers = containersOf(self);
          const record = containers.lookup(name);
          const target = containers.attachTarget(record);
          if (flags.stdin && target.tty && !process.stdin.isTTY) throw new UsageError('the input device is not a TTY');
          const detachKeys = parseDetachKeys(flags.detachKeys);
          const withStdin = flags.stdin && target.openStdin;
          let sock;
          try {
            sock = await connectAttachSocket(target.socket);
          } catch (err) {
            // The container ended between the check and the connection.
            if (!containers.isRunning(record)) throw new StateError('You cannot attach to a stopped container, start it first');
            throw new StateError(`cannot attach to container ${record.name}`, { cause: err });
          }
          const conn = new AttachConnection(sock);
          const undoProxy = flags.sigProxy !== 'false' && !target.tty ? attachSignalProxy(containers, record) : () => undefined;
          const stdin = process.stdin;
          const raw = target.tty && withStdin && stdin.isTTY;
          if (raw) stdin.setRawMode(true);
          const restore = () => {
            if (raw) stdin.setRawMode(false);
          };
          // The terminal's size reaches the pty; one size off first, as Docker does, so a
          // shell that waits for input redraws its prompt on the second attach too.
          const out = process.stdout;
          const onResize = () => conn.resize(out.rows, out.columns);
          if (target.tty && out.isTTY) {
            conn.resize(out.rows + 1, out.columns + 1);
            onResize();
            out.on('resize', onResize);
          }
          let result;
          try {
            result = await conn.run({ stdin: withStdin ? stdin : undefined, stdout: process.stdout, stderr: process.stderr, detachKeys });
          } finally {
            restore();
            undoProxy();
            out.off('resize', onResize);
            if (withStdin) stdin.destroy();
          }
          if (result.kind === 'exited') return result.exitCode;
          if (result.kind === 'detached') {
            process.stderr.write('read escape sequence\n'); // Docker's words, and its exit code
            return 1;
          }
          // No exit code from the monitor: it was killed, or dropped this client for not reading.
          const stopped = await waitStopped(() => !containers.isRunning(record), 2000);
          if (stopped) return containers.state(record).exitCode ?? 0;
          throw new StateError(`the monitor of container ${record.name} closed the attach connection (this client did not keep up with its output)`);
        },
        1,
      ),
    );
}

async function waitStopped(stopped: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (stopped()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return stopped();
}
