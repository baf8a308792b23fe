// `tsrkt image list`'s --fields, --sort and --order (rkt's rkt/image_list.go): parsing, sorting, cells.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FIELDS, formatImageCell, IMAGE_FIELDS, imageTable, parseFieldList, parseOrder, rktTimestamp, sortImageRows, type ImageRow,
} from '../../../../src/cli/rkt/image-list.js';
import { UsageError } from '../../../../src/errors.js';

const ID_A = `sha512-${'a'.repeat(64)}`;
const ID_B = `sha512-${'b'.repeat(64)}`;
const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const rows: ImageRow[] = [
  { id: ID_A, name: 'busybox:latest', size: 4_300_000, importTime: T0 + 2000, lastUsed: T0 + 9000, latest: true },
  { id: ID_B, name: 'alpine:3.19', size: 7_800_000, importTime: T0, lastUsed: T0 + 5000, latest: false },
  { id: ID_A, name: 'busybox:1.36', size: 4_300_000, importTime: T0 + 2000, lastUsed: T0 + 9000, latest: false },
];
const names = (r: ImageRow[]) => r.map((x) => x.name);

describe('parseFieldList', () => {
  it('takes rkt field names, comma-separated, in the given order', () => {
    expect(parseFieldList('name,id', '--fields')).toEqual(['name', 'id']);
    expect(parseFieldList(' size , importtime,lastused,latest ', '--fields')).toEqual(['size', 'importtime', 'lastused', 'latest']);
    expect(parseFieldList(IMAGE_FIELDS.join(','), '--sort')).toEqual([...IMAGE_FIELDS]);
  });

  it('refuses an unknown field, naming it, the flag and the valid ones', () => {
    expect(() => parseFieldList('id,bogus', '--fields')).toThrow(UsageError);
    expect(() => parseFieldList('id,bogus', '--fields')).toThrow('unknown field "bogus" for --fields: valid fields are id, name, size, importtime, lastused, latest');
    expect(() => parseFieldList('import time', '--sort')).toThrow(/unknown field "import time" for --sort/);
    expect(() => parseFieldList('', '--sort')).toThrow(/--sort needs at least one field/);
  });

  it('the default columns are what image list always showed', () => {
    expect(DEFAULT_FIELDS).toEqual(['id', 'name', 'size', 'importtime']);
  });
});

describe('parseOrder', () => {
  it('takes asc or desc in any case, refuses anything else', () => {
    expect(parseOrder('asc')).toBe('asc');
    expect(parseOrder('DESC')).toBe('desc');
    expect(() => parseOrder('up')).toThrow('invalid --order "up": use asc or desc');
  });
});

describe('sortImageRows', () => {
  it('sorts by each field in turn, the order applying to all; ties keep their order', () => {
    expect(names(sortImageRows(rows, ['importtime'], 'asc'))).toEqual(['alpine:3.19', 'busybox:latest', 'busybox:1.36']);
    expect(names(sortImageRows(rows, ['importtime'], 'desc'))).toEqual(['busybox:latest', 'busybox:1.36', 'alpine:3.19']);
    expect(names(sortImageRows(rows, ['name'], 'asc'))).toEqual(['alpine:3.19', 'busybox:1.36', 'busybox:latest']);
    expect(names(sortImageRows(rows, ['size', 'name'], 'desc'))).toEqual(['alpine:3.19', 'busybox:latest', 'busybox:1.36']);
    expect(names(sortImageRows(rows, ['latest', 'name'], 'asc'))).toEqual(['alpine:3.19', 'busybox:1.36', 'busybox:latest']);
    expect(names(sortImageRows(rows, ['lastused'], 'asc'))).toEqual(['alpine:3.19', 'busybox:latest', 'busybox:1.36']);
  });

  it('leaves its input alone', () => {
    const before = names(rows);
    sortImageRows(rows, ['name'], 'desc');
    expect(names(rows)).toEqual(before);
  });
});

describe('cells and table', () => {
  const now = T0 + 3 * 60_000;

  it('shows short IDs, human sizes and times in a table; --full the whole ID, bytes and Go timestamps', () => {
    const r = rows[1]!;
    expect(formatImageCell(r, 'id', { full: false })).toBe(`sha512-${'b'.repeat(12)}`);
    expect(formatImageCell(r, 'id', { full: true })).toBe(ID_B);
    expect(formatImageCell(r, 'size', { full: false })).toBe('7.8MB');
    expect(formatImageCell(r, 'size', { full: true })).toBe('7800000');
    expect(formatImageCell(r, 'importtime', { full: false, now })).toBe('3 minutes ago');
    expect(formatImageCell(r, 'importtime', { full: true })).toBe('2024-05-01 10:00:00 +0000 UTC');
    expect(formatImageCell(r, 'lastused', { full: true })).toBe('2024-05-01 10:00:05 +0000 UTC');
    expect(formatImageCell(r, 'latest', { full: false })).toBe('false');
    expect(formatImageCell(rows[0]!, 'latest', { full: false })).toBe('true');
  });

  it("Go's .999 fraction: trailing zeros dropped, none when zero", () => {
    expect(rktTimestamp(T0 + 240)).toBe('2024-05-01 10:00:00.24 +0000 UTC');
    expect(rktTimestamp(T0 + 7)).toBe('2024-05-01 10:00:00.007 +0000 UTC');
  });

  it('has rkt headers in --fields order, and none with --no-legend', () => {
    const t = imageTable([rows[1]!], ['latest', 'lastused', 'name', 'importtime', 'size', 'id'], { full: true, legend: true });
    expect(t[0]).toEqual(['LATEST', 'LAST USED', 'NAME', 'IMPORT TIME', 'SIZE', 'ID']);
    expect(t[1]).toEqual(['false', '2024-05-01 10:00:05 +0000 UTC', 'alpine:3.19', '2024-05-01 10:00:00 +0000 UTC', '7800000', ID_B]);
    expect(imageTable([rows[1]!], ['name'], { full: false, legend: false })).toEqual([['alpine:3.19']]);
  });
});
