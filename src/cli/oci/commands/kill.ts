// tsrun-oci kill: send a signal (name with or without SIG, or number; default SIGTERM).
import { containerId, flag, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

export const command: OciCommand = {
  usage: 'kill [--all] <container-id> [signal]',
  options: { all: { value: false, aliases: ['a'] } },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const id = containerId(args, 'kill', 2);
    await ctx.launcher.kill(id, args.positional[1] ?? 'SIGTERM', flag(args, 'all'));
    return 0;
  },
};
