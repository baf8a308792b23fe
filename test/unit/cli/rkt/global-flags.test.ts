import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addInsecureOption, hoistInsecureOptions, insecureOptionsOf, splitGlobalOptions } from '../../../../src/cli/rkt/global-flags.js';
import { UsageError } from '../../../../src/errors.js';

describe('tsrkt global flags', () => {
  it('splits --root, --runroot and repeated --insecure-options (both forms) from the verb', () => {
    const g = splitGlobalOptions(['--root', '/r', '--insecure-options=image', '--runroot=/rr', '--insecure-options', 'tls,http', 'run', '--insecure-options=paths', 'img']);
    expect(g).toEqual({ root: '/r', runroot: '/rr', insecure: ['image', 'tls,http'], rest: ['run', '--insecure-options=paths', 'img'] });
    expect(splitGlobalOptions(['list'])).toEqual({ insecure: [], rest: ['list'] });
  });

  it('moves --insecure-options given after the verb in front of it, up to a --', () => {
    expect(hoistInsecureOptions(['image', 'list', '--insecure-options', 'image', '--no-legend', '--insecure-options=tls'])).toEqual([
      '--insecure-options=image', '--insecure-options=tls', 'image', 'list', '--no-legend',
    ]);
    expect(hoistInsecureOptions(['enter', 'u', '--', 'sh', '--insecure-options=all'])).toEqual(['enter', 'u', '--', 'sh', '--insecure-options=all']);
    expect(hoistInsecureOptions(['--insecure-options=all', 'list'])).toEqual(['--insecure-options=all', 'list']);
    expect(() => hoistInsecureOptions(['list', '--insecure-options'])).toThrow(UsageError);
  });

  it('the root option adds its values up and refuses a bad one as it is parsed', async () => {
    const parse = async (args: string[]) => {
      const program = addInsecureOption(new Command('t')).exitOverride();
      let seen: ReadonlySet<string> | undefined;
      program.command('list').action((_o: unknown, self: Command) => {
        seen = insecureOptionsOf(self);
      });
      await program.parseAsync(hoistInsecureOptions(args), { from: 'user' });
      return [...(seen ?? [])].sort();
    };
    expect(await parse(['list'])).toEqual([]);
    expect(await parse(['--insecure-options=image', 'list', '--insecure-options', 'seccomp,tls'])).toEqual(['image', 'seccomp', 'tls']);
    await expect(parse(['list', '--insecure-options=image,nope'])).rejects.toThrow(/invalid value "nope" for --insecure-options/);
  });
});
