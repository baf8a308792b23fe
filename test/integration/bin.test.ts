// The installed commands: sh wrappers that start the bundles fast, also through symlinks (npm -g).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { wrap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
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
    const direct = spawnSync(process.execPath, [join(REPO, 'dist', 'tsrun.cjs'), '--version'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    });
    expect(direct.stderr).toMatch(/extra certs/);
  });

  for (const bin of ['tsrun', 'tsrkt', 'tsrun-oci']) {
    it(`${bin}: the build's V8 code cache fits this Node, so a start does not compile the bundle`, () => {
      const bundle = join(REPO, 'dist', `${bin}.bundle.cjs`);
      const script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData: readFileSync(`${bundle}.cache`) });
      expect(script.cachedDataRejected).toBe(false);
    });
  }

  it('a command that needs no network or archive work does not load https, tls, zlib or crypto', () => {
    const preload = join(dir, 'loaded.cjs');
    const out = join(dir, 'loaded.txt');
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));\n`);
    const r = spawnSync(process.execPath, ['-r', preload, join(REPO, 'dist', 'tsrun.cjs'), '--root', join(dir, 'root'), '--runroot', join(dir, 'run'), 'ps', '-a'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const loaded = readFileSync(out, 'utf8').split('\n');
    for (const mod of ['https', 'tls', 'zlib', 'crypto', 'http']) expect(loaded).not.toContain(`NativeModule ${mod}`);
    expect(loaded).toContain('NativeModule vm'); // the list is the real one
  });
});
