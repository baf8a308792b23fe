// tsrun images [-a] [-q] [--digests] [--no-trunc] [--format json|TEMPLATE] [REPOSITORY[:TAG]]
import type { Command } from 'commander';
import { listImages } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';
import { imageRowFields, imageRows, type ImageRow } from '../image-view.js';
import { printFormatted } from '../list-format.js';
import { printTable } from '../table.js';
import { stdout } from '../../stdout.js';

/** "busybox" matches every busybox tag; "busybox:1.36" one of them. */
function matches(row: ImageRow, filter: string): boolean {
  const colon = filter.lastIndexOf(':');
  const [repo, tag] = colon > filter.lastIndexOf('/') ? [filter.slice(0, colon), filter.slice(colon + 1)] : [filter, undefined];
  const norm = (r: string) => r.replace(/^docker\.io\/(library\/)?/, '');
  return norm(row.repository) === norm(repo) && (tag === undefined || row.tag === tag);
}

const HEADERS: Record<string, string> = {
  Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Digest: 'DIGEST', VirtualSize: 'VIRTUAL SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};


export function registerImages(program: Command, name = 'images'): Command {
  return program
    .command(name)
    .description('list images')
    .argument('[repository]', 'only images of this repository[:tag]')
    .option('-a, --all', 'show all images (tsrun keeps no intermediate images, so the same as without)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', 'json, or a Go-style template such as "{{.Repository}}:{{.Tag}}"')
    .action(
      action('tsrun', (filter: string | undefined, flags: { quiet?: boolean; digests?: boolean; trunc?: boolean; format?: string }, self: Command) => {
        const noTrunc = flags.trunc === false;
        let rows = imageRows(listImages(contextOf(self)));
        if (filter) rows = rows.filter((r) => matches(r, filter));
        const now = Date.now();
        const fields = rows.map((r) => imageRowFields(r, noTrunc, now));
        if (flags.quiet) {
          for (const f of fields) stdout.write(`${f.ID}\n`);
          return;
        }
        if (printFormatted(flags.format, fields, HEADERS, '*formatter.imageContext')) return;
        const header = ['REPOSITORY', 'TAG', ...(flags.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
        printTable(header, fields.map((f) => [f.Repository!, f.Tag!, ...(flags.digests ? [f.Digest!] : []), f.ID!, f.CreatedSince!, f.Size!]));
      }),
    );
}
