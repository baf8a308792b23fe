// --format for the list verbs (ps, images, history, volume ls), as the Docker CLI reads it:
// "json" (one object per line), "table TEMPLATE" (a header row, then aligned columns), or a
// bare Go-style template such as "{{.ID}}\t{{.Names}}", with \t and \n escapes.
import { renderTemplate, type TemplateMode } from './go-template.js';
import { printTable } from './table.js';

type Row = Record<string, string>;

/** The Docker CLI reads \t and \n in a --format template as a tab and a newline. */
function unescape(template: string): string {
  return template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/**
 * Prints `rows` in `format`; false when the format is the default table (the caller prints it).
 * `headers` names every field of a row and the column of "table" templates (Docker's:
 * ID -> CONTAINER ID, ...); `type` is the Go type Docker names when a field is unknown.
 */
export function printFormatted(format: string | undefined, rows: Row[], headers: Record<string, string>, type: string): boolean {
  if (!format || format === 'table') return false;
  if (format === 'json') {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    return true;
  }
  const table = /^table\s+/.exec(format);
  const template = unescape(table ? format.slice(table[0].length) : format);
  // Check the field names against the known set first: an error even with no rows, before any output.
  const mode: TemplateMode = { kind: 'struct', type };
  renderTemplate(template, Object.fromEntries(Object.keys(headers).map((k) => [k, ''])), mode);
  if (table) {
    const keys = [...template.matchAll(/\{\{\s*\.(\w+)\s*\}\}/g)].map((m) => m[1]!);
    printTable(
      keys.map((k) => headers[k] ?? k.toUpperCase()),
      rows.map((row) => keys.map((k) => row[k] ?? '')),
    );
    return true;
  }
  process.stdout.write(rows.map((row) => `${renderTemplate(template, row, mode)}\n`).join(''));
  return true;
}
