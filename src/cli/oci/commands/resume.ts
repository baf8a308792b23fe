// tsrun-oci resume: thaw a paused container.
import { containerId, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

export const command: OciCommand = {
  usage: 'resume <container-id>',
  options: {},
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    await ctx.launcher.resume(containerId(args, 'resume'));
    return 0;
  },
};
