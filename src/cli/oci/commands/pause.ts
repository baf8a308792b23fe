// tsrun-oci pause: freeze every process of the container (cgroup freezer).
import { containerId, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

export const command: OciCommand = {
  usage: 'pause <container-id>',
  options: {},
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    await ctx.launcher.pause(containerId(args, 'pause'));
    return 0;
  },
};
