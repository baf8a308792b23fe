// How template values print and test, as Go's fmt and text/template treat them.

/** A typed nil pointer (Docker prints "<nil>"), as opposed to a missing map entry ("<no value>"). */
export const NIL = Symbol('nil');

/** A row value's Go String() method (fmt prints it instead of the value's fields). */
export const GO_STRING = Symbol('goString');

/** A row value's Go type, named when a field of it is unknown. */
export const GO_TYPE = Symbol('goType');

/** Thrown by template functions; the executor adds "error calling NAME: ". */
export class FuncError extends Error {}

export function isObject(v: unknown): v is Record<string | symbol, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** fmt's %v: slices as [a b], maps as map[k:v] with sorted keys, nil as <nil>. */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null || v === NIL) return '<nil>';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(' ')}]`;
  if (isObject(v)) {
    const str = v[GO_STRING];
    if (typeof str === 'function') return String(str.call(v));
    const keys = Object.keys(v).filter((k) => typeof v[k] !== 'function').sort();
    return `map[${keys.map((k) => `${k}:${formatValue(v[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** What an action prints: a missing value is "<no value>", a typed nil "<nil>". */
export function printValue(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  return formatValue(v);
}

/** Go's truth: false, 0, nil and empty strings, slices and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === NIL) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return v[GO_TYPE] !== undefined || v[GO_STRING] !== undefined || Object.keys(v).length > 0;
  return true;
}

/** The Go type Docker names in its errors, for a value that has no fields. */
export function goType(v: unknown): string {
  if (typeof v === 'string') return 'string';
  // Inspect's numbers come from JSON decoded with UseNumber.
  if (typeof v === 'number') return 'json.Number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (isObject(v)) return typeof v[GO_TYPE] === 'string' ? v[GO_TYPE] : 'map[string]interface {}';
  return '<nil>';
}
