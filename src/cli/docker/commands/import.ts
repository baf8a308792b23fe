// tsrun import [-c CHANGE]... [-m MSG] FILE|- [REPO[:TAG]]: a one-layer image from a tarball (plain or gzip).
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { importImage } from '../../../engine/commit.js';
import { recordEvent } from '../../../engine/events.js';
import { UsageError } from '../../../errors.js';
import { action, contextOf } from '../../common.js';
import { stdout } from '../../stdout.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerImport(program: Command, name = 'import'): Command {
  return program
    .command(name)
    .description('import the contents of a tarball to create a filesystem image')
    .argument('<file>', 'a tar archive (plain or gzip), or - for stdin')
    .argument('[repository]', 'REPO[:TAG] for the new image')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)', collect)
    .option('-m, --message <message>', 'commit message for the imported image')
    .action(
      action('tsrun', async (file: string, repository: string | undefined, flags: { change?: string[]; message?: string }, self: Command) => {
        if (file === '-' && process.stdin.isTTY) throw new UsageError('requested import from stdin, but stdin is a terminal (give a FILE or redirect)');
        const input = file === '-' ? process.stdin : createReadStream(file);
        const ctx = contextOf(self);
        const id = await importImage(ctx, input, { changes: flags.change ?? [], message: flags.message, reference: repository });
        recordEvent(ctx, 'image', 'import', id, { name: repository ?? id });
        stdout.write(`${id}\n`);
      }),
    );
}
