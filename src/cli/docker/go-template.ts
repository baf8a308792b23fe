// Go text/template for --format, as Docker's CLI runs it: fields, pipelines, Go's built-in
// functions and Docker's (json, join, split, lower, upper, title, truncate, pad), variables,
// if/with/range, comments. Unknown fields fail as Docker's do (same wording), so a typo is an
// error, not "<no value>". The lexer/parser, executor and functions live in go-template/.
import { checkFields, Executor, type TemplateMode } from './go-template/exec.js';
import { FUNCS, HEADER_FUNCS, type TemplateFunc } from './go-template/funcs.js';
import { parse, type Node } from './go-template/parse.js';

export type { TemplateMode } from './go-template/exec.js';
export { GO_STRING, GO_TYPE, NIL } from './go-template/values.js';

const NAMES = new Set(Object.keys(FUNCS));

export interface ParsedTemplate {
  src: string;
  nodes: Node[];
}

/** Parses `template`; throws TemplateError on a syntax error or an unknown function. */
export function parseTemplate(template: string): ParsedTemplate {
  return { src: template, nodes: parse(template, NAMES) };
}

/** Runs a parsed template on `value`; throws TemplateError (and writes nothing) on an error. */
export function executeTemplate(t: ParsedTemplate, value: unknown, mode: TemplateMode = { kind: 'map' }, funcs: Record<string, TemplateFunc> = FUNCS): string {
  return new Executor(t.src, mode, funcs, value).run(t.nodes);
}

/** Renders `template` with `value`; throws TemplateError (before writing anything) on an unknown field. */
export function renderTemplate(template: string, value: unknown, mode: TemplateMode = { kind: 'map' }): string {
  return executeTemplate(parseTemplate(template), value, mode);
}

/**
 * A table's header line: Docker runs the same template on the header names (a Go map, so
 * an unknown name prints "<no value>"), with its functions passing them through. Like Docker,
 * a template that fails on the names keeps what it printed before the error.
 */
export function renderHeader(t: ParsedTemplate, headers: Record<string, unknown>): string {
  const exec = new Executor(t.src, { kind: 'map', lenient: true }, HEADER_FUNCS, headers);
  try {
    return exec.run(t.nodes);
  } catch {
    return exec.written;
  }
}

/** Fails, as Docker would on a row, if the template reads a field `known` lacks (checked without rows). */
export function checkRowFields(t: ParsedTemplate, known: Iterable<string>, type: string): void {
  checkFields(t.src, t.nodes, new Set(known), type);
}
