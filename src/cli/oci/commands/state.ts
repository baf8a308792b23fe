// tsrun-oci state: the OCI state document, with runc's extra fields.
import { containerId, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';
import { stdout } from '../../stdout.js';

export const command: OciCommand = {
  usage: 'state <container-id>',
  options: {},
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const d = ctx.launcher.describe(containerId(args, 'state'));
    // runc's field order; pid 0 once stopped.
    const out: Record<string, unknown> = {
      ociVersion: d.ociVersion,
      id: d.id,
      pid: d.pid ?? 0,
      status: d.status,
      bundle: d.bundle,
      rootfs: d.rootfs ?? '',
      created: d.created,
      owner: '',
    };
    if (d.annotations) out.annotations = d.annotations;
    stdout.write(JSON.stringify(out, null, 2) + '\n');
    return 0;
  },
};
