// tsrun cp [-a] [-L] [-q] CONTAINER:SRC DEST|-  /  tsrun cp [-a] [-L] [-q] SRC|- CONTAINER:DEST
import type { Command } from 'commander';
import { ContainerFs } from '../../../engine/container-fs.js';
import { CopyPathError, humanSize, splitCpArg } from '../../../engine/cp-rules.js';
import { describeError, UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';

interface CpFlags {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

export function registerCp(program: Command): void {
  program
    .command('cp')
    .description(
      'copy files/folders between a container and the local filesystem\n' +
        "use '-' as the source to read a tar archive from stdin and extract it to a directory in the container,\n" +
        "or as the destination to stream a tar archive of the container's source to stdout",
    )
    .usage('[options] CONTAINER:SRC_PATH DEST_PATH|-\n       tsrun cp [options] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<source>')
    .argument('<destination>')
    .option('-a, --archive', 'archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'suppress the summary line (it is only printed when stdout is a terminal)')
    .action(
      action('tsrun', async (source: string, destination: string, flags: CpFlags, self: Command) => {
        if (source === '') throw new UsageError('source can not be empty');
        if (destination === '') throw new UsageError('destination can not be empty');
        const from = splitCpArg(source);
        const to = splitCpArg(destination);
        if (from.container !== undefined && to.container !== undefined) throw new UsageError('copying between containers is not supported');
        if (from.container === undefined && to.container === undefined) throw new UsageError('must specify at least one container source');
        const containers = containersOf(self);
        const fs = new ContainerFs(containers);
        const name = (from.container ?? to.container)!;
        const record = containers.lookup(name);
        try {
          const result =
            from.container !== undefined
              ? await fs.copyFrom(record, name, from.path, to.path === '-' ? { stream: process.stdout } : { path: to.path }, { followLink: flags.followLink })
              : await fs.copyTo(record, name, from.path === '-' ? { stream: process.stdin } : { path: from.path }, to.path, {
                  followLink: flags.followLink,
                  archive: flags.archive,
                });
          if (!flags.quiet && process.stdout.isTTY && result.destination !== '-') {
            process.stderr.write(`Successfully copied ${humanSize(result.bytes)} to ${result.destination}\n`);
          }
        } catch (err) {
          // Docker's CLI exits 1 for a missing file and its path rules; tsrun's own errors keep 125.
          if (!(err instanceof CopyPathError)) throw err;
          process.stderr.write(`tsrun: ${describeError(err)}\n`);
          return 1;
        }
      }),
    );
}
