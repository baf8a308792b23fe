// Evaluates a parsed template as Go's text/template does: pipelines, function and method
// calls, variables, if/with/range with Go's truthiness, and Docker's field-lookup errors.
import { TemplateError } from '../../../errors.js';
import type { TemplateFunc } from './funcs.js';
import { definitions, type Arg, type Cmd, type Control, type Node, type Pipe, type TemplateCall } from './parse.js';
import { FuncError, GO_TYPE, goType, isObject, NIL, printValue, truthy } from './values.js';

/**
 * How field lookups fail, as in Docker's CLI:
 * - 'struct': list rows (ps, images...) are Go structs named `type`; an unknown field is
 *   "can't evaluate field X in type *formatter.ContainerContext". A function-valued field is
 *   a method (called, with any arguments: {{.Label "k"}}).
 * - 'map': inspect objects are decoded JSON; a missing key is "map has no entry for key".
 *   `maps` are the dotted paths of Go maps in Docker's types (a missing key there prints
 *   "<no value>"), `nilPointers` the optional struct fields Docker leaves out of its JSON
 *   when unset (printed "<nil>", as Docker's typed pass does). `lenient`: every missing key
 *   prints "<no value>" (Docker's table header map).
 */
export type TemplateMode =
  | { kind: 'struct'; type: string }
  | { kind: 'map'; maps?: ReadonlySet<string>; nilPointers?: ReadonlySet<string>; lenient?: boolean };

class Break {}
class Continue {}

interface Var {
  name: string;
  value: unknown;
}

/**
 * Go's "template: :LINE:COL: executing "NAME" at <NODE>: reason", COL counted from 0 past
 * line 1; NAME is the named template running ("" for the main one, as Docker names it).
 */
export function execError(src: string, at: number, node: string, reason: string, template = ''): never {
  const before = src.slice(0, at);
  const nl = before.lastIndexOf('\n');
  const line = 1 + (before.match(/\n/g)?.length ?? 0);
  const col = nl === -1 ? at : at - (nl + 1);
  throw new TemplateError(`template: :${line}:${col}: executing ${JSON.stringify(template)} at <${node}>: ${reason}`);
}

/**
 * How deep {{template}} calls may nest. Go allows 100000 (1000 on wasm), more than Node's
 * stack holds once every level nests range/with/if (about 900 levels did); this lets any
 * sensible recursion finish and stops a runaway one with Go's error.
 */
export const MAX_TEMPLATE_DEPTH = 500;

export class Executor {
  private out: string[] = [];
  private vars: Var[];
  private templates = new Map<string, Node[]>();
  /** The named template running ("" is the main one) and how many calls deep it is. */
  private name = '';
  private depth = 0;
  /** $'s dotted path from the root: '' in the main template, dot's path where a call began. */
  private rootPath: string | undefined = '';

  constructor(
    private readonly src: string,
    private readonly mode: TemplateMode,
    private readonly funcs: Record<string, TemplateFunc>,
    root: unknown,
  ) {
    this.vars = [{ name: '$', value: root }];
  }

  /** Runs the template on its root; what was written before an error stays in `written`. */
  run(nodes: Node[]): string {
    this.templates = definitions(nodes);
    const main = nodes.filter((n) => n.kind !== 'define');
    this.templates.set('', main);
    try {
      this.walk(main, this.vars[0]!.value, '');
    } catch (err) {
      // Nesting deep enough to exhaust the stack below the depth limit is still the template's fault.
      if (err instanceof RangeError && /call stack/.test(err.message)) throw new TemplateError('template: nested too deeply to execute');
      throw err;
    }
    return this.written;
  }

  private fail(at: number, node: string, reason: string): never {
    return execError(this.src, at, node, reason, this.name);
  }

  /** {{template "name" PIPELINE}}: the named body with dot (and $) the pipeline's value, no variables inherited. */
  private callTemplate(node: TemplateCall, dot: unknown, dotPath: string | undefined): void {
    const body = this.templates.get(node.name);
    if (!body) this.fail(node.pos, node.src, `template ${JSON.stringify(node.name)} not defined`);
    if (this.depth >= MAX_TEMPLATE_DEPTH) this.fail(node.pos, node.src, `exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
    // Variables the pipeline declares stay in the caller's scope, as in Go.
    const value = node.pipe ? this.pipe(node.pipe, dot, dotPath) : undefined;
    const path = node.pipe ? this.pathOf(node.pipe, dotPath) : undefined;
    const saved = { vars: this.vars, name: this.name, rootPath: this.rootPath };
    this.vars = [{ name: '$', value }];
    this.name = node.name;
    this.rootPath = path;
    this.depth++;
    try {
      this.walk(body!, value, path);
    } finally {
      this.depth--;
      ({ vars: this.vars, name: this.name, rootPath: this.rootPath } = saved);
    }
  }

  get written(): string {
    return this.out.join('');
  }

  /** `dotPath` is dot's dotted path from the root when known (for the map mode's Docker maps). */
  private walk(nodes: Node[], dot: unknown, dotPath: string | undefined): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          this.out.push(node.text);
          break;
        case 'action': {
          const v = this.pipe(node.pipe, dot, dotPath);
          if (!node.pipe.decl.length) this.out.push(printValue(v));
          break;
        }
        case 'if':
        case 'with':
          this.scoped(() => {
            const v = this.pipe(node.pipe, dot, dotPath);
            if (!truthy(v)) {
              if (node.elseList) this.walk(node.elseList, dot, dotPath);
            } else if (node.kind === 'if') this.walk(node.list, dot, dotPath);
            else this.walk(node.list, v, this.pathOf(node.pipe, dotPath));
          });
          break;
        case 'range':
          this.range(node, dot, dotPath);
          break;
        case 'break':
          throw new Break();
        case 'continue':
          throw new Continue();
        case 'template':
          this.callTemplate(node, dot, dotPath);
          break;
        case 'define':
          break; // collected by run()
      }
    }
  }

  private scoped(fn: () => void): void {
    const depth = this.vars.length;
    try {
      fn();
    } finally {
      this.vars.length = depth;
    }
  }

  private range(node: Control, dot: unknown, dotPath: string | undefined): void {
    const [keyVar, valueVar] = node.pipe.decl.length === 2 ? node.pipe.decl : [undefined, node.pipe.decl[0]];
    const v = this.pipe({ ...node.pipe, decl: [] }, dot, dotPath);
    let entries: [unknown, unknown][];
    if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (isObject(v)) entries = Object.keys(v).sort().map((k) => [k, v[k]]); // Go ranges over a map in key order
    else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else if (v === undefined || v === null || v === NIL) entries = [];
    else return this.fail(node.pos, 'range', `range can't iterate over ${printValue(v)}`);
    if (!entries.length) {
      if (node.elseList) this.scoped(() => this.walk(node.elseList!, dot, dotPath));
      return;
    }
    for (const [key, value] of entries) {
      try {
        this.scoped(() => {
          if (keyVar) this.vars.push({ name: keyVar, value: key });
          if (valueVar) this.vars.push({ name: valueVar, value });
          this.walk(node.list, value, undefined);
        });
      } catch (err) {
        if (err instanceof Break) break;
        if (!(err instanceof Continue)) throw err;
      }
    }
  }

  /** Dot's path inside {{with .A.B}}: known only when the pipeline is that one field chain. */
  private pathOf(pipe: Pipe, dotPath: string | undefined): string | undefined {
    const [cmd] = pipe.cmds;
    const arg = cmd?.args[0];
    if (pipe.cmds.length === 1 && cmd!.args.length === 1 && arg?.kind === 'dot') return dotPath;
    if (pipe.cmds.length !== 1 || cmd!.args.length !== 1 || arg?.kind !== 'field' || dotPath === undefined) return undefined;
    return [dotPath, ...arg.names].filter(Boolean).join('.');
  }

  private pipe(pipe: Pipe, dot: unknown, dotPath: string | undefined): unknown {
    let value: unknown;
    pipe.cmds.forEach((cmd, i) => {
      value = this.command(cmd, dot, dotPath, i > 0 ? [value] : []);
    });
    for (const name of pipe.decl) {
      if (!pipe.assign) this.vars.push({ name, value });
      else this.variable(name, pipe.pos).value = value;
    }
    return value;
  }

  private variable(name: string, pos: number): Var {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!;
    return this.fail(pos, name, `undefined variable: ${name}`);
  }

  /** One command of a pipeline; `final` is the previous command's value, passed as the last argument. */
  private command(cmd: Cmd, dot: unknown, dotPath: string | undefined, final: unknown[]): unknown {
    const [first, ...rest] = cmd.args;
    switch (first!.kind) {
      case 'func':
        return this.call(first!.name, cmd, rest, dot, dotPath, final);
      case 'field':
        return this.chain(dot, dotPath, first!.names, first!, this.args(rest, dot, dotPath, final));
      case 'var':
        if (first!.names.length) {
          const base = this.variable(first!.name, first!.pos).value;
          return this.chain(base, first!.name === '$' ? this.rootPath : undefined, first!.names, first!, this.args(rest, dot, dotPath, final));
        }
        break;
      case 'pipe':
        if (first!.names.length) return this.chain(this.scopedPipe(first!.pipe, dot, dotPath), undefined, first!.names, first!, this.args(rest, dot, dotPath, final));
        break;
    }
    if (rest.length || final.length) this.fail(cmd.pos, cmd.src, `can't give argument to non-function ${cmd.src.split(/\s/)[0]}`);
    return this.arg(first!, dot, dotPath);
  }

  /** A command's arguments after its first word, then the piped value. */
  private args(args: Arg[], dot: unknown, dotPath: string | undefined, final: unknown[]): unknown[] {
    return [...args.map((a) => this.arg(a, dot, dotPath)), ...final];
  }

  /** A parenthesized pipeline's variables end with it. */
  private scopedPipe(pipe: Pipe, dot: unknown, dotPath: string | undefined): unknown {
    let v: unknown;
    this.scoped(() => (v = this.pipe(pipe, dot, dotPath)));
    return v;
  }

  private arg(arg: Arg, dot: unknown, dotPath: string | undefined): unknown {
    switch (arg.kind) {
      case 'dot':
        return dot;
      case 'lit':
        return arg.value;
      case 'field':
        return this.chain(dot, dotPath, arg.names, arg, []);
      case 'var': {
        const base = this.variable(arg.name, arg.pos).value;
        return arg.names.length ? this.chain(base, arg.name === '$' ? this.rootPath : undefined, arg.names, arg, []) : base;
      }
      case 'pipe': {
        const v = this.scopedPipe(arg.pipe, dot, dotPath);
        return arg.names.length ? this.chain(v, undefined, arg.names, arg, []) : v;
      }
      case 'func':
        return this.call(arg.name, { pos: arg.pos, src: arg.name, args: [arg] }, [], dot, dotPath, []);
    }
  }

  private call(name: string, cmd: Cmd, args: Arg[], dot: unknown, dotPath: string | undefined, final: unknown[]): unknown {
    const f = this.funcs[name]!;
    const count = args.length + final.length;
    if (f.variadic ? count < f.arity : count !== f.arity) {
      this.fail(cmd.pos, cmd.src, `wrong number of args for ${name}: want ${f.variadic ? 'at least ' : ''}${f.arity} got ${count}`);
    }
    try {
      // and/or stop at the first argument that decides them, as Go's do (guards like {{if and .A .A.B}}).
      if (name === 'and' || name === 'or') {
        let v: unknown;
        for (const a of args) {
          v = this.arg(a, dot, dotPath);
          if (truthy(v) === (name === 'or')) return v;
        }
        return final.length ? final[0] : v;
      }
      return f.fn(...args.map((a) => this.arg(a, dot, dotPath)), ...final);
    } catch (err) {
      if (err instanceof FuncError) this.fail(cmd.pos, cmd.src, `error calling ${name}: ${err.message}`);
      throw err;
    }
  }

  /** Walks .A.B.C from `value`; the last name may be a method, called with `given` (the arguments, then the piped value). */
  private chain(value: unknown, path: string | undefined, names: string[], node: Arg, given: unknown[]): unknown {
    const text = (node.kind === 'var' ? node.name : node.kind === 'pipe' ? '(...)' : '') + names.map((n) => `.${n}`).join('');
    const fail = (reason: string): never => this.fail(node.pos, text, reason);
    let v = value;
    for (const [i, key] of names.entries()) {
      const last = i === names.length - 1;
      if (v === null || v === undefined || v === NIL) {
        fail(this.mode.kind === 'map' ? `nil pointer evaluating interface {}.${key}` : `nil pointer evaluating .${key}`);
      }
      if (!isObject(v)) fail(`can't evaluate field ${key} in type ${goType(v)}`);
      const obj = v as Record<string | symbol, unknown>;
      const here = path === undefined ? undefined : path ? `${path}.${key}` : key;
      if (!Object.hasOwn(obj, key)) {
        if (this.mode.kind === 'struct') fail(`can't evaluate field ${key} in type ${String(obj[GO_TYPE] ?? this.mode.type)}`);
        else if (this.mode.lenient || (last && path !== undefined && this.mode.maps?.has(path))) v = undefined;
        else if (last && here !== undefined && this.mode.nilPointers?.has(here)) v = NIL;
        else fail(`map has no entry for key ${JSON.stringify(key)}`);
      } else if (typeof obj[key] === 'function') {
        // A Go method: {{.Label "com.example"}}.
        const method = obj[key] as (...a: unknown[]) => unknown;
        const passed = last ? given : [];
        if (passed.length !== method.length) fail(`wrong number of args for ${key}: want ${method.length} got ${passed.length}`);
        v = method.apply(obj, passed);
      } else {
        if (last && given.length) fail(`${key} has arguments but cannot be invoked as function`);
        v = obj[key];
      }
      path = here;
    }
    return v;
  }
}


/**
 * Checks a list row template's field names before any row is printed (even with none), as
 * far as they are read from the row itself: `.X` where dot is the row, and `$.X` anywhere.
 * A named template called with the row ({{template "t" .}}) is checked the same way; one
 * called with anything else is left to execution, which fails on the same fields.
 */
export function checkFields(src: string, nodes: Node[], known: ReadonlySet<string>, type: string): void {
  const templates = definitions(nodes);
  const checked = new Set<string>();
  /** Where a field is read: whether dot is the row, whether $ is, and the template's name. */
  interface Scope {
    atRoot: boolean;
    dollarIsRow: boolean;
    name: string;
  }
  const check = (arg: Arg, scope: Scope) => {
    const fromRow = (arg.kind === 'field' && scope.atRoot) || (arg.kind === 'var' && arg.name === '$' && scope.dollarIsRow);
    const first = arg.kind === 'field' || arg.kind === 'var' ? arg.names[0] : undefined;
    if (fromRow && first !== undefined && !known.has(first)) {
      const text = (arg.kind === 'var' ? '$' : '') + (arg as { names: string[] }).names.map((n) => `.${n}`).join('');
      execError(src, arg.pos, text, `can't evaluate field ${first} in type ${type}`, scope.name);
    }
    if (arg.kind === 'pipe') pipe(arg.pipe, scope);
  };
  const pipe = (p: Pipe, scope: Scope) => p.cmds.forEach((c) => c.args.forEach((a) => check(a, scope)));
  /** Whether a template call's pipeline is the row itself ({{template "t" .}} or $). */
  const passesRow = (p: Pipe | undefined, scope: Scope) => {
    const arg = p?.cmds.length === 1 && p.cmds[0]!.args.length === 1 ? p.cmds[0]!.args[0]! : undefined;
    return (arg?.kind === 'dot' && scope.atRoot) || (arg?.kind === 'var' && arg.name === '$' && !arg.names.length && scope.dollarIsRow);
  };
  const walk = (list: Node[], scope: Scope): void => {
    for (const node of list) {
      if (node.kind === 'action') pipe(node.pipe, scope);
      else if (node.kind === 'if' || node.kind === 'with' || node.kind === 'range') {
        pipe(node.pipe, scope);
        // Inside with/range, dot is no longer the row; in else it still is.
        walk(node.list, { ...scope, atRoot: scope.atRoot && node.kind === 'if' });
        if (node.elseList) walk(node.elseList, scope);
      } else if (node.kind === 'template') {
        if (node.pipe) pipe(node.pipe, scope);
        const body = templates.get(node.name);
        if (body && passesRow(node.pipe, scope) && !checked.has(node.name)) {
          checked.add(node.name);
          walk(body, { atRoot: true, dollarIsRow: true, name: node.name });
        }
      }
    }
  };
  walk(nodes, { atRoot: true, dollarIsRow: true, name: '' });
}
