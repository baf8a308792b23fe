// tsrun-oci delete: remove a stopped container (--force: kill it first; a missing one is fine).
import { NotFoundError } from '../../../errors.js';
import { containerId, flag, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';

export const command: OciCommand = {
  usage: 'delete [--force] <container-id>',
  options: { force: { value: false, aliases: ['f'] } },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const id = containerId(args, 'delete');
    try {
      await ctx.launcher.delete(id, flag(args, 'force'));
    } catch (err) {
      if (err instanceof NotFoundError && flag(args, 'force')) return 0;
      throw err;
    }
    return 0;
  },
};
