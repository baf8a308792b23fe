import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { detachKeysFor } from '../../../src/cli/docker/attach.js';
import { UsageError } from '../../../src/errors.js';

describe('detachKeysFor (--detach-keys, else the Docker config, else ctrl-p,ctrl-q)', () => {
  let dir: string;
  let saved: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync('/tmp/tsrun-detach-keys-');
    saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dir;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
    rmSync(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  it('defaults to ctrl-p,ctrl-q without a config', () => {
    expect([...detachKeysFor(undefined)]).toEqual([16, 17]);
  });

  it('takes detachKeys from the config, and the flag over it ("" turns detaching off)', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: {}, detachKeys: 'ctrl-a,x' }));
    expect([...detachKeysFor(undefined)]).toEqual([1, 120]);
    expect([...detachKeysFor('ctrl-e')]).toEqual([5]);
    expect(detachKeysFor('').length).toBe(0);
  });

  it('refuses a bad flag, and warns about a bad config value and uses the default', () => {
    expect(() => detachKeysFor('alt-x')).toThrow(UsageError);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ detachKeys: 'alt-x' }));
    const warn = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect([...detachKeysFor(undefined)]).toEqual([16, 17]);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/^WARNING: invalid detachKeys/);
  });
});
