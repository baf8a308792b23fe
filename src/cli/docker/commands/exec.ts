// tsrun exec [-i] [-t] [-d] [-e VAR] [-w DIR] [-u USER] CONTAINER COMMAND [ARG...]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action } from '../../common.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('execute a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .passThroughOptions()
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-d, --detach', 'detached mode: run command in the background')
    .option('-e, --env <VAR=value>', 'set environment variables', collect)
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('--privileged', 'give extended privileges to the command')
    .action(
      action('tsrun', async (name: string, command: string[], flags: Record<string, unknown>, self: Command) => {
        const containers = containersOf(self);
        const code = await containers.exec(containers.lookup(name), {
          command,
          env: flags.env as string[] | undefined,
          workdir: flags.workdir as string | undefined,
          user: flags.user as string | undefined,
          tty: Boolean(flags.tty),
          interactive: Boolean(flags.interactive),
          detach: Boolean(flags.detach),
          privileged: Boolean(flags.privileged),
        });
        return code ?? 0;
      }),
    );
}
