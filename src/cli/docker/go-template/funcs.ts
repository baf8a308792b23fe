// Template functions: Go's built-ins and the ones Docker's CLI adds (docs.docker.com/config/formatting).
import { FuncError, formatValue, goType, isObject, NIL, truthy } from './values.js';

export interface TemplateFunc {
  /** Fixed arity, or the least number of arguments when `variadic`. */
  arity: number;
  variadic?: boolean;
  fn: (...args: unknown[]) => unknown;
}

function str(v: unknown): string {
  if (typeof v !== 'string') throw new FuncError(`wrong type for value; expected string; got ${goType(v)}`);
  return v;
}

function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new FuncError(`wrong type for value; expected int; got ${goType(v)}`);
  return v;
}

/** Go's comparable basic values: same kind on both sides, else "incompatible types". */
function basic(a: unknown, b: unknown): [string | number | boolean, string | number | boolean] {
  for (const v of [a, b]) {
    if (typeof v === 'object' || typeof v === 'function' || v === NIL) throw new FuncError(`non-comparable type ${formatValue(v)}: ${goType(v)}`);
  }
  if (typeof a !== typeof b) throw new FuncError('incompatible types for comparison');
  return [a as string, b as string];
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  const nullish = (v: unknown) => v === undefined || v === null || v === NIL;
  return rest.some((b) => {
    if (nullish(a) || nullish(b)) return nullish(a) && nullish(b);
    const [x, y] = basic(a, b);
    return x === y;
  });
}

function less(a: unknown, b: unknown): boolean {
  const [x, y] = basic(a, b);
  if (typeof x === 'boolean') throw new FuncError('invalid type for comparison');
  return x < y;
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (v === undefined || v === null || v === NIL) throw new FuncError('index of untyped nil');
    if (Array.isArray(v) || typeof v === 'string') {
      const i = int(k);
      if (i < 0 || i >= v.length) throw new FuncError(`index out of range: ${i}`);
      v = typeof v === 'string' ? Buffer.from(v)[i] : v[i];
    } else if (isObject(v)) {
      const key = str(k);
      // A missing key is the map's zero value: "" for Docker's map[string]string (labels), else none.
      if (!Object.hasOwn(v, key)) v = Object.values(v).every((x) => typeof x === 'string') ? '' : undefined;
      else v = v[key];
    } else throw new FuncError(`can't index item of type ${goType(v)}`);
  }
  return v;
}

function slice(item: unknown, ...bounds: unknown[]): unknown {
  if (typeof item !== 'string' && !Array.isArray(item)) throw new FuncError(`can't slice item of type ${goType(item)}`);
  const [from = 0, to = item.length] = bounds.map(int);
  if (from < 0 || to > item.length || from > to) throw new FuncError(`index out of range: ${from}:${to}`);
  return item.slice(from, to);
}

function len(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isObject(v)) return Object.keys(v).length;
  throw new FuncError(`len of type ${goType(v)}`);
}

/** fmt.Sprint: a space between operands when neither is a string. */
function sprint(args: unknown[]): string {
  return args.map((a, i) => (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + formatValue(a)).join('');
}

/** fmt.Sprintf for the verbs templates use: %v %s %d %q %f %e %g %t %x %X %o %c %%, with flags, width, precision. */
export function sprintf(format: string, args: unknown[]): string {
  let next = 0;
  const out = format.replace(/%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g, (whole, flags: string, width?: string, prec?: string, verb?: string) => {
    if (verb === '%') return '%';
    if (next >= args.length) return `%!${verb}(MISSING)`;
    const v = args[next++];
    let s: string;
    const num = typeof v === 'number';
    switch (verb) {
      case 'v':
      case 's':
        s = formatValue(v);
        if (verb === 's' && prec !== undefined) s = s.slice(0, Number(prec));
        break;
      case 'q':
        s = typeof v === 'string' ? JSON.stringify(v) : num ? `'${String.fromCodePoint(v)}'` : `%!q(${goType(v)}=${formatValue(v)})`;
        break;
      case 'd':
        s = num ? String(Math.trunc(v)) : `%!d(${goType(v)}=${formatValue(v)})`;
        if (num && flags.includes('+') && v >= 0) s = `+${s}`;
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'g':
        if (!num) s = `%!${verb}(${goType(v)}=${formatValue(v)})`;
        else if (verb === 'e') s = v.toExponential(Number(prec ?? 6)).replace(/e([+-])(\d)$/, 'e$10$2');
        else if (verb === 'g') s = prec === undefined ? String(v) : v.toPrecision(Number(prec));
        else s = v.toFixed(Number(prec ?? 6));
        break;
      case 't':
        s = typeof v === 'boolean' ? String(v) : `%!t(${goType(v)}=${formatValue(v)})`;
        break;
      case 'x':
      case 'X':
      case 'o':
        s = num ? Math.trunc(v).toString(verb === 'o' ? 8 : 16) : typeof v === 'string' && verb !== 'o' ? Buffer.from(v).toString('hex') : `%!${verb}(${goType(v)}=${formatValue(v)})`;
        if (verb === 'X') s = s.toUpperCase();
        break;
      case 'c':
        s = num ? String.fromCodePoint(v) : `%!c(${goType(v)}=${formatValue(v)})`;
        break;
      default:
        return `%!${verb}(${goType(v)}=${formatValue(v)})`;
    }
    const w = Number(width ?? 0);
    if (flags.includes('-')) return s.padEnd(w);
    return flags.includes('0') && num && verb !== 'v' ? s.padStart(w, '0') : s.padStart(w);
  });
  const extra = args.slice(next);
  return extra.length ? `${out}%!(EXTRA ${extra.map((a) => `${goType(a)}=${formatValue(a)}`).join(', ')})` : out;
}

/** Go's built-in functions. `and` and `or` are evaluated lazily by the executor (short-circuit). */
const BUILTINS: Record<string, TemplateFunc> = {
  and: { arity: 1, variadic: true, fn: (...a) => a.find((v) => !truthy(v)) ?? a[a.length - 1] },
  or: { arity: 1, variadic: true, fn: (...a) => a.find(truthy) ?? a[a.length - 1] },
  not: { arity: 1, fn: (v) => !truthy(v) },
  len: { arity: 1, fn: len },
  index: { arity: 1, variadic: true, fn: index },
  slice: { arity: 1, variadic: true, fn: slice },
  print: { arity: 0, variadic: true, fn: (...a) => sprint(a) },
  println: { arity: 0, variadic: true, fn: (...a) => `${a.map(formatValue).join(' ')}\n` },
  printf: { arity: 1, variadic: true, fn: (f, ...a) => sprintf(str(f), a) },
  eq: { arity: 1, variadic: true, fn: eq },
  ne: { arity: 2, fn: (a, b) => !eq(a, b) },
  lt: { arity: 2, fn: less },
  le: { arity: 2, fn: (a, b) => less(a, b) || eq(a, b) },
  gt: { arity: 2, fn: (a, b) => !less(a, b) && !eq(a, b) },
  ge: { arity: 2, fn: (a, b) => !less(a, b) },
};

/** Docker's Go JSON: null for nil, no HTML escaping (JSON.stringify escapes none). */
function json(v: unknown): string {
  return JSON.stringify(v === NIL ? null : v) ?? 'null';
}

/** Docker's additions (docker/cli templates.basicFunctions). */
const DOCKER: Record<string, TemplateFunc> = {
  json: { arity: 1, fn: json },
  split: { arity: 2, fn: (s, sep) => str(s).split(str(sep)) },
  join: {
    arity: 2,
    fn: (list, sep) => {
      if (!Array.isArray(list)) throw new FuncError(`wrong type for value; expected []string; got ${goType(list)}`);
      return list.map((x) => str(x)).join(str(sep));
    },
  },
  // cases.Title(language.Und, cases.NoLower): each word's first letter upper-cased, the rest kept.
  title: { arity: 1, fn: (s) => str(s).replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase()) },
  lower: { arity: 1, fn: (s) => str(s).toLowerCase() },
  upper: { arity: 1, fn: (s) => str(s).toUpperCase() },
  pad: { arity: 3, fn: (s, pre, post) => (str(s) === '' ? '' : ' '.repeat(int(pre)) + str(s) + ' '.repeat(int(post))) },
  truncate: { arity: 2, fn: (s, n) => (str(s).length < int(n) ? str(s) : str(s).slice(0, int(n))) },
};

export const FUNCS: Record<string, TemplateFunc> = { ...BUILTINS, ...DOCKER };

/** Docker renders a table's header with the same template on the header names, these functions passing them through. */
export const HEADER_FUNCS: Record<string, TemplateFunc> = {
  ...FUNCS,
  ...Object.fromEntries(Object.entries(DOCKER).map(([name, f]) => [name, { arity: f.arity, fn: (v: unknown) => v }])),
};
