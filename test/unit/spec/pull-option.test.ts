import { describe, expect, it } from 'vitest';
import { checkPullPolicy, parseRunFlags } from '../../../src/spec/options.js';
import { UsageError } from '../../../src/errors.js';

describe('--pull', () => {
  it('takes always, missing and never (and empty, which Docker reads as missing)', () => {
    for (const v of ['always', 'missing', 'never', '', undefined]) expect(() => checkPullPolicy(v)).not.toThrow();
    expect(() => parseRunFlags({ pull: 'never' })).not.toThrow();
  });

  it('refuses anything else in the Docker CLI\'s words, as a usage error', () => {
    for (const v of ['sometimes', 'Always', 'newer', 'true']) {
      expect(() => parseRunFlags({ pull: v })).toThrow(UsageError);
      expect(() => parseRunFlags({ pull: v })).toThrow(`invalid pull option: '${v}': must be one of "always", "missing" or "never"`);
    }
  });
});
