// tsrun pod logs [-f] [-t] [--tail N] [--since T] [--until T] [-c CONTAINER] [--names] POD:
// the members' logs, each line prefixed with its container (short id, or name with --names), as Podman does
import type { Command } from 'commander';
import type { ContainerView } from '../../../engine/containers.js';
import { readLogs, type LogEntry } from '../../../engine/logs.js';
import { NotFoundError, UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { podsOf } from '../pod-access.js';
import { endOnBrokenStdout } from '../../exit.js';

interface Flags {
  follow?: boolean;
  timestamps?: boolean;
  tail: string;
  since?: string;
  until?: string;
  container?: string;
  names?: boolean;
}

export function registerPodLogs(pod: Command): void {
  pod
    .command('logs')
    .description('fetch the logs of the containers in a pod')
    .argument('<pod>')
    .option('-f, --follow', 'follow log output')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'number of lines to show from the end of each container\'s log', 'all')
    .option('--since <time>', 'show logs since a timestamp or relative time (e.g. 42m)')
    .option('--until <time>', 'show logs before a timestamp or relative time')
    .option('-c, --container <name>', 'only this container of the pod')
    .option('--names', 'prefix lines with container names instead of IDs')
    .action(
      action('tsrun', async (name: string, flags: Flags, self: Command) => {
        const pods = podsOf(self);
        const record = pods.lookup(name);
        let members = pods.members(record);
        if (flags.container) {
          const wanted = pods.containers.lookup(flags.container);
          members = members.filter((m) => m.record.id === wanted.id);
          if (members.length === 0) throw new NotFoundError('container in pod', `${flags.container} (pod ${record.name})`);
        }
        let tail: number | undefined;
        if (flags.tail !== 'all') {
          tail = Number(flags.tail);
          if (!Number.isInteger(tail) || tail < 0) throw new UsageError(`invalid --tail value "${flags.tail}": use a number or "all"`);
        }
        // `... | head`: the reader leaving ends us quietly, as it does Docker's CLI.
        process.stdout.on('error', (err) => endOnBrokenStdout('tsrun', err));
        const prefix = (m: ContainerView) => (flags.names ? m.record.name : m.record.id.slice(0, 12));
        const write = (m: ContainerView, e: LogEntry) => {
          const out = e.stream === 'stderr' ? process.stderr : process.stdout;
          out.write(`${prefix(m)} ${flags.timestamps ? `${e.time} ` : ''}${e.log}`);
        };
        const entries = (m: ContainerView) =>
          readLogs(pods.containers.logPath(m.record), {
            follow: flags.follow,
            tail,
            since: flags.since,
            until: flags.until,
            isRunning: () => pods.containers.isRunning(m.record),
          });
        if (flags.follow) {
          await Promise.all(members.map(async (m) => {
            for await (const e of entries(m)) write(m, e);
          }));
          return;
        }
        // Without -f: every member's lines merged in time order.
        const all: { m: ContainerView; e: LogEntry }[] = [];
        for (const m of members) for await (const e of entries(m)) all.push({ m, e });
        all.sort((a, b) => a.e.time.localeCompare(b.e.time));
        for (const { m, e } of all) write(m, e);
      }),
    );
}
