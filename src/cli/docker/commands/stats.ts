// tsrun stats [-a] [--no-stream] [--no-trunc] [--format table|json|TEMPLATE] [CONTAINER...]:
// live CPU, memory, network, block I/O and pids of containers, as `docker stats` shows them.
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { computeStats, ContainerResources, type ContainerStats, type StatsSample } from '../../../engine/container-resources.js';
import type { ContainerRecord } from '../../../engine/container-store.js';
import { action } from '../../common.js';
import { bytesSize, humanSize } from '../../format.js';
import { containersOf } from '../engine-access.js';
import { checkFormat, printFormatted } from '../list-format.js';
import { printTable } from '../table.js';
import { isatty } from 'node:tty';
import { stdout } from '../../stdout.js';

const INTERVAL_MS = 1000;

// Docker's stats formatter (docker/cli cli/command/container/formatter_stats.go).
const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};
const STATS_TYPE = '*container.statsContext';

interface Flags {
  all?: boolean;
  stream?: boolean;
  trunc?: boolean;
  format?: string;
}

/** The text of each column, as Docker formats them. */
export function statsCells(s: ContainerStats, fullId: boolean) {
  const pair = (a: string, b: string) => `${a} / ${b}`;
  return {
    ID: fullId ? s.id : s.id.slice(0, 12),
    Name: s.name,
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    MemUsage: pair(bytesSize(s.memUsage), bytesSize(s.memLimit)),
    MemPerc: `${s.memPercent.toFixed(2)}%`,
    NetIO: pair(humanSize(s.netRx), humanSize(s.netTx)),
    BlockIO: pair(humanSize(s.blockRead), humanSize(s.blockWrite)),
    PIDs: String(s.pids),
  };
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('display a live stream of container(s) resource usage statistics')
    .argument('[container...]')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', 'table, json, or a Go template such as "{{.Name}} {{.CPUPerc}}" ("table TEMPLATE" adds headers)', 'table')
    .action(
      action('tsrun', async (names: string[], flags: Flags, self: Command) => {
        // A bad template fails now, not after the first sampling interval.
        checkFormat(flags.format, STATS_HEADERS, STATS_TYPE);
        const containers = containersOf(self);
        const resources = new ContainerResources(containers);
        // Named containers are looked up once (a missing one is an error); otherwise the set follows ps.
        const named = names.map((n) => ({ record: containers.lookup(n), label: n }));
        const pick = (): { record: ContainerRecord; label: string }[] =>
          named.length ? named : containers.list(Boolean(flags.all)).map((v) => ({ record: v.record, label: v.record.id.slice(0, 12) }));
        const prev = new Map<string, StatsSample>();
        const take = (record: ContainerRecord) => {
          const s = resources.sample(record);
          const out = computeStats(record.id, record.name, prev.get(record.id), s);
          prev.set(record.id, s);
          return out;
        };
        // CPU % needs two samples: take the first one before the first display.
        for (const { record } of pick()) prev.set(record.id, resources.sample(record));
        // `... | head`: the reader leaving ends us quietly (stdout.write), as it does Docker's CLI.
        const tty = isatty(1);
        for (;;) {
          await sleep(INTERVAL_MS);
          const rows = pick().map(({ record, label }) => ({ label, stats: take(record) }));
          if (flags.stream !== false && tty) stdout.write('\x1b[2J\x1b[H');
          // json (keys sorted, as Docker's) and templates; the default table below.
          const cells = rows.map(({ label, stats }) => ({ ...statsCells(stats, flags.trunc === false), Container: label }));
          if (!printFormatted(flags.format, cells, STATS_HEADERS, STATS_TYPE)) {
            printTable(
              ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'],
              rows.map(({ stats }) => {
                const c = statsCells(stats, flags.trunc === false);
                return [c.ID, c.Name, c.CPUPerc, c.MemUsage, c.MemPerc, c.NetIO, c.BlockIO, c.PIDs];
              }),
            );
          }
          if (flags.stream === false) return 0;
        }
      }),
    );
}
