// tsrun events / tsrun system events [--since T] [--until T] [-f key=value...] [--format F]
// Reads the engine's events log (engine/events.ts). As Docker's: past events only when
// --since or --until is given; without --until it follows new ones until interrupted.
import type { Command } from 'commander';
import { matchesEvent, parseEventFilters } from '../../../engine/event-filter.js';
import { followEvents, readPastEvents, type EngineEvent } from '../../../engine/events.js';
import { action, contextOf } from '../../common.js';
import { endOnBrokenStdout } from '../../exit.js';
import { eventPrinter } from '../event-format.js';
import { parseTimestampFlag } from '../../../engine/timestamps.js';
import { stdout } from '../../stdout.js';

const collect = (v: string, acc: string[]) => [...acc, v];

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description('get real time events from tsrun')
    .option('--since <time>', 'show all events created since timestamp')
    .option('--until <time>', 'stream events until this timestamp')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', "format output using a custom template: 'json' or a Go template")
    .action(
      action('tsrun', async (flags: { since?: string; until?: string; filter: string[]; format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const now = Date.now();
        const since = flags.since !== undefined ? parseTimestampFlag(flags.since, now) : undefined;
        const until = flags.until !== undefined ? parseTimestampFlag(flags.until, now) : undefined;
        const filters = parseEventFilters(flags.filter);
        const print = eventPrinter(flags.format);
        // Microsecond precision, so a bound with a fraction of a millisecond cuts where it says.
        const ms = (ev: EngineEvent) => Number(BigInt(ev.timeNano) / 1_000n) / 1000;
        const emit = (ev: EngineEvent) => {
          if (since !== undefined && ms(ev) < since) return;
          if (matchesEvent(ev, filters)) stdout.write(`${print(ev)}\n`);
        };
        try {
          const { events, cursor } = readPastEvents(ctx);
          if (since !== undefined || until !== undefined) {
            for (const ev of events) if (until === undefined || ms(ev) <= until) emit(ev);
          }
          if (until !== undefined && until <= Date.now()) return;
          await followEvents(ctx, cursor, emit, { until });
        } catch (err) {
          endOnBrokenStdout('tsrun', err); // the reader went away (| head): quietly, as Docker
        }
      }),
    );
}
