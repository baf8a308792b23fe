// tsrun history [--no-trunc] [-q] [-H=false] [--format json|TEMPLATE] IMAGE
import type { Command } from 'commander';
import { imageHistory, shortId } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';
import { humanSize, timeAgo } from '../../format.js';
import { printFormatted } from '../list-format.js';
import { printTable } from '../table.js';
import { stdout } from '../../stdout.js';

const HEADERS: Record<string, string> = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

/** Docker cuts CREATED BY to 45 characters, ending in an ellipsis. */
function cut(text: string, full: boolean): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return full || oneLine.length <= 45 ? oneLine : `${oneLine.slice(0, 44)}…`;
}

export function registerHistory(program: Command, name = 'history'): Command {
  return program
    .command(name)
    .description('show the history of an image')
    .argument('<image>')
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only show image IDs')
    .option('-H, --human [bool]', 'print sizes and dates in human readable format', 'true')
    .option('--format <format>', 'json, or a Go-style template such as "{{.CreatedBy}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', (image: string, flags: { trunc?: boolean; quiet?: boolean; human?: string | boolean; format?: string }, self: Command) => {
        const full = flags.trunc === false;
        const human = flags.human !== 'false' && flags.human !== false;
        const steps = imageHistory(contextOf(self), image);
        const now = Date.now();
        const rows = steps.map((s) => ({
          ID: s.id ? (full ? s.id : shortId(s.id)) : '<missing>',
          CreatedAt: s.created ?? '',
          CreatedSince: s.created ? (human ? timeAgo(s.created, now) : s.created) : 'N/A',
          CreatedBy: cut(s.createdBy, full),
          Size: human ? humanSize(s.size) : String(s.size),
          Comment: s.comment,
        }));
        if (flags.quiet) {
          for (const r of rows) stdout.write(`${r.ID}\n`);
          return;
        }
        if (printFormatted(flags.format, rows, HEADERS, '*image.historyContext')) return;
        printTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment]));
      }),
    );
}
