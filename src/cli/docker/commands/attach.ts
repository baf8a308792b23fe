// tsrun attach [--no-stdin] [--sig-proxy=true] [--detach-keys KEYS] CONTAINER
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { StateError, UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { attachSignalProxy, detachKeysFor, exitCodeAfterClose, relayTerminal } from '../attach.js';
import { AttachConnection, connectAttachSocket } from '../../../runtime/index.js';

export function registerAttach(program: Command): void {
  program
    .command('attach')
    .description('attach local standard input, output, and error streams to a running container')
    .argument('<container>')
    .option('--no-stdin', 'do not attach STDIN')
    .option('--sig-proxy [bool]', 'proxy all received signals to the process', 'true')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container (default: detachKeys of the Docker config, else ctrl-p,ctrl-q)')
    .action(
      // docker attach's own errors exit 1.
      action(
        'tsrun',
        async (name: string, flags: { stdin: boolean; sigProxy: string; detachKeys?: string }, self: Command) => {
          const containers = containersOf(self);
          const record = containers.lookup(name);
          const target = containers.attachTarget(record);
          if (flags.stdin && target.tty && !process.stdin.isTTY) throw new UsageError('the input device is not a TTY');
          const detachKeys = detachKeysFor(flags.detachKeys);
          const withStdin = flags.stdin && target.openStdin;
          let sock;
          try {
            sock = await connectAttachSocket(target.socket);
          } catch (err) {
            // The container ended between the check and the connection.
            if (!containers.isRunning(record)) throw new StateError('You cannot attach to a stopped container, start it first');
            throw new StateError(`cannot attach to container ${record.name}`, { cause: err });
          }
          const undoProxy = flags.sigProxy !== 'false' && !target.tty ? attachSignalProxy(containers, record) : () => undefined;
          let result;
          try {
            // The terminal's size reaches the pty, one size off first so a shell that waits
            // for input redraws its prompt on the second attach too.
            result = await relayTerminal(new AttachConnection(sock), { tty: target.tty, withStdin, detachKeys, stdinOnce: target.stdinOnce, nudgeSize: true });
          } finally {
            undoProxy();
          }
          if (result.kind === 'exited') return result.exitCode;
          if (result.kind === 'detached') {
            process.stderr.write('read escape sequence\n'); // Docker's words, and its exit code
            return 1;
          }
          return exitCodeAfterClose(containers, record);
        },
        1,
      ),
    );
}
