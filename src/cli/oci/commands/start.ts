// tsrun-oci start: let a created container run its process.
import { containerId, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

export const command: OciCommand = {
  usage: 'start <container-id>',
  options: {},
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    await ctx.launcher.start(containerId(args, 'start'));
    return 0;
  },
};
