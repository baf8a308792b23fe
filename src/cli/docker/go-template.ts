// The Go text/template subset people use with --format: {{.A.B}} and {{json .A}}.
// Unknown fields fail as Docker's do (same wording), so a typo is an error, not "<no value>".
import { TemplateError } from '../../errors.js';

/**
 * How field lookups fail, as in Docker's CLI:
 * - 'struct': list rows (ps, images...) are Go structs named `type`; an unknown field is
 *   "can't evaluate field X in type *formatter.ContainerContext".
 * - 'map': inspect objects are decoded JSON; a missing key is "map has no entry for key".
 *   `maps` are the dotted paths of Go maps in Docker's types (a missing key there prints
 *   "<no value>"), `nilPointers` the optional struct fields Docker leaves out of its JSON
 *   when unset (printed "<nil>", as Docker's typed pass does).
 */
export type TemplateMode =
  | { kind: 'struct'; type: string }
  | { kind: 'map'; maps?: ReadonlySet<string>; nilPointers?: ReadonlySet<string> };

const ACTION = /\{\{\s*(json\s+)?(\.[\w.]*)\s*\}\}/g;

/** Renders `template` with `value`; throws TemplateError (before writing anything) on an unknown field. */
export function renderTemplate(template: string, value: unknown, mode: TemplateMode = { kind: 'map' }): string {
  return template.replace(ACTION, (whole: string, json: string | undefined, path: string, offset: number) => {
    const at = offset + whole.indexOf(path);
    const v = lookup(value, path.split('.').filter(Boolean), mode, (reason) => fail(template, at, path, reason));
    if (json) return JSON.stringify(v === NIL ? null : v) ?? 'null';
    if (v === NIL) return '<nil>';
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '<no value>');
  });
}

/** A typed nil pointer (Docker prints "<nil>"), as opposed to a missing map entry ("<no value>"). */
const NIL = Symbol('nil');

function lookup(value: unknown, keys: string[], mode: TemplateMode, fail: (reason: string) => never): unknown {
  let v: unknown = value;
  let path = '';
  for (const [i, key] of keys.entries()) {
    const last = i === keys.length - 1;
    if (v === null || v === undefined || v === NIL) {
      fail(mode.kind === 'map' ? `nil pointer evaluating interface {}.${key}` : `nil pointer evaluating .${key}`);
    }
    if (typeof v !== 'object' || Array.isArray(v)) fail(`can't evaluate field ${key} in type ${goType(v)}`);
    const obj = v as Record<string, unknown>;
    const here = path ? `${path}.${key}` : key;
    if (!(key in obj)) {
      if (mode.kind === 'struct') fail(`can't evaluate field ${key} in type ${mode.type}`);
      if (last && mode.maps?.has(path)) return undefined;
      if (last && mode.nilPointers?.has(here)) return NIL;
      fail(`map has no entry for key "${key}"`);
    }
    v = obj[key];
    path = here;
  }
  return v;
}

/** The Go type Docker names in its error, for a value that has no fields. */
function goType(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'json.Number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return typeof v;
}

/** Go's "template: :LINE:COL: executing "" at <.Path>: reason", COL counted from 0 past line 1. */
function fail(template: string, at: number, path: string, reason: string): never {
  const before = template.slice(0, at);
  const nl = before.lastIndexOf('\n');
  const line = 1 + (before.match(/\n/g)?.length ?? 0);
  const col = nl === -1 ? at : at - (nl + 1);
  throw new TemplateError(`template: :${line}:${col}: executing "" at <${path}>: ${reason}`);
}
