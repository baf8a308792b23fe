import { afterEach, describe, expect, it, vi } from 'vitest';
import { stdout } from '../../../src/cli/stdout.js';
import { renderTemplate } from '../../../src/cli/docker/go-template.js';
import { INSPECT_TEMPLATE, printInspected } from '../../../src/cli/docker/inspect-output.js';
import { MAX_TEMPLATE_DEPTH } from '../../../src/cli/docker/go-template/exec.js';
import { printFormatted } from '../../../src/cli/docker/list-format.js';
import { TemplateError } from '../../../src/errors.js';
import { exitCodeFor } from '../../../src/cli/exit.js';

const ROW = { ID: 'abc', Names: 'web' };
const PS = { kind: 'struct', type: '*formatter.ContainerContext' } as const;

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('no error thrown');
}

describe('renderTemplate', () => {
  it('renders fields, nested paths and json', () => {
    expect(renderTemplate('{{.ID}}\t{{ .Names }}', ROW, PS)).toBe('abc\tweb');
    const obj = { State: { Status: 'running', Pid: 7 }, Args: ['a'], Config: { Labels: { k: 'v' } } };
    expect(renderTemplate('{{.State.Status}} {{.State.Pid}} {{json .Args}} {{.Config.Labels.k}}', obj, INSPECT_TEMPLATE)).toBe('running 7 ["a"] v');
    expect(renderTemplate('{{json .}}', { A: 1 })).toBe('{"A":1}');
  });

  it('fails on an unknown field of a list row as Docker does, naming the field and type', () => {
    const err = errorOf(() => renderTemplate('{{.Nope}}', ROW, PS));
    expect(err).toBeInstanceOf(TemplateError);
    expect(err.message).toBe(
      'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext',
    );
    expect(exitCodeFor(err)).toBe(125);
    // A field of a string field; the column counts from the line start after a newline.
    expect(errorOf(() => renderTemplate('{{.ID}}\n x {{.ID.Foo}}', ROW, PS)).message).toBe(
      'template parsing error: template: :2:5: executing "" at <.ID.Foo>: can\'t evaluate field Foo in type string',
    );
    expect(errorOf(() => renderTemplate('{{json .Nope}}', ROW, PS)).message).toContain(':1:7: executing "" at <.Nope>');
  });

  it('fails on a missing inspect key with "map has no entry"', () => {
    const obj = { State: { Status: 'exited' }, Name: '/c' };
    expect(errorOf(() => renderTemplate('{{.Nope}}', obj, INSPECT_TEMPLATE)).message).toBe(
      'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"',
    );
    expect(errorOf(() => renderTemplate('{{.State.Nope}}', obj, INSPECT_TEMPLATE)).message).toContain('map has no entry for key "Nope"');
    expect(errorOf(() => renderTemplate('{{.Name.X}}', obj, INSPECT_TEMPLATE)).message).toContain("can't evaluate field X in type string");
  });

  it('prints Docker\'s zero values for optional inspect fields and Go maps', () => {
    const obj = { State: { Status: 'running' }, Config: { Labels: {} }, NetworkSettings: { Networks: {} } };
    // Docker's typed pass: a nil *Health prints <nil>; walking into it fails on the decoded JSON.
    expect(renderTemplate('{{.State.Health}}', obj, INSPECT_TEMPLATE)).toBe('<nil>');
    expect(errorOf(() => renderTemplate('{{.State.Health.Status}}', obj, INSPECT_TEMPLATE)).message).toBe(
      'template parsing error: template: :1:2: executing "" at <.State.Health.Status>: map has no entry for key "Health"',
    );
    expect(renderTemplate('{{.Config.Labels.nope}}|{{.NetworkSettings.Networks.bridge}}', obj, INSPECT_TEMPLATE)).toBe('<no value>|<no value>');
    // A field Docker has but left empty (present, undefined) is not an error.
    expect(renderTemplate('{{.State.Error}}', { State: { Error: undefined } }, INSPECT_TEMPLATE)).toBe('<no value>');
  });
});

describe('printing with templates', () => {
  afterEach(() => vi.restoreAllMocks());
  const capture = () => vi.spyOn(stdout, 'write').mockImplementation(() => true);

  it('printFormatted checks the field names before any row, even with no rows', () => {
    const write = capture();
    const headers = { ID: 'CONTAINER ID', Names: 'NAMES' };
    expect(() => printFormatted('{{.ID}} {{.Nope}}', [ROW, ROW], headers, PS.type)).toThrow(/can't evaluate field Nope/);
    expect(() => printFormatted('{{.Nope}}', [], headers, PS.type)).toThrow(TemplateError);
    expect(() => printFormatted('table {{.ID}}\\t{{.Nope}}', [ROW], headers, PS.type)).toThrow(/at <\.Nope>/);
    expect(write).not.toHaveBeenCalled();
    expect(printFormatted('{{.ID}}\\t{{.Names}}', [ROW], headers, PS.type)).toBe(true);
    expect(write).toHaveBeenCalledWith('abc\tweb\n');
  });

  it('printInspected writes nothing when one object fails the template', () => {
    const write = capture();
    expect(() => printInspected([{ A: 1, B: 2 }, { A: 1 }], '{{.A}} {{.B}}')).toThrow(/map has no entry for key "B"/);
    expect(write).not.toHaveBeenCalled();
  });
});

describe('Go template constructs', () => {
  const r = (t: string, v: unknown) => renderTemplate(t, v, INSPECT_TEMPLATE);
  const C = {
    Args: ['-c', 'sleep 1'],
    Config: { Labels: { 'com.example': 'x', a: 'b' }, Env: ['A=1'], Healthcheck: null },
    Mounts: [{ Source: '/src', Destination: '/a' }, { Source: '/v', Destination: '/b' }],
    NetworkSettings: { Networks: { bridge: { IPAddress: '10.0.0.2' }, web: { IPAddress: '10.1.0.3' } } },
    State: { Running: true, Pid: 7, Status: 'running' },
    Name: '/c1',
  };

  it("runs Docker's documented examples", () => {
    expect(r('{{range .Mounts}}{{.Source}} {{end}}', C)).toBe('/src /v ');
    expect(r('{{join .Args " "}}', C)).toBe('-c sleep 1');
    expect(r('{{json .Config.Labels}}', C)).toBe('{"com.example":"x","a":"b"}');
    expect(r('{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}', C)).toBe('10.0.0.2\n10.1.0.3\n');
    expect(r('{{index .Config.Labels "com.example"}}|{{index .Config.Labels "nope"}}', C)).toBe('x|');
    expect(r('{{lower "ABC"}} {{upper .Name}} {{title "hello world-x"}} {{split "a,b" ","}}', C)).toBe('abc /C1 Hello World-X [a b]');
    expect(r('{{truncate .Name 2}}|{{pad .Name 1 2}}|{{pad "" 1 1}}', C)).toBe('/c| /c1  |');
  });

  it('prints values as Go does', () => {
    expect(r('{{.Args}} {{.Config.Labels}} {{.Config.Healthcheck}}', C)).toBe('[-c sleep 1] map[a:b com.example:x] <no value>');
    expect(r('{{.Config.Labels.nope}}', C)).toBe('<no value>');
    expect(r('{{.State.Pid}} {{.State.Running}}', C)).toBe('7 true');
  });

  it('if/else if/else, with, and Go truthiness', () => {
    const t = '{{if .State.Running}}up{{else}}down{{end}}';
    expect(r(t, C)).toBe('up');
    expect(r(t, { State: { Running: false } })).toBe('down');
    expect(r('{{if eq .State.Pid 1}}one{{else if gt .State.Pid 5}}big{{else}}small{{end}}', C)).toBe('big');
    for (const falsy of ['""', '0', 'false', 'nil']) expect(r(`{{if ${falsy}}}y{{else}}n{{end}}`, C)).toBe('n');
    expect(r('{{if .Config.Env}}{{len .Config.Env}}{{end}}|{{if not .Config.Healthcheck}}none{{end}}', C)).toBe('1|none');
    expect(r('{{with .State}}{{.Status}}{{end}}{{with .Config.Healthcheck}}x{{else}}-{{end}}', C)).toBe('running-');
    // Inside {{with}} the Go-map paths still print <no value> for a missing key.
    expect(r('{{with .Config}}{{.Labels.nope}}{{end}}', C)).toBe('<no value>');
  });

  it('range with $ and ., variables, index/key pairs, else, break/continue', () => {
    expect(r('{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}}({{$.Name}}) {{end}}', C)).toBe('0=/a(/c1) 1=/b(/c1) ');
    expect(r('{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}', C)).toBe('a:b;com.example:x;');
    expect(r('{{range .Config.Env}}{{.}}{{else}}empty{{end}}|{{range .Nil}}x{{else}}empty{{end}}', { ...C, Nil: null })).toBe('A=1|empty');
    expect(r('{{range $i, $e := .Args}}{{if eq $i 1}}{{break}}{{end}}{{$e}}{{end}}', C)).toBe('-c');
    expect(r('{{range .Args}}{{if eq . "-c"}}{{continue}}{{end}}{{.}}{{end}}', C)).toBe('sleep 1');
    expect(r('{{$n := .Name}}{{$n = printf "%s!" $n}}{{$n}}', C)).toBe('/c1!');
    expect(r('{{$x := 1}}{{if true}}{{$x := 2}}{{end}}{{$x}}', C)).toBe('1');
  });

  it('pipelines, parentheses, printf and comparisons', () => {
    expect(r('{{.Name | printf "%q"}} {{printf "%-4s|%5.1f|%03d|%v" "ab" 3.14159 7 .Args}}', C)).toBe('"/c1" ab  |  3.1|007|[-c sleep 1]');
    expect(r('{{(index .Mounts 1).Source}} {{len (split "a b c" " ")}}', C)).toBe('/v 3');
    expect(r('{{and 1 0}} {{or 0 "" "z"}} {{not true}} {{ne 1 2}} {{lt 1 2}} {{ge "b" "a"}} {{le 2 2}}', C)).toBe('0 z false true true true true');
    expect(r('{{print 1 2 "a" "b"}}|{{println "a" 1}}', C)).toBe('1 2ab|a 1\n');
    // and/or stop early, so a guard keeps the later field from failing.
    expect(r('{{if and .State.Health .State.Health.Status}}h{{else}}-{{end}}', C)).toBe('-');
  });

  it('comments and trim markers', () => {
    expect(r('a {{/* a comment */}}b', C)).toBe('a b');
    expect(r('a  {{- /* gone */ -}}  b', C)).toBe('ab');
    expect(r('{{range .Args -}}\n  [{{.}}]\n{{- end}}', C)).toBe('[-c][sleep 1]');
  });

  it('fails as Go does on bad templates and calls', () => {
    expect(errorOf(() => r('{{nope .Name}}', C)).message).toBe('template parsing error: template: :1: function "nope" not defined');
    expect(errorOf(() => r('{{if .Name}}x', C)).message).toContain('unexpected EOF');
    expect(errorOf(() => r('{{end}}', C)).message).toContain('unexpected {{end}}');
    expect(errorOf(() => r('{{.Name', C)).message).toContain('unclosed action');
    expect(errorOf(() => r('x {{index .Args 5}}', C)).message).toBe(
      'template parsing error: template: :1:4: executing "" at <index .Args 5>: error calling index: index out of range: 5',
    );
    expect(errorOf(() => r('{{join .Name ","}}', C)).message).toContain('error calling join: wrong type for value; expected []string; got string');
    expect(errorOf(() => r('{{eq .Name 1}}', C)).message).toContain('incompatible types for comparison');
    expect(errorOf(() => r('{{upper}}', C)).message).toContain('wrong number of args for upper: want 1 got 0');
    expect(errorOf(() => r('{{$nope}}', C)).message).toContain('undefined variable: $nope');
  });
});

describe('list rows with Docker methods', () => {
  afterEach(() => vi.restoreAllMocks());
  const labels: Record<string, string> = { 'com.example': 'v1' };
  const row = { ID: 'abc', Names: 'web', Label: (k: string) => labels[k] ?? '', Size: () => '2B (virtual 4.2MB)' };
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES', Size: 'SIZE' };

  it('calls methods with arguments, and names labels in table headers as Docker does', () => {
    const write = vi.spyOn(stdout, 'write').mockImplementation(() => true);
    printFormatted('table {{.ID}}\\t{{.Label "com.example"}}\\t{{.Size}}', [row], headers, PS.type, ['Label']);
    expect(write).toHaveBeenCalledWith('CONTAINER ID   example   SIZE\nabc            v1        2B (virtual 4.2MB)\n');
    write.mockClear();
    printFormatted('{{.Label "nope"}}|{{json .}}', [row], headers, PS.type, ['Label']);
    expect(write).toHaveBeenCalledWith('|{"ID":"abc","Names":"web","Size":"2B (virtual 4.2MB)"}\n');
    write.mockClear();
    printFormatted('json', [row], headers, PS.type, ['Label']);
    expect(write).toHaveBeenCalledWith('{"ID":"abc","Names":"web","Size":"2B (virtual 4.2MB)"}\n');
    write.mockClear();
    // A table with no rows prints its header.
    printFormatted('table {{.ID}}\\t{{lower .Names}}', [], headers, PS.type);
    expect(write).toHaveBeenCalledWith('CONTAINER ID   NAMES\n');
    expect(() => printFormatted('{{.Label}}', [row], headers, PS.type, ['Label'])).toThrow(/wrong number of args for Label: want 1 got 0/);
    expect(() => printFormatted('{{range .Names}}{{$.Nope}}{{end}}', [], headers, PS.type)).toThrow(/at <\$\.Nope>: can't evaluate field Nope/);
  });
});

describe('named templates: define, template, block', () => {
  afterEach(() => vi.restoreAllMocks());
  const r = (t: string, v: unknown) => renderTemplate(t, v, INSPECT_TEMPLATE);
  const C = { Name: '/c1', State: { Status: 'running', Pid: 7 }, Args: ['a', 'b'] };

  it('defines a template and runs it with dot set to the pipeline (nil without one)', () => {
    expect(r('{{define "st"}}[{{.Status}}]{{end}}{{template "st" .State}} {{.Name}}', C)).toBe('[running] /c1');
    // Without a pipeline dot is nil: a bare {{.}} prints Go's "<no value>".
    expect(r('{{define "t"}}<{{.}}>{{end}}{{template "t"}}', C)).toBe('<<no value>>');
    // $ inside is the value passed, and the caller's variables are not visible.
    expect(r('{{define "t"}}{{$.Pid}}{{end}}{{template "t" .State}}', C)).toBe('7');
    expect(errorOf(() => r('{{$x := 1}}{{define "t"}}{{$x}}{{end}}{{template "t" .}}', C)).message).toContain('undefined variable: $x');
    // Definitions may come after their use, and call each other.
    expect(r('{{template "a" .Args}}{{define "a"}}{{range .}}{{template "b" .}}{{end}}{{end}}{{define "b"}}({{.}}){{end}}', C)).toBe('(a)(b)');
    // A pipeline's variable stays declared in the caller.
    expect(r('{{define "t"}}{{.}}{{end}}{{template "t" $n := .Name}}={{$n}}', C)).toBe('/c1=/c1');
  });

  it('block defines and runs at once; one name has one non-empty definition per template', () => {
    expect(r('{{block "b" .State}}{{.Status}}{{end}}!{{template "b" .State}}', C)).toBe('running!running');
    // An empty (white space) definition never replaces a non-empty one, and gives way to one.
    expect(r('{{define "b"}}x{{end}}{{define "b"}} {{end}}{{template "b"}}', C)).toBe('x');
    expect(r('{{define "b"}} {{end}}{{define "b"}}y{{end}}{{template "b"}}', C)).toBe('y');
    expect(errorOf(() => r('{{define "b"}}x{{end}}{{define "b"}}y{{end}}', C)).message).toBe(
      'template parsing error: template: :1: template: multiple definition of template "b"',
    );
    // As in Go, a {{block}} is a definition too: no second one in the same template.
    expect(errorOf(() => r('{{block "b" .}}x{{end}}{{define "b"}}y{{end}}', C)).message).toContain('multiple definition of template "b"');
  });

  it('recursion ends where the template stops calling itself, and runaway recursion is an error', () => {
    // Go templates have no arithmetic: recurse on a shrinking list.
    expect(r('{{define "l"}}{{len .}}{{if gt (len .) 1}},{{template "l" (slice . 1)}}{{end}}{{end}}{{template "l" .Args}}', C)).toBe('2,1');
    const long = Array.from({ length: MAX_TEMPLATE_DEPTH - 1 }, (_, i) => i);
    expect(r('{{define "l"}}{{if .}}{{template "l" (slice . 1)}}{{else}}done{{end}}{{end}}{{template "l" .}}', long)).toBe('done');
    // The limit leaves room on the JavaScript stack for nested control flow at every level.
    const nested = '{{define "l"}}{{range $i, $e := .}}{{with $e}}{{if and 1 (or 0 .)}}{{$x := len (slice $ 0)}}{{end}}{{end}}{{break}}{{end}}'
      + '{{with .}}{{if .}}{{template "l" (slice . 1)}}{{end}}{{else}}done{{end}}{{end}}{{template "l" .}}';
    expect(r(nested, long.map((i) => [i]))).toBe('done');
    const err = errorOf(() => r('{{define "loop"}}{{template "loop" .}}{{end}}{{template "loop" .}}', C));
    expect(err).toBeInstanceOf(TemplateError);
    expect(err.message).toBe(
      `template parsing error: template: :1:28: executing "loop" at <{{template "loop" .}}>: exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`,
    );
  });

  it('fails as Go does on an undefined name and on misplaced or malformed clauses', () => {
    expect(errorOf(() => r('ab{{template "x" .Name}}', C)).message).toBe(
      'template parsing error: template: :1:13: executing "" at <{{template "x" .Name}}>: template "x" not defined',
    );
    // An error inside a named template names it.
    expect(errorOf(() => r('{{define "t"}}\n{{index .Args 9}}{{end}}{{template "t" .}}', C)).message).toBe(
      'template parsing error: template: :2:2: executing "t" at <index .Args 9>: error calling index: index out of range: 9',
    );
    expect(errorOf(() => r('{{if 1}}{{define "x"}}{{end}}{{end}}', C)).message).toBe('template parsing error: template: :1: unexpected <define> in command');
    expect(errorOf(() => r('{{define x}}{{end}}', C)).message).toBe('template parsing error: template: :1: unexpected "x" in define clause');
    expect(errorOf(() => r('{{define .Name}}{{end}}', C)).message).toBe('template parsing error: template: :1: unexpected ".Name" in define clause');
    expect(errorOf(() => r('{{template}}', C)).message).toBe('template parsing error: template: :1: unexpected "}}" in template clause');
    expect(errorOf(() => r('{{block "b"}}x{{end}}', C)).message).toBe('template parsing error: template: :1: missing value for block clause');
    expect(errorOf(() => r('{{define "t"}}x', C)).message).toContain('unexpected EOF');
    expect(errorOf(() => r('{{define "t"}}x{{else}}y{{end}}', C)).message).toContain('unexpected {{else}} in define clause');
    // break/continue belong to a range of the same template.
    expect(errorOf(() => r('{{range .Args}}{{define "t"}}{{break}}{{end}}{{end}}', C)).message).toContain('unexpected <define>');
    expect(errorOf(() => r('{{range .Args}}{{block "t" .}}{{break}}{{end}}{{end}}', C)).message).toContain('{{break}} outside {{range}}');
  });

  it('checks list row fields through a template called with the row, before any row', () => {
    const write = vi.spyOn(stdout, 'write').mockImplementation(() => true);
    const headers = { ID: 'CONTAINER ID', Names: 'NAMES' };
    printFormatted('table {{define "id"}}{{.ID}}{{end}}{{template "id" .}}\\t{{.Names}}', [{ ID: 'abc', Names: 'web' }], headers, PS.type);
    expect(write).toHaveBeenCalledWith('CONTAINER ID   NAMES\nabc            web\n');
    expect(() => printFormatted('{{define "t"}}{{.Nope}}{{end}}{{template "t" .}}', [], headers, PS.type)).toThrow(
      'template: :1:16: executing "t" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext',
    );
  });
});
