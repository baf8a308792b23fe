// Column output like Docker's tabwriter: columns padded to their widest cell, three spaces apart.
import { stdout } from '../stdout.js';

export function printTable(header: string[], rows: string[][], out: { write(text: string): unknown } = stdout): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  out.write([line(header), ...rows.map(line)].join('\n') + '\n');
}
