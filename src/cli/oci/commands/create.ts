// tsrun-oci create: set the container up and leave it waiting for `start`.
// Its stdio are ours (the pipes of conmon or the shim); no process of ours stays.
import { resolve } from 'node:path';
import { containerId, flag, int, str, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

export const CREATE_OPTIONS = {
  bundle: { value: true, aliases: ['b'] },
  'pid-file': { value: true },
  'console-socket': { value: true },
  'preserve-fds': { value: true },
  'no-pivot': { value: false },
  'no-new-keyring': { value: false },
};

export function bundleOf(args: Parsed): string {
  return resolve(str(args, 'bundle') ?? process.cwd());
}

export const command: OciCommand = {
  usage: 'create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N] <container-id>',
  options: CREATE_OPTIONS,
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const id = containerId(args, 'create');
    void flag(args, 'no-pivot'); // always pivot_root: the rootfs is never the host's root here
    await ctx.launcher.create(id, bundleOf(args), {
      detach: true,
      noMonitor: true,
      inheritStdio: true,
      pidFile: str(args, 'pid-file') && resolve(str(args, 'pid-file')!),
      consoleSocket: str(args, 'console-socket') && resolve(str(args, 'console-socket')!),
      preserveFds: int(args, 'preserve-fds', 'create'),
      onWarning: (m) => ctx.warn(m),
    });
    return 0;
  },
};
