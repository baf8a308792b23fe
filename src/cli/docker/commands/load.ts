// tsrun load [-i FILE] [-q]: images from a docker-archive or OCI layout tar (plain or gzip).
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { loadImages } from '../../../engine/archive.js';
import { recordEvent } from '../../../engine/events.js';
import { UsageError } from '../../../errors.js';
import { action, contextOf } from '../../common.js';
import { stdout } from '../../stdout.js';

export function registerLoad(program: Command, name = 'load'): Command {
  return program
    .command(name)
    .description('load images from a tar archive (read from stdin by default)')
    .option('-i, --input <file>', 'read from a tar archive file instead of stdin')
    .option('-q, --quiet', 'suppress the load output')
    .action(
      action('tsrun', async (flags: { input?: string; quiet?: boolean }, self: Command) => {
        if (!flags.input && process.stdin.isTTY) throw new UsageError('requested load from stdin, but stdin is empty (use -i FILE or redirect)');
        const input = flags.input ? createReadStream(flags.input) : process.stdin;
        const ctx = contextOf(self);
        const r = await loadImages(ctx, input);
        for (const n of [...r.names, ...r.ids]) recordEvent(ctx, 'image', 'load', n, { name: n });
        if (flags.quiet) return;
        for (const n of r.names) stdout.write(`Loaded image: ${n}\n`);
        for (const id of r.ids) stdout.write(`Loaded image ID: ${id}\n`);
      }),
    );
}
