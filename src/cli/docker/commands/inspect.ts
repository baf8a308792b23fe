// tsrun inspect NAME|ID...: containers first, then images (as Docker resolves it)
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { NotFoundError } from '../../../errors.js';
import { action } from '../../common.js';
import { inspectContainer } from '../container-view.js';

export function registerInspect(program: Command, name = 'inspect'): void {
  program
    .command(name)
    .description('return low-level information on containers')
    .argument('<name...>')
    .option('-f, --format <template>', 'only {{json .}} and {{.Field.Sub}} paths are supported')
    .action(
      action('tsrun', (names: string[], flags: { format?: string }, self: Command) => {
        const containers = containersOf(self);
        const out: unknown[] = [];
        let failed = 0;
        for (const n of names) {
          try {
            const record = containers.lookup(n);
            const paths = containers.store.paths(record.id);
            out.push(inspectContainer({ record, state: containers.state(record) }, { logPath: paths.log, rootfs: paths.rootfs }));
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
            process.stderr.write(`Error: No such object: ${n}\n`);
            failed++;
          }
        }
        if (flags.format) {
          for (const o of out) process.stdout.write(`${renderTemplate(flags.format, o)}\n`);
        } else {
          process.stdout.write(JSON.stringify(out, null, 4) + '\n');
        }
        return failed ? 1 : 0;
      }),
    );
}

/** The subset of Go templates people use with inspect: {{.A.B}} and {{json .A}}. */
export function renderTemplate(template: string, value: unknown): string {
  return template.replace(/\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}/g, (_, json: string | undefined, path: string) => {
    let v: unknown = value;
    for (const key of path.split('.').filter(Boolean)) v = (v as Record<string, unknown> | undefined)?.[key];
    if (json) return JSON.stringify(v);
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '<no value>');
  });
}
