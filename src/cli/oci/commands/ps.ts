// tsrun-oci ps: the container's processes (its cgroup's pids), as JSON or a ps table.
import { execFileSync } from 'node:child_process';
import { UsageError } from '../../../errors.js';
import { str, type Parsed } from '../args.js';
import type { OciCommand, OciContext } from '../context.js';
import { stdout } from '../../stdout.js';

export const command: OciCommand = {
  usage: 'ps [--format table|json] <container-id> [ps options]',
  stopAtPositional: true,
  options: { format: { value: true, aliases: ['f'] } },
  async run(ctx: OciContext, args: Parsed): Promise<number> {
    const [id, ...psArgs] = args.positional;
    if (!id) throw new UsageError('ps: a container id is required');
    const pids = ctx.launcher.cgroupOf(id).pids().sort((a, b) => a - b);
    const format = str(args, 'format') ?? 'table';
    if (format === 'json') {
      stdout.write(JSON.stringify(pids) + '\n');
      return 0;
    }
    if (format !== 'table') throw new UsageError(`ps: --format must be table or json, not "${format}"`);
    const out = execFileSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' }).split('\n');
    const header = out[0] ?? '';
    const pidCol = header.trim().split(/\s+/).indexOf('PID');
    if (pidCol < 0) throw new UsageError('ps: the ps options must keep a PID column');
    const wanted = new Set(pids.map(String));
    const rows = out.slice(1).filter((l) => wanted.has(l.trim().split(/\s+/)[pidCol] ?? ''));
    stdout.write([header, ...rows].join('\n') + '\n');
    return 0;
  },
};
