// --format for the list verbs (ps, images), as the Docker CLI reads it: "json" (one
// object per line), "table TEMPLATE" (a header row, then aligned columns), or a
// bare Go-style template such as "{{.ID}}\t{{.Names}}", with \t and \n escapes.
import { renderTemplate } from './inspect-output.js';
import { printTable } from './table.js';

type Row = Record<string, string>;

/** The Docker CLI reads \t and \n in a --format template as a tab and a newline. */
function unescape(template: string): string {
  return template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/**
 * Prints `rows` in `format`; false when the format is the default table (the caller prints it).
 * `headers` names the columns of "table" templates (Docker's: ID -> CONTAINER ID, ...).
 */
export function printFormatted(format: string | undefined, rows: Row[], headers: Record<string, string>): boolean {
  if (!format || format === 'table') return false;
  if (format === 'json') {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    return true;
  }
  const table = /^table\s+/.exec(format);
  const template = table ? format.slice(table[0].length) : format;
  if (table) {
    const keys = [...template.matchAll(/\{\{\s*\.(\w+)\s*\}\}/g)].map((m) => m[1]!);
    printTable(
      keys.map((k) => headers[k] ?? k.toUpperCase()),
      rows.map((row) => keys.map((k) => row[k] ?? '')),
    );
    return true;
  }
  for (const row of rows) process.stdout.write(`${renderTemplate(unescape(template), row)}\n`);
  return true;
}
