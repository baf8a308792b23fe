// `run` pulling as --pull says, from the local docker-registry: the README's headline path
// (a missing image is pulled with Docker's output, then the command runs), --pull always
// re-resolving a tag that moved, and a bad --pull value refused before any work.
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningRegistry } from '../support/registry-server.js';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';

let reg: RunningRegistry;
let publisher: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ registry: reg, cli: publisher, image } = env));

// A second root that has pulled nothing: what a fresh install sees.
const fresh = new TsrunCli();
afterAll(() => fresh.destroy());

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Pushes an image whose /marker holds `text` under `ref` (the tag moves on each call). */
function publish(ref: string, text: string): void {
  const name = `marker-${text}`;
  publisher.ok(['run', '--name', name, image, 'sh', '-c', `echo ${text} > /marker`]);
  publisher.ok(['commit', name, ref]);
  publisher.ok(['push', ref]);
  publisher.ok(['rm', name]);
}

describe('run --pull', () => {
  it('refuses a value other than always, missing or never before any work (125, nothing pulled or created)', () => {
    const r = fresh.run(['run', '--rm', '--pull', 'sometimes', image, 'true']);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 125,
      stdout: '',
      stderr: `tsrun: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"\n`,
    });
    expect(fresh.ok(['images', '-q'])).toBe('');
    expect(fresh.ok(['ps', '-aq'])).toBe('');
  });

  it('pulls a missing image with Docker\'s output on stderr, then runs the command', () => {
    const ref = `${reg.host}/moving:t`;
    publish(ref, 'v1');
    const r = fresh.run(['run', '--rm', ref, 'cat', '/marker']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('v1\n');
    expect(r.stderr).toMatch(new RegExp(`^Unable to find image '${escape(ref)}' locally\nt: Pulling from moving\n`));
    expect(r.stderr).toMatch(/\nDigest: sha256:[0-9a-f]{64}\n/);
    expect(r.stderr).toMatch(new RegExp(`\nStatus: Downloaded newer image for ${escape(ref)}\n$`));
    // Present now: no pull at all.
    const again = fresh.run(['run', '--rm', ref, 'cat', '/marker']);
    expect({ code: again.code, stdout: again.stdout, stderr: again.stderr }).toEqual({ code: 0, stdout: 'v1\n', stderr: '' });
  });

  it('--pull always re-resolves the tag: the moved tag\'s image runs, with no "Unable to find" line', () => {
    const ref = `${reg.host}/moving:t`;
    publish(ref, 'v2');
    // missing (the default) keeps the local image the tag named before.
    expect(fresh.ok(['run', '--rm', ref, 'cat', '/marker'])).toBe('v1\n');
    const r = fresh.run(['run', '--rm', '--pull', 'always', ref, 'cat', '/marker']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('v2\n');
    expect(r.stderr).not.toContain('Unable to find image');
    expect(r.stderr).toMatch(/^t: Pulling from moving\n/);
    expect(r.stderr).toMatch(new RegExp(`\nStatus: Downloaded newer image for ${escape(ref)}\n$`));
    const same = fresh.run(['run', '--rm', '--pull', 'always', ref, 'cat', '/marker']);
    expect(same.stdout).toBe('v2\n');
    expect(same.stderr).not.toContain('Unable to find image');
    expect(same.stderr).toMatch(new RegExp(`\nStatus: Image is up to date for ${escape(ref)}\n$`));
  });
});
