import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderTemplate } from '../../../src/cli/docker/go-template.js';
import { INSPECT_TEMPLATE, printInspected } from '../../../src/cli/docker/inspect-output.js';
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
  const capture = () => vi.spyOn(process.stdout, 'write').mockImplementation(() => true);

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
