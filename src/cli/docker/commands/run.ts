// tsrun run IMAGE [COMMAND] [ARG...]
import { isatty } from 'node:tty';
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';
import { addContainerFlags } from '../run-flags.js';
import { createFromFlags, detachKeysFor, foregroundSession, startAndAttach } from '../attach.js';
import { UsageError } from '../../../errors.js';
import { parseBool } from '../../../spec/index.js';
import { stdout } from '../../stdout.js';

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('create and run a new container from an image')
    .helpOption('--help', 'display help for command')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions()
    .option('-d, --detach', 'run container in background and print container ID')
    .option('--sig-proxy [bool]', 'proxy received signals to the process', 'true')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container (default: detachKeys of the Docker config, else ctrl-p,ctrl-q)');
  addContainerFlags(cmd).action(
    action('tsrun', async (image: string, command: string[], flags: Record<string, unknown>, self: Command) => {
      const containers = containersOf(self);
      const detach = Boolean(flags.detach);
      const terminal = Boolean(flags.tty && flags.interactive);
      if (terminal && !detach && !isatty(0)) {
        throw new UsageError('the input device is not a TTY');
      }
      // Bad keys or a bad --sig-proxy are usage errors before anything is created.
      const sigProxyFlag = parseBool(flags.sigProxy, '--sig-proxy');
      const detachKeys = terminal && !detach ? detachKeysFor(flags.detachKeys as string | undefined) : undefined;
      const record = await createFromFlags(containers, image, command, flags);
      if (detach) {
        await containers.start(record, { attach: false });
        stdout.write(`${record.id}\n`);
        return 0;
      }
      // A terminal on stdin: the container runs detached with us attached, so the detach keys work.
      if (detachKeys && containers.canStartAttached(record)) {
        return startAndAttach(containers, record, { detachKeys, sigProxy: sigProxyFlag });
      }
      // A restart policy outlives this CLI (Docker's daemon restarts the container after we return):
      // the container runs detached, its monitor applies the policy, and we follow its first run.
      if (record.hostConfig.restartPolicy.name !== 'no' && containers.canStartAttached(record)) {
        const sigProxy = sigProxyFlag && !flags.tty;
        return startAndAttach(containers, record, { detachKeys: Buffer.alloc(0), sigProxy, withStdin: Boolean(flags.interactive) });
      }
      const interactive = Boolean(flags.interactive);
      const { session, end } = foregroundSession({ tty: Boolean(flags.tty), interactive, sigProxy: sigProxyFlag });
      try {
        return (await containers.start(record, { attach: true, interactive, session })) ?? 0;
      } finally {
        end();
      }
    }),
  );
}
