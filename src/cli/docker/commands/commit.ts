// tsrun commit [-a AUTHOR] [-m MSG] [-c CHANGE]... [-p=false] CONTAINER [REPO[:TAG]]
import type { Command } from 'commander';
import { commitContainer } from '../../../engine/commit.js';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';
import { containersOf } from '../engine-access.js';
import { stdout } from '../../stdout.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** A Go-style boolean flag value ("true", "false", "1", "0"). */
function boolFlag(name: string, value: string | boolean | undefined): boolean {
  if (value === undefined || value === true) return true;
  if (value === false) return false;
  if (/^(true|1|t)$/i.test(value)) return true;
  if (/^(false|0|f)$/i.test(value)) return false;
  throw new UsageError(`invalid value "${value}" for --${name}: want true or false`);
}

export function registerCommit(program: Command, name = 'commit'): Command {
  return program
    .command(name)
    .description("create a new image from a container's changes")
    .argument('<container>')
    .argument('[repository]', 'REPO[:TAG] for the new image')
    .option('-a, --author <author>', 'author (e.g. "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-m, --message <message>', 'commit message')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)', collect)
    .option('-p, --pause [bool]', 'pause the container during the commit', 'true')
    .action(
      action(
        'tsrun',
        async (container: string, repository: string | undefined, flags: { author?: string; message?: string; change?: string[]; pause?: string | boolean }, self: Command) => {
          const containers = containersOf(self);
          const record = containers.lookup(container);
          const id = await commitContainer(containers, record, {
            author: flags.author,
            message: flags.message,
            changes: flags.change ?? [],
            pause: boolFlag('pause', flags.pause),
            reference: repository,
          });
          stdout.write(`${id}\n`);
        },
      ),
    );
}
