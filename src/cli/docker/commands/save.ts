// tsrun save [-o FILE] IMAGE...: a tar that is both an OCI layout and a docker-archive.
import type { Command } from 'commander';
import { saveImages, saveImagesToFile } from '../../../engine/archive.js';
import { recordEvent } from '../../../engine/events.js';
import { UsageError } from '../../../errors.js';
import { action, contextOf } from '../../common.js';
import { endOnBrokenStdout } from '../../exit.js';

export function registerSave(program: Command, name = 'save'): Command {
  return program
    .command(name)
    .description('save one or more images to a tar archive (streamed to stdout by default)')
    .argument('<image...>')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(
      action('tsrun', async (names: string[], flags: { output?: string }, self: Command) => {
        const ctx = contextOf(self);
        const saved = () => names.forEach((n) => recordEvent(ctx, 'image', 'save', n, { name: n }));
        if (flags.output) {
          await saveImagesToFile(ctx, names, flags.output);
          saved();
          return;
        }
        if (process.stdout.isTTY) throw new UsageError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        try {
          await saveImages(ctx, names, process.stdout);
          saved();
        } catch (err) {
          endOnBrokenStdout('tsrun', err); // the reader went away (| head): quietly, as Docker
        }
      }),
    );
}
