// tsrun-oci list: the containers under --root (table or --format json).
import type { Parsed } from '../args.js';
import { str } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';
import { stdout } from '../../stdout.js';
import { UsageError } from '../../../errors.js';

export const command: OciCommand = {
  usage: 'list [--format table|json] [--quiet]',
  options: { format: { value: true, aliases: ['f'] }, quiet: { value: false, aliases: ['q'] } },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const format = str(args, 'format') ?? 'table';
    if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format option "${format}": use table or json`);
    const all = ctx.launcher.list().map((s) => ctx.launcher.describe(s.id));
    if (args.opts.quiet) {
      stdout.write(all.map((s) => s.id + '\n').join(''));
    } else if (format === 'json') {
      stdout.write(JSON.stringify(all.map((d) => ({ ociVersion: d.ociVersion, id: d.id, pid: d.pid ?? 0, status: d.status, bundle: d.bundle, rootfs: d.rootfs ?? '', created: d.created, owner: '' }))) + '\n');
    } else {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED'], ...all.map((d) => [d.id, String(d.pid ?? 0), d.status, d.bundle, d.created])];
      const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      stdout.write(rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]! + 3) : c)).join('')).join('\n') + '\n');
    }
    return 0;
  },
};
