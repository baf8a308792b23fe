// --format for the list verbs (ps, images, history, volume ls, network ls, stats, pod ps, system df), as the
// Docker CLI reads it: "json" (one object per line), "table TEMPLATE" (a header row, then
// aligned columns), or a bare Go template such as "{{.ID}}\t{{.Names}}", with \t and \n escapes.
import { checkRowFields, executeTemplate, parseTemplate, renderHeader, type TemplateMode } from './go-template.js';
import { stdout } from '../stdout.js';

/** A row: its fields, and Docker's methods as functions (Label(name), or a lazily computed Size). */
export type Row = Record<string, unknown>;

/** The Docker CLI reads \t and \n in a --format template as a tab and a newline. */
function unescape(template: string): string {
  return template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** Docker's MarshalJSON of a row: every method without arguments, keys sorted. */
function rowJson(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(row).sort()) {
    const v = row[key];
    if (typeof v !== 'function') out[key] = v;
    else if (v.length === 0) out[key] = (v as () => unknown).call(row);
  }
  return out;
}

/** Docker's header for {{.Label "com.example.some-label"}}: the last dotted part, - and _ as spaces. */
function labelHeader(name: string): string {
  return (name.split('.').pop() ?? name).replace(/[-_]/g, ' ');
}

/** Like Docker's tabwriter: every tab-ended cell padded to its column's widest, three spaces apart. */
function alignTabs(lines: string[]): string {
  const widths: number[] = [];
  const cells = lines.map((l) => l.split('\t'));
  for (const row of cells) row.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((row) => row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]! + 3) : c)).join('').trimEnd()).join('\n') + '\n';
}

/** Throws what printFormatted would on a bad template (syntax, unknown field), without printing. */
export function checkFormat(format: string | undefined, headers: Record<string, string>, type: string, methods: string[] = []): void {
  if (!format || format === 'table' || format === 'json') return;
  const table = /^table\s+/.exec(format);
  checkRowFields(parseTemplate(unescape(table ? format.slice(table[0].length) : format)), [...Object.keys(headers), ...methods], type);
}

/**
 * Prints `rows` in `format`; false when the format is the default table (the caller prints it).
 * `headers` names every field of a row and the column of "table" templates (Docker's:
 * ID -> CONTAINER ID, ...); `type` is the Go type Docker names when a field is unknown;
 * `methods` are the fields taking arguments (Label), which have no header.
 */
export function printFormatted(format: string | undefined, rows: Row[], headers: Record<string, string>, type: string, methods: string[] = []): boolean {
  if (!format || format === 'table') return false;
  if (format === 'json') {
    stdout.write(rows.map((row) => `${JSON.stringify(rowJson(row))}\n`).join(''));
    return true;
  }
  const table = /^table\s+/.exec(format);
  const parsed = parseTemplate(unescape(table ? format.slice(table[0].length) : format));
  // Check the field names first: an error even with no rows, before any output.
  checkRowFields(parsed, [...Object.keys(headers), ...methods], type);
  const mode: TemplateMode = { kind: 'struct', type };
  // {{json .}} on a row is Docker's MarshalJSON of it.
  const context = (row: Row) => Object.defineProperty({ ...row }, 'toJSON', { value: () => rowJson(row), enumerable: false });
  // Every row is rendered before anything is written, so an error on one prints nothing.
  const lines = rows.map((row) => `${executeTemplate(parsed, context(row), mode)}\n`).join('');
  if (!table) {
    stdout.write(lines);
    return true;
  }
  const header = renderHeader(parsed, { ...headers, Label: labelHeader });
  stdout.write(alignTabs(`${header}\n${lines}`.replace(/\n$/, '').split('\n')));
  return true;
}
