// tsrun-oci's runc-style flag parser and the update flags -> linux.resources mapping.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { containerId, parseArgs } from '../../../src/cli/oci/args.js';
import { resourcesFromFlags, command as update } from '../../../src/cli/oci/commands/update.js';
import { CREATE_OPTIONS } from '../../../src/cli/oci/commands/create.js';
import { featuresDocument } from '../../../src/cli/oci/commands/features.js';

describe('tsrun-oci flags', () => {
  it('accepts --name value, --name=value, single-dash long names and aliases', () => {
    const p = parseArgs(['--bundle', '/b', '--pid-file=/p', '-console-socket', '/s', '--no-pivot', 'c1'], CREATE_OPTIONS, 'create');
    expect(p.opts).toEqual({ bundle: '/b', 'pid-file': '/p', 'console-socket': '/s', 'no-pivot': true });
    expect(p.positional).toEqual(['c1']);
    expect(parseArgs(['-b', '/x', 'c2'], CREATE_OPTIONS, 'create').opts.bundle).toBe('/x');
  });

  it('keeps parsing after the id (delete ID --force) unless told to stop (exec ID cmd --flags)', () => {
    expect(parseArgs(['c1', '--force'], { force: {} }, 'delete')).toEqual({ opts: { force: true }, positional: ['c1'] });
    const exec = parseArgs(['-e', 'A=1', '--env', 'B=2', 'c1', 'ls', '-l', '--all'], { env: { value: true, repeat: true, aliases: ['e'] } }, 'exec', true);
    expect(exec).toEqual({ opts: { env: ['A=1', 'B=2'] }, positional: ['c1', 'ls', '-l', '--all'] });
  });

  it('names unknown options, missing values and missing or extra ids', () => {
    expect(() => parseArgs(['--bogus'], CREATE_OPTIONS, 'tsrun-oci create')).toThrow('tsrun-oci create: unknown option --bogus');
    expect(() => parseArgs(['--bundle'], CREATE_OPTIONS, 'create')).toThrow('create: option --bundle needs a value');
    expect(() => containerId(parseArgs([], {}, 'start'), 'start')).toThrow(UsageError);
    expect(() => containerId(parseArgs(['a', 'b'], {}, 'start'), 'start')).toThrow('start: too many arguments: a b');
  });

  it('maps update flags to linux.resources', () => {
    const p = parseArgs(['--memory', '64m', '--cpu-quota', '50000', '--cpu-period', '100000', '--cpu-shares', '512', '--cpuset-cpus', '0', '--pids-limit', '10', 'c1'], update.options, 'update');
    expect(resourcesFromFlags(p)).toEqual({
      memory: { limit: 64 * 1024 * 1024 },
      cpu: { quota: 50000, period: 100000, shares: 512, cpus: '0' },
      pids: { limit: 10 },
    });
    expect(() => resourcesFromFlags(parseArgs(['--memory', 'lots', 'c1'], update.options, 'update'))).toThrow(/--memory must be a size/);
  });

  it('describes its features with the runtime-spec field names', () => {
    const f = featuresDocument() as { linux: Record<string, unknown> } & Record<string, unknown>;
    expect(Object.keys(f)).toEqual(['ociVersionMin', 'ociVersionMax', 'hooks', 'mountOptions', 'linux', 'annotations']);
    expect(Object.keys(f.linux)).toEqual(['namespaces', 'capabilities', 'cgroup', 'seccomp', 'apparmor', 'selinux', 'intelRdt']);
  });
});
