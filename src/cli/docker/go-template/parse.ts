// Lexer and parser for the Go text/template subset Docker's --format users write:
// {{.A.B}}, pipelines with |, functions, (parens), $variables, if/else/with/range/end,
// break/continue, define/template/block, comments and {{- -}} trim markers. Errors read as Go's ("template: :LINE: ...").
import { TemplateError } from '../../../errors.js';

export type Arg =
  | { kind: 'field'; pos: number; names: string[] } // .A.B
  | { kind: 'dot'; pos: number }
  | { kind: 'var'; pos: number; name: string; names: string[] } // $x.A
  | { kind: 'func'; pos: number; name: string }
  | { kind: 'lit'; pos: number; value: string | number | boolean | null }
  | { kind: 'pipe'; pos: number; pipe: Pipe; names: string[] }; // (pipe).A

export interface Cmd {
  pos: number;
  /** The command's source text, for Go's "at <...>" in errors. */
  src: string;
  args: Arg[];
}

export interface Pipe {
  pos: number;
  /** Variables declared ($x := ...) or assigned ($x = ...); range may declare two. */
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
}

export interface Control {
  kind: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}

/** {{template "name" PIPELINE}} (also where a {{block}} stands); `src` is Go's text of it, for errors. */
export interface TemplateCall {
  kind: 'template';
  pos: number;
  name: string;
  pipe?: Pipe;
  src: string;
}

/** A named template ({{define}} or {{block}}); parse() puts these after the main template's nodes. */
export interface Definition {
  kind: 'define';
  name: string;
  list: Node[];
}

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pos: number; pipe: Pipe }
  | Control
  | { kind: 'break' | 'continue'; pos: number }
  | TemplateCall
  | Definition;

/** The named templates of a parsed template (its top-level Definition nodes). */
export function definitions(nodes: Node[]): Map<string, Node[]> {
  return new Map(nodes.flatMap((n) => (n.kind === 'define' ? [[n.name, n.list] as const] : [])));
}

/** Go's IsEmptyTree: nothing but white space, so a later definition may replace it. */
function isEmpty(list: Node[]): boolean {
  return list.every((n) => n.kind === 'text' && !n.text.trim());
}

type Tok =
  | { t: 'field'; pos: number; end: number; names: string[] }
  | { t: 'var'; pos: number; end: number; name: string; names: string[] }
  | { t: 'ident'; pos: number; end: number; name: string }
  | { t: 'string' | 'number'; pos: number; end: number; value: string | number }
  | { t: 'dot' | 'lparen' | 'rparen' | 'pipe' | 'declare' | 'assign' | 'comma'; pos: number; end: number };

type Item = { kind: 'text'; text: string } | { kind: 'action'; pos: number; toks: Tok[] };

const SPACE = /[ \t\r\n]/;
const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_]/;

/** Go's parse errors: "template: :LINE: message". */
function parseError(src: string, pos: number, message: string): never {
  const line = 1 + (src.slice(0, pos).match(/\n/g)?.length ?? 0);
  throw new TemplateError(`template: :${line}: ${message}`);
}

function lex(src: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) items.push({ kind: 'text', text });
      return items;
    }
    let p = open + 2;
    // "{{- " trims the white space before the action.
    if (src[p] === '-' && SPACE.test(src[p + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      p += 2;
    }
    if (text) items.push({ kind: 'text', text });
    if (src.startsWith('/*', p)) {
      const close = src.indexOf('*/', p + 2);
      if (close < 0) parseError(src, open, 'unclosed comment');
      p = close + 2;
      if (src.startsWith(' -}}', p)) [p, trimNext] = [p + 4, true];
      else if (src.startsWith('}}', p)) p += 2;
      else parseError(src, open, 'comment ends before closing delimiter');
      i = p;
      continue;
    }
    const toks: Tok[] = [];
    for (;;) {
      while (p < src.length && SPACE.test(src[p]!)) p++;
      if (p >= src.length) parseError(src, open, 'unclosed action');
      if (src.startsWith('-}}', p) && SPACE.test(src[p - 1]!)) {
        [p, trimNext] = [p + 3, true];
        break;
      }
      if (src.startsWith('}}', p)) {
        p += 2;
        break;
      }
      const tok = lexToken(src, p);
      toks.push(tok);
      p = tok.end;
    }
    items.push({ kind: 'action', pos: open, toks });
    i = p;
  }
}

/** Reads ".A.B" (as many dotted names as follow) from `p`. */
function lexNames(src: string, p: number): { names: string[]; end: number } {
  const names: string[] = [];
  while (src[p] === '.' && IDENT_START.test(src[p + 1] ?? '')) {
    let q = p + 1;
    while (q < src.length && IDENT.test(src[q]!)) q++;
    names.push(src.slice(p + 1, q));
    p = q;
  }
  return { names, end: p };
}

function lexToken(src: string, p: number): Tok {
  const c = src[p]!;
  if (c === '"') {
    let q = p + 1;
    while (q < src.length && src[q] !== '"') q += src[q] === '\\' ? 2 : 1;
    if (q >= src.length) parseError(src, p, 'unterminated quoted string');
    try {
      return { t: 'string', pos: p, end: q + 1, value: JSON.parse(src.slice(p, q + 1)) as string };
    } catch {
      parseError(src, p, `bad string syntax: ${src.slice(p, q + 1)}`);
    }
  }
  if (c === '`') {
    const q = src.indexOf('`', p + 1);
    if (q < 0) parseError(src, p, 'unterminated raw quoted string');
    return { t: 'string', pos: p, end: q + 1, value: src.slice(p + 1, q) };
  }
  if (c === "'") {
    const q = src.indexOf("'", p + 1);
    if (q < 0) parseError(src, p, 'unterminated character constant');
    return { t: 'number', pos: p, end: q + 1, value: src.slice(p + 1, q).codePointAt(0) ?? 0 };
  }
  if (c === '.') {
    const { names, end } = lexNames(src, p);
    return names.length ? { t: 'field', pos: p, end, names } : { t: 'dot', pos: p, end: p + 1 };
  }
  if (c === '$') {
    let q = p + 1;
    while (q < src.length && IDENT.test(src[q]!)) q++;
    const { names, end } = lexNames(src, q);
    return { t: 'var', pos: p, end, name: src.slice(p, q), names };
  }
  const num = /^[+-]?(0[xX][0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?)/.exec(src.slice(p));
  if (num && /[+\-\d]/.test(c)) return { t: 'number', pos: p, end: p + num[0].length, value: Number(num[0]) };
  if (IDENT_START.test(c)) {
    let q = p;
    while (q < src.length && IDENT.test(src[q]!)) q++;
    return { t: 'ident', pos: p, end: q, name: src.slice(p, q) };
  }
  if (src.startsWith(':=', p)) return { t: 'declare', pos: p, end: p + 2 };
  const single = { '(': 'lparen', ')': 'rparen', '|': 'pipe', '=': 'assign', ',': 'comma' } as const;
  const t = single[c as keyof typeof single];
  if (t) return { t, pos: p, end: p + 1 };
  return parseError(src, p, `unrecognized character in action: ${JSON.stringify(c)}`);
}

/**
 * Parses `src`; `funcs` are the names a template may call (others are Go's "function not defined").
 * Returns the main template's nodes followed by one Definition per {{define}}/{{block}} name.
 */
export function parse(src: string, funcs: ReadonlySet<string>): Node[] {
  const items = lex(src);
  let at = 0;
  let rangeDepth = 0;
  const defined = new Map<string, Node[]>();

  type Stop = { word: 'end' | 'else'; pos: number; toks: Tok[] } | undefined;

  /** `top`: the main template's own list, the only place {{define}} may stand (as in Go). */
  function parseList(top = false): { nodes: Node[]; stop: Stop } {
    const nodes: Node[] = [];
    while (at < items.length) {
      const item = items[at++]!;
      if (item.kind === 'text') {
        nodes.push(item);
        continue;
      }
      const [first, ...rest] = item.toks;
      if (!first) parseError(src, item.pos, 'missing value for command');
      const word = first.t === 'ident' ? first.name : '';
      if (word === 'end' || word === 'else') return { nodes, stop: { word, pos: item.pos, toks: rest } };
      if (word === 'if' || word === 'with' || word === 'range') nodes.push(parseControl(word, rest, item.pos));
      else if (word === 'break' || word === 'continue') {
        if (!rangeDepth) parseError(src, item.pos, `{{${word}}} outside {{range}}`);
        nodes.push({ kind: word, pos: item.pos });
      } else if (word === 'define') {
        if (!top) parseError(src, first.pos, 'unexpected <define> in command');
        parseDefinition(rest, item.pos);
      } else if (word === 'template') nodes.push(parseTemplateCall(rest, item.pos));
      else if (word === 'block') nodes.push(parseBlock(rest, item.pos));
      else nodes.push({ kind: 'action', pos: item.pos, pipe: parsePipe(item.toks, item.pos, 'action') });
    }
    return { nodes, stop: undefined };
  }

  /** The quoted name after define/template/block, as Go's parseTemplateName reads it. */
  function templateName(toks: Tok[], pos: number, context: string): { name: string; tok: Tok } {
    const tok = toks[0];
    if (tok?.t !== 'string') parseError(src, tok?.pos ?? pos, `unexpected ${tok ? describe(tok) : '"}}"'} in ${context}`);
    return { name: tok.value as string, tok };
  }

  /** A named template's body, up to its {{end}}; it has its own range nesting, as in Go. */
  function parseBody(context: string, pos: number): Node[] {
    const outerRange = rangeDepth;
    rangeDepth = 0;
    const body = parseList();
    rangeDepth = outerRange;
    if (!body.stop) parseError(src, pos, 'unexpected EOF');
    if (body.stop.word !== 'end') parseError(src, body.stop.pos, `unexpected {{else}} in ${context}`);
    return body.nodes;
  }

  /** Go's Tree.add: an empty definition never replaces one, two non-empty ones are an error. */
  function define(name: string, list: Node[], pos: number): void {
    const old = defined.get(name);
    if (old && !isEmpty(old)) {
      if (!isEmpty(list)) parseError(src, pos, `template: multiple definition of template ${JSON.stringify(name)}`);
      return;
    }
    defined.set(name, list);
  }

  function parseDefinition(toks: Tok[], pos: number): void {
    const { name } = templateName(toks, pos, 'define clause');
    if (toks[1]) parseError(src, toks[1].pos, `unexpected ${describe(toks[1])} in define clause`);
    define(name, parseBody('define clause', pos), pos);
  }

  function parseTemplateCall(toks: Tok[], pos: number): TemplateCall {
    const { name, tok } = templateName(toks, pos, 'template clause');
    const rest = toks.slice(1);
    const pipe = rest.length ? parsePipe(rest, pos, 'template clause') : undefined;
    return { kind: 'template', pos: tok.pos, name, pipe, src: callText(name, rest) };
  }

  /** {{block "name" PIPELINE}}BODY{{end}}: defines "name" as BODY and runs it here. */
  function parseBlock(toks: Tok[], pos: number): TemplateCall {
    const { name, tok } = templateName(toks, pos, 'block clause');
    const rest = toks.slice(1);
    const pipe = parsePipe(rest, pos, 'block clause');
    if (!pipe.cmds.length) parseError(src, pos, 'missing value for block clause');
    define(name, parseBody('block clause', pos), pos);
    return { kind: 'template', pos: tok.pos, name, pipe, src: callText(name, rest) };
  }

  /** Go's String() of a template node: {{template "name" PIPELINE}}. */
  function callText(name: string, pipeToks: Tok[]): string {
    const pipeSrc = pipeToks.length ? ` ${src.slice(pipeToks[0]!.pos, pipeToks[pipeToks.length - 1]!.end)}` : '';
    return `{{template ${JSON.stringify(name)}${pipeSrc}}}`;
  }

  function parseControl(kind: 'if' | 'with' | 'range', toks: Tok[], pos: number): Node {
    const pipe = parsePipe(toks, pos, kind);
    if (!pipe.cmds.length) parseError(src, pos, `missing value for ${kind}`);
    if (kind === 'range') rangeDepth++;
    const body = parseList();
    if (kind === 'range') rangeDepth--;
    if (!body.stop) parseError(src, pos, 'unexpected EOF');
    if (body.stop.word === 'end') return { kind, pos, pipe, list: body.nodes };
    // {{else if ...}} / {{else with ...}}: a nested control that ends at the shared {{end}}.
    const next = body.stop.toks[0];
    if (next?.t === 'ident' && next.name === kind && kind !== 'range') {
      return { kind, pos, pipe, list: body.nodes, elseList: [parseControl(kind, body.stop.toks.slice(1), body.stop.pos)] };
    }
    if (next) parseError(src, body.stop.pos, `unexpected ${describe(next)} in else`);
    const other = parseList();
    if (other.stop?.word !== 'end') parseError(src, other.stop?.pos ?? pos, other.stop ? 'expected end; found {{else}}' : 'unexpected EOF');
    return { kind, pos, pipe, list: body.nodes, elseList: other.nodes };
  }

  function describe(tok: Tok): string {
    return JSON.stringify(src.slice(tok.pos, tok.end));
  }

  function parsePipe(toks: Tok[], pos: number, context: 'action' | 'if' | 'with' | 'range' | 'template clause' | 'block clause'): Pipe {
    let i = 0;
    const pipe: Pipe = { pos, decl: [], assign: false, cmds: [] };
    const [a, b, c, d] = toks;
    if (a?.t === 'var' && !a.names.length) {
      if (b?.t === 'declare' || b?.t === 'assign') {
        [pipe.decl, pipe.assign, i] = [[a.name], b.t === 'assign', 2];
      } else if (context === 'range' && b?.t === 'comma' && c?.t === 'var' && !c.names.length && d?.t === 'declare') {
        [pipe.decl, i] = [[a.name, c.name], 4];
      }
    }
    const end = parseCommands(toks, i, pipe, false);
    if (end < toks.length) parseError(src, toks[end]!.pos, `unexpected ${describe(toks[end]!)} in command`);
    if (pipe.decl.length && !pipe.cmds.length) parseError(src, pos, 'missing value for command');
    return pipe;
  }

  /** Fills `pipe.cmds` from toks[i..]; stops at the end or (when nested) at ")" and returns its index. */
  function parseCommands(toks: Tok[], i: number, pipe: Pipe, nested: boolean): number {
    for (;;) {
      const start = i;
      const args: Arg[] = [];
      while (i < toks.length && toks[i]!.t !== 'pipe' && toks[i]!.t !== 'rparen') {
        const tok = toks[i++]!;
        if (tok.t === 'lparen') {
          const inner: Pipe = { pos: tok.pos, decl: [], assign: false, cmds: [] };
          i = parseCommands(toks, i, inner, true);
          const close = toks[i++];
          if (close?.t !== 'rparen') parseError(src, tok.pos, 'unclosed left paren');
          // (pipe).Field: a field chain right after the parenthesis.
          const after = toks[i];
          const chained = after?.t === 'field' && after.pos === close.end ? (i++, after.names) : [];
          args.push({ kind: 'pipe', pos: tok.pos, pipe: inner, names: chained });
        } else args.push(operand(tok));
      }
      if (!args.length) {
        if (start === i && i >= toks.length && !pipe.cmds.length && !nested) return i;
        parseError(src, toks[i]?.pos ?? pipe.pos, 'missing value for command');
      }
      const last = toks[i - 1]!;
      pipe.cmds.push({ pos: toks[start]!.pos, src: src.slice(toks[start]!.pos, last.end), args });
      if (toks[i]?.t !== 'pipe') return i;
      i++;
    }
  }

  function operand(tok: Tok): Arg {
    switch (tok.t) {
      case 'field':
        return { kind: 'field', pos: tok.pos, names: tok.names };
      case 'var':
        return { kind: 'var', pos: tok.pos, name: tok.name, names: tok.names };
      case 'dot':
        return { kind: 'dot', pos: tok.pos };
      case 'string':
      case 'number':
        return { kind: 'lit', pos: tok.pos, value: tok.value };
      case 'ident':
        if (tok.name === 'true' || tok.name === 'false') return { kind: 'lit', pos: tok.pos, value: tok.name === 'true' };
        if (tok.name === 'nil') return { kind: 'lit', pos: tok.pos, value: null };
        if (!funcs.has(tok.name)) parseError(src, tok.pos, `function ${JSON.stringify(tok.name)} not defined`);
        return { kind: 'func', pos: tok.pos, name: tok.name };
      default:
        return parseError(src, tok.pos, `unexpected ${describe(tok)} in operand`);
    }
  }

  const { nodes, stop } = parseList(true);
  if (stop) parseError(src, stop.pos, `unexpected {{${stop.word}}}`);
  // The main template is named "" (Docker's), so {{define ""}} competes with it as Go's does.
  const main = defined.get('');
  defined.delete('');
  if (main && !isEmpty(main) && !isEmpty(nodes)) parseError(src, src.length, 'template: multiple definition of template ""');
  const definitionNodes = [...defined].map(([name, list]): Definition => ({ kind: 'define', name, list }));
  return [...(main && !isEmpty(main) ? main : nodes), ...definitionNodes];
}
