import { describe, expect, it } from 'vitest';
import {
  INSECURE_OPTION_VALUES, containerFlagsFor, insecureRunOptions, parseInsecureOptions, registryOptionsFor,
} from '../../../../src/engine/rkt/insecure-options.js';
import { UsageError } from '../../../../src/errors.js';

const sorted = (s: Iterable<string>) => [...s].sort();

describe("rkt's --insecure-options values", () => {
  it('takes each single value as itself; none adds nothing', () => {
    for (const v of ['image', 'tls', 'ondisk', 'http', 'pubkey', 'capabilities', 'paths', 'seccomp']) expect(sorted(parseInsecureOptions([v])), v).toEqual([v]);
    expect(sorted(parseInsecureOptions(['none']))).toEqual([]);
    expect(sorted(parseInsecureOptions([]))).toEqual([]);
  });

  it('expands the aliases: run and all-run, all-fetch, all', () => {
    expect(sorted(parseInsecureOptions(['run']))).toEqual(['capabilities', 'paths', 'seccomp']);
    expect(sorted(parseInsecureOptions(['all-run']))).toEqual(['capabilities', 'paths', 'seccomp']);
    expect(sorted(parseInsecureOptions(['all-fetch']))).toEqual(['http', 'image', 'ondisk', 'pubkey', 'tls']);
    expect(sorted(parseInsecureOptions(['all']))).toEqual(['capabilities', 'http', 'image', 'ondisk', 'paths', 'pubkey', 'seccomp', 'tls']);
  });

  it('adds up comma lists and repeated flags', () => {
    expect(sorted(parseInsecureOptions(['image,tls', 'seccomp', 'none,image']))).toEqual(['image', 'seccomp', 'tls']);
    expect(sorted(parseInsecureOptions(['image', 'all-run']))).toEqual(['capabilities', 'image', 'paths', 'seccomp']);
  });

  it('refuses an unknown or empty value, naming it and every valid one', () => {
    for (const [given, bad] of [['bogus', 'bogus'], ['image,Image', 'Image'], ['image,', '']] as const) {
      let err: unknown;
      try {
        parseInsecureOptions(['none', given]);
      } catch (e) {
        err = e;
      }
      expect(err, given).toBeInstanceOf(UsageError);
      const msg = (err as Error).message;
      expect(msg).toContain(`"${bad}"`);
      expect(msg).toContain('--insecure-options');
      for (const v of INSECURE_OPTION_VALUES) expect(msg).toContain(v);
    }
    expect(INSECURE_OPTION_VALUES).toEqual(['none', 'image', 'tls', 'ondisk', 'http', 'pubkey', 'capabilities', 'paths', 'seccomp', 'run', 'all-fetch', 'all-run', 'all']);
  });
});

describe('what the options mean for the engine', () => {
  it('tls and http become the registry client\'s per-command transport; the others leave it alone', () => {
    expect(registryOptionsFor(parseInsecureOptions(['image,pubkey,ondisk,run']))).toEqual({});
    expect(registryOptionsFor(parseInsecureOptions(['tls']))).toEqual({ insecure: { skipTlsVerify: true, allowHttp: false } });
    expect(registryOptionsFor(parseInsecureOptions(['http']))).toEqual({ insecure: { skipTlsVerify: false, allowHttp: true } });
    expect(registryOptionsFor(parseInsecureOptions(['all-fetch']))).toEqual({ insecure: { skipTlsVerify: true, allowHttp: true } });
  });

  it("capabilities, paths and seccomp become tsrun run's --cap-add ALL and --security-opt values, each alone", () => {
    const flags = (v: string) => containerFlagsFor(insecureRunOptions(parseInsecureOptions([v])));
    expect(flags('all-fetch')).toEqual({});
    expect(flags('capabilities')).toEqual({ capAdd: ['ALL'] });
    expect(flags('paths')).toEqual({ securityOpt: ['systempaths=unconfined'] });
    expect(flags('seccomp')).toEqual({ securityOpt: ['seccomp=unconfined'] });
    expect(flags('all')).toEqual({ capAdd: ['ALL'], securityOpt: ['systempaths=unconfined', 'seccomp=unconfined'] });
    expect(insecureRunOptions(parseInsecureOptions(['seccomp,capabilities']))).toEqual(['capabilities', 'seccomp']);
  });
});
