// Only the verb on the command line is registered for real; everything else falls back
// to a full registration so commander's help, errors and suggestions are unchanged.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { asksForVersion, firstVerb, programFor } from '../../../src/cli/lazy-verbs.js';

describe('firstVerb', () => {
  const globals = ['--root', '--runroot'];
  it('skips global options with their values, in both spellings', () => {
    expect(firstVerb(['--root', '/r', '--runroot=/x', 'ps', '-a'], globals)).toBe('ps');
    expect(firstVerb(['run', '--rm', 'img'], globals)).toBe('run');
  });
  it('gives up on anything commander must judge, or no verb', () => {
    expect(firstVerb(['--help'], globals)).toBeUndefined();
    expect(firstVerb(['-v'], globals)).toBeUndefined();
    expect(firstVerb(['--bogus', 'ps'], globals)).toBeUndefined();
    expect(firstVerb(['--root'], globals)).toBeUndefined();
    expect(firstVerb([], globals)).toBeUndefined();
  });
});

describe('asksForVersion', () => {
  const globals = ['--root', '--runroot'];
  const flags = ['-v', '--version'];
  it('is true when a version flag comes first after the global options', () => {
    expect(asksForVersion(['--version'], globals, flags)).toBe(true);
    expect(asksForVersion(['--root', '/r', '-v'], globals, flags)).toBe(true);
    expect(asksForVersion(['--runroot=/x', '--version', 'ps'], globals, flags)).toBe(true);
  });
  it('is false for a verb first, another option first, or nothing', () => {
    expect(asksForVersion(['version'], globals, flags)).toBe(false);
    expect(asksForVersion(['run', '-v', '/a:/b', 'img'], globals, flags)).toBe(false);
    expect(asksForVersion(['--help', '--version'], globals, flags)).toBe(false);
    expect(asksForVersion(['--root', '--version'], globals, flags)).toBe(false); // --version is the root's value
    expect(asksForVersion([], globals, flags)).toBe(false);
  });
});

describe('programFor', () => {
  const register = (registered: string[]) => (program: Command) => {
    for (const name of ['run', 'ps', 'container']) {
      const cmd = program.command(`${name} [args...]`).option('-a, --all', 'all').action(() => {});
      if (name === 'ps') cmd.alias('list');
      if (name === 'container') cmd.command('ls').option('-q', 'quiet');
      registered.push(name);
    }
  };
  const names = (p: Command) => p.commands.map((c) => c.name());

  it('registers only the verb asked for, with its options and subcommands', () => {
    const seen: string[] = [];
    const p = programFor(() => new Command('t'), register(seen), 'container');
    expect(names(p)).toEqual(['container']);
    expect(p.commands[0]!.commands.map((c) => c.name())).toEqual(['ls']);
    expect(p.commands[0]!.options.map((o) => o.long)).toEqual(['--all']);
  });

  it('registers everything without a verb, or when the verb is only an alias or unknown', () => {
    expect(names(programFor(() => new Command('t'), register([]), undefined))).toEqual(['run', 'ps', 'container']);
    expect(names(programFor(() => new Command('t'), register([]), 'list'))).toEqual(['run', 'ps', 'container']);
    expect(names(programFor(() => new Command('t'), register([]), 'nope'))).toEqual(['run', 'ps', 'container']);
  });

  it('runs the action of the one verb registered', async () => {
    let ran = '';
    const p = programFor(
      () => new Command('t').exitOverride(),
      (program) => {
        program.command('ps').option('-a').action((o: { a?: boolean }) => void (ran = `ps ${o.a}`));
        program.command('run').action(() => void (ran = 'run'));
      },
      'ps',
    );
    await p.parseAsync(['node', 't', 'ps', '-a']);
    expect(ran).toBe('ps true');
  });
});
