// The columns and order of `tsrkt image list` (rkt's rkt/image_list.go):
// --fields picks and orders the columns, --sort (comma-separated, default
// importtime) and --order (asc|desc, default asc) the rows. Pure: parsing,
// sorting and formatting; images.ts gathers the rows.
//
// Formats as rkt's: ID is "sha512-" + 12 hex digits unless --full; SIZE and the
// times are human ("4.26MB", "3 minutes ago") in a table, bytes and Go's
// "2006-01-02 15:04:05.999 -0700 MST" layout (in UTC) with --full; LATEST is
// true or false (rkt's older column: here, the name's tag is "latest").
import { UsageError } from '../../errors.js';
import { shortRktImageId } from '../../engine/rkt/image-id.js';
import { humanSize, timeAgo } from '../format.js';

export const IMAGE_FIELDS = ['id', 'name', 'size', 'importtime', 'lastused', 'latest'] as const;
export type ImageField = (typeof IMAGE_FIELDS)[number];

export const FIELD_HEADERS: Record<ImageField, string> = {
  id: 'ID',
  name: 'NAME',
  size: 'SIZE',
  importtime: 'IMPORT TIME',
  lastused: 'LAST USED',
  latest: 'LATEST',
};

/** What `image list` has always shown (rkt's default adds LAST USED; --fields gives it). */
export const DEFAULT_FIELDS: readonly ImageField[] = ['id', 'name', 'size', 'importtime'];
export const DEFAULT_SORT: readonly ImageField[] = ['importtime'];

/** One row: an image under one of its names. Times in ms since the epoch. */
export interface ImageRow {
  id: string;
  name: string;
  size: number;
  importTime: number;
  lastUsed: number;
  latest: boolean;
}

/** "name,size" -> ['name', 'size']; an unknown name is refused, naming it and the valid ones. */
export function parseFieldList(value: string, flag: '--fields' | '--sort'): ImageField[] {
  const names = value.split(',').map((s) => s.trim());
  if (names.every((n) => n === '')) throw new UsageError(`${flag} needs at least one field: ${IMAGE_FIELDS.join(', ')}`);
  return names
    .filter((n) => n !== '')
    .map((n) => {
      if (!(IMAGE_FIELDS as readonly string[]).includes(n)) throw new UsageError(`unknown field "${n}" for ${flag}: valid fields are ${IMAGE_FIELDS.join(', ')}`);
      return n as ImageField;
    });
}

/** rkt takes "asc" or "desc" in any case. */
export function parseOrder(value: string): 'asc' | 'desc' {
  const v = value.toLowerCase();
  if (v !== 'asc' && v !== 'desc') throw new UsageError(`invalid --order "${value}": use asc or desc`);
  return v;
}

function sortKey(row: ImageRow, field: ImageField): string | number {
  switch (field) {
    case 'id':
      return row.id;
    case 'name':
      return row.name;
    case 'size':
      return row.size;
    case 'importtime':
      return row.importTime;
    case 'lastused':
      return row.lastUsed;
    case 'latest':
      return row.latest ? 1 : 0;
  }
}

/** Sorted by each field in turn (like SQL's ORDER BY a, b), the order applying to all; ties keep their order. */
export function sortImageRows(rows: readonly ImageRow[], fields: readonly ImageField[], order: 'asc' | 'desc'): ImageRow[] {
  const sign = order === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    for (const f of fields) {
      const x = sortKey(a, f);
      const y = sortKey(b, f);
      if (x < y) return -sign;
      if (x > y) return sign;
    }
    return 0;
  });
}

/** Go's "2006-01-02 15:04:05.999 -0700 MST" in UTC: fraction without trailing zeros, none when zero. */
export function rktTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2024-05-01T10:00:00.120Z
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}

export function formatImageCell(row: ImageRow, field: ImageField, opts: { full: boolean; now?: number }): string {
  const when = (ms: number) => (opts.full ? rktTimestamp(ms) : timeAgo(ms, opts.now));
  switch (field) {
    case 'id':
      return opts.full ? row.id : shortRktImageId(row.id);
    case 'name':
      return row.name;
    case 'size':
      return opts.full ? String(row.size) : humanSize(row.size);
    case 'importtime':
      return when(row.importTime);
    case 'lastused':
      return when(row.lastUsed);
    case 'latest':
      return String(row.latest);
  }
}

/** The table: a header (unless noLegend) and one line of cells per row, in `fields` order. */
export function imageTable(rows: readonly ImageRow[], fields: readonly ImageField[], opts: { full: boolean; legend: boolean; now?: number }): string[][] {
  const out = opts.legend ? [fields.map((f) => FIELD_HEADERS[f])] : [];
  for (const r of rows) out.push(fields.map((f) => formatImageCell(r, f, opts)));
  return out;
}
