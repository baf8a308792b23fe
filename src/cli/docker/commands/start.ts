// tsrun start [-a] [-i] [--detach-keys KEYS] CONTAINER...
import { isatty } from 'node:tty';
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { EXIT_TSRUN, reportError } from '../../exit.js';
import { detachKeysFor, foregroundSession, startAndAttach } from '../attach.js';
import { stdout } from '../../stdout.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start one or more stopped containers')
    .argument('<container...>')
    .option('-a, --attach', 'attach STDOUT/STDERR and forward signals')
    .option('-i, --interactive', 'attach the container\'s STDIN')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container (default: detachKeys of the Docker config, else ctrl-p,ctrl-q)')
    .action(
      action('tsrun', async (names: string[], flags: { attach?: boolean; interactive?: boolean; detachKeys?: string }, self: Command) => {
        const containers = containersOf(self);
        // As Docker: -i attaches too.
        const attach = Boolean(flags.attach || flags.interactive);
        if (attach && names.length > 1) throw new UsageError('you cannot start and attach multiple containers at once');
        let failed = 0;
        for (const name of names) {
          try {
            const record = containers.lookup(name);
            if (attach) {
              // Our terminal to the container's pty: started detached with us attached, so the detach keys work.
              if (flags.interactive && record.config.tty && record.config.openStdin) {
                if (!isatty(0)) throw new UsageError('the input device is not a TTY');
                const detachKeys = detachKeysFor(flags.detachKeys);
                if (containers.canStartAttached(record)) return await startAndAttach(containers, record, { detachKeys, sigProxy: true });
              }
              // Docker closes the container's stdin at the end of ours only with StdinOnce (-i given
              // when it was created attached) and no tty. Otherwise its stdin stays open: the monitor
              // holds it and we are one client (no detach keys without a tty, no signal proxy with one).
              const closedByUs = Boolean(flags.interactive && record.config.stdinOnce) && !record.config.tty;
              // A restart policy outlives this client too: the monitor applies it after we return.
              const outlivesUs = (record.config.openStdin && !closedByUs) || record.hostConfig.restartPolicy.name !== 'no';
              if (outlivesUs && containers.canStartAttached(record)) {
                const o = { detachKeys: Buffer.alloc(0), sigProxy: !record.config.tty, withStdin: Boolean(flags.interactive) };
                return await startAndAttach(containers, record, o);
              }
              // As run's: signals forwarded once (none with a tty, as Docker's), our terminal kept from the container.
              const interactive = Boolean(flags.interactive);
              const { session, end } = foregroundSession({ tty: record.config.tty, interactive, sigProxy: true });
              try {
                return (await containers.start(record, { attach: true, interactive, session })) ?? 0;
              } finally {
                end();
              }
            }
            await containers.start(record, { attach: false });
            stdout.write(`${name}\n`);
          } catch (err) {
            if (names.length === 1) throw err;
            reportError('tsrun', err);
            failed++;
          }
        }
        return failed ? EXIT_TSRUN : 0;
      }),
    );
}
