// tsrun export [-o FILE] CONTAINER: the container's filesystem as a tar archive.
import type { Command } from 'commander';
import { ContainerFs } from '../../../engine/container-fs.js';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';
import { endOnBrokenStdout } from '../../exit.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description("export a container's filesystem as a tar archive (streamed to stdout by default; volumes are not included)")
    .argument('<container>')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(
      action('tsrun', async (name: string, flags: { output?: string }, self: Command) => {
        const containers = containersOf(self);
        const record = containers.lookup(name);
        const fs = new ContainerFs(containers);
        if (flags.output) {
          await fs.exportToFile(record, flags.output);
          return;
        }
        if (process.stdout.isTTY) throw new UsageError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        try {
          await fs.export(record, process.stdout);
        } catch (err) {
          endOnBrokenStdout('tsrun', err); // the reader went away (| head): quietly, as Docker
        }
      }),
    );
}
