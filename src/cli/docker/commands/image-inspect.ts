// tsrun image inspect [-f TEMPLATE] IMAGE...
import type { Command } from 'commander';
import { inspectImage } from '../../../engine/images.js';
import { openStore } from '../../../engine/pull.js';
import { NotFoundError } from '../../../errors.js';
import { action, contextOf } from '../../common.js';
import { EXIT_TSRUN, reportError } from '../../exit.js';
import { imageInspectJson } from '../image-view.js';
import { printInspected } from '../inspect-output.js';

export function registerImageInspect(program: Command, name = 'inspect'): Command {
  return program
    .command(name)
    .description('display detailed information on one or more images')
    .argument('<image...>')
    .option('-f, --format <template>', "a Go template, as Docker's (e.g. {{.Id}}, {{json .Config}}, {{range .RepoTags}}{{.}} {{end}})")
    .action(
      action('tsrun', (names: string[], flags: { format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const layers = openStore(ctx).layers;
        const out: unknown[] = [];
        let failed = 0;
        for (const n of names) {
          try {
            const rec = inspectImage(ctx, n);
            out.push(imageInspectJson(rec, rec.layers.map((l) => layers.treePath(l.chainId)).reverse()));
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
            reportError('tsrun', err);
            failed++;
          }
        }
        // What was found (`[]` when nothing was) still goes to stdout: scripts parse it.
        printInspected(out, flags.format);
        return failed ? EXIT_TSRUN : 0;
      }),
    );
}
