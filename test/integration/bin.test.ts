// The installed commands: sh wrappers that start the bundles fast, also through symlinks (npm -g).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/tsrun-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-bin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bin wrappers', () => {
  for (const bin of ['tsrun', 'tsrkt', 'tsrun-oci']) {
    it(`${bin} runs from the checkout and through a symlink`, () => {
      const link = join(dir, bin);
      symlinkSync(join(REPO, 'bin', bin), link);
      for (const path of [join(REPO, 'bin', bin), link]) {
        expect(execFileSync(path, ['--help'], { encoding: 'utf8' })).toMatch(/usage:/i);
      }
    });
  }

  it('moves NODE_EXTRA_CA_CERTS aside so Node does not parse it at start-up', () => {
    const r = spawnSync(join(REPO, 'bin', 'tsrun'), ['--version'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    });
    expect(r.stdout.trim()).toBe('0.1.0');
    // Node warns "Ignoring extra certs from ..." when it reads the variable itself.
    expect(r.stderr).not.toMatch(/extra certs/);
    const direct = spawnSync(process.execPath, [join(REPO, 'dist', 'tsrun.mjs'), '--version'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    });
    expect(direct.stderr).toMatch(/extra certs/);
  });
});
