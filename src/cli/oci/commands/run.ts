// tsrun-oci run: create + start; attached it waits, removes the container
// (unless --keep) and exits with the container's status.
import { resolve } from 'node:path';
import { containerId, flag, int, str, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';
import { bundleOf, CREATE_OPTIONS } from './create.js';

export const command: OciCommand = {
  usage: 'run [--bundle DIR] [--detach] [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N] [--keep] <container-id>',
  options: { ...CREATE_OPTIONS, detach: { value: false, aliases: ['d'] }, keep: { value: false } },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const id = containerId(args, 'run');
    const detach = flag(args, 'detach');
    const status = await ctx.launcher.run(id, bundleOf(args), {
      detach,
      noMonitor: detach,
      inheritStdio: true,
      stdin: true,
      pidFile: str(args, 'pid-file') && resolve(str(args, 'pid-file')!),
      consoleSocket: str(args, 'console-socket') && resolve(str(args, 'console-socket')!),
      preserveFds: int(args, 'preserve-fds', 'run'),
      onWarning: (m) => ctx.warn(m),
    });
    if (detach || !status) return 0;
    if (!flag(args, 'keep')) await ctx.launcher.delete(id);
    return status.exitCode;
  },
};
