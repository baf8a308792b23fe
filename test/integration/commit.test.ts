// commit and import end to end: the built `tsrun` CLI commits a container of
// the project's busybox image (from the registry on 127.0.0.1) into a new
// image, runs it, and round-trips export | import. Run as root under the
// integration lock.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

const ID = /^sha256:[0-9a-f]{64}\n$/;

// Adds /new and /newdir/f, changes /etc/passwd, deletes /etc/group (from the
// image) and replaces /home (the image has /home/tsuser) by a new directory.
const CHANGES = [
  'echo hello > /new',
  'mkdir /newdir',
  'echo f > /newdir/f',
  'echo extra >> /etc/passwd',
  'rm /etc/group',
  'rm -rf /home',
  'mkdir /home',
  'echo h > /home/h',
].join(' && ');

const CHECK = [
  'cat /newdir/f',
  'tail -n 1 /etc/passwd',
  'head -n 1 /etc/passwd',
  'test -e /etc/group && echo group || echo no-group',
  'ls -A /home',
  'cat /etc/hostname >/dev/null && echo hostname-ok',
].join('; ');

describe('tsrun commit', () => {
  it('makes an image of the changes, with the new CMD and the message in its history', () => {
    const made = cli.run(['run', '--name', 'src1', image, 'sh', '-c', CHANGES]);
    expect(made.code, made.stderr).toBe(0);

    const c = cli.run(['commit', '-c', 'CMD ["cat","/new"]', '-m', 'my commit message', '-a', 'Tess <t@example.com>', 'src1', 'committed:v1']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(ID);

    const def = cli.run(['run', '--rm', 'committed:v1']);
    expect(def.code, def.stderr).toBe(0);
    expect(def.stdout).toBe('hello\n');

    const check = cli.run(['run', '--rm', 'committed:v1', 'sh', '-c', CHECK]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toBe('f\nextra\nroot:x:0:0:root:/root:/bin/sh\nno-group\nh\nhostname-ok\n');

    const history = cli.run(['history', '--no-trunc', '--format', '{{.Comment}}|{{.CreatedBy}}', 'committed:v1']);
    expect(history.code, history.stderr).toBe(0);
    const lines = history.stdout.trim().split('\n');
    expect(lines.length).toBe(2);
    expect(lines[0]).toBe(`my commit message|sh -c ${CHANGES}`);

    // The runtime's mount points (the image has no /etc/hosts, /etc/resolv.conf) are in no layer.
    const layerTrees = readdirSync(join(cli.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    expect(layerTrees.length).toBe(2);
    for (const hex of layerTrees) {
      expect(existsSync(join(cli.root, 'layers', hex, 'diff', 'etc', 'hosts'))).toBe(false);
      expect(existsSync(join(cli.root, 'layers', hex, 'diff', 'etc', 'resolv.conf'))).toBe(false);
    }
    expect(layerTrees.some((hex) => existsSync(join(cli.root, 'layers', hex, 'diff', 'new')))).toBe(true);

    // The image ID printed is the one the name points at.
    const ids = cli.run(['images', '-q', '--no-trunc', 'committed:v1']);
    expect(ids.stdout.trim()).toBe(c.stdout.trim());
  });

  it('a fresh container of the committed image has no changes', () => {
    const r = cli.run(['run', '--name', 'fresh1', 'committed:v1', 'true']);
    expect(r.code, r.stderr).toBe(0);
    const d = cli.run(['diff', 'fresh1']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe('');
  });

  it('a commit of a container of a committed image stacks one more layer', () => {
    const r = cli.run(['run', '--name', 'src2', 'committed:v1', 'sh', '-c', 'rm /new && echo two > /two']);
    expect(r.code, r.stderr).toBe(0);
    const c = cli.run(['commit', '-c', 'ENTRYPOINT ["cat"]', '-c', 'CMD ["/two"]', '-c', 'ENV A=1 B="x y"', '-c', 'WORKDIR /newdir', 'src2', 'committed:v2']);
    expect(c.code, c.stderr).toBe(0);
    const def = cli.run(['run', '--rm', 'committed:v2']);
    expect(def.stdout).toBe('two\n');
    const env = cli.run(['run', '--rm', '--entrypoint', 'sh', 'committed:v2', '-c', 'echo "$A|$B|$(pwd)"; test -e /new && echo new || echo no-new; cat /newdir/f']);
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toBe('1|x y|/newdir\nno-new\nf\n');
    const history = cli.run(['history', '-q', 'committed:v2']);
    expect(history.stdout.trim().split('\n').length).toBe(3);
  });

  it('pauses a running container during the commit and unpauses it after', async () => {
    const r = cli.run(['run', '-d', '--name', 'live', image, 'sh', '-c', 'echo alive > /live; exec sleep 600']);
    expect(r.code, r.stderr).toBe(0);
    for (let i = 0; i < 100 && cli.run(['exec', 'live', 'test', '-e', '/live']).code !== 0; i++) await sleep(100);
    const c = cli.run(['commit', 'live', 'live:snap']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(ID);
    // exec refuses a paused container: the commit left it running.
    expect(cli.run(['exec', 'live', 'true']).code).toBe(0);
    const out = cli.run(['run', '--rm', 'live:snap', 'cat', '/live']);
    expect(out.stdout).toBe('alive\n');
    const noPause = cli.run(['commit', '--pause=false', 'live']);
    expect(noPause.code, noPause.stderr).toBe(0);
    expect(noPause.stdout).toMatch(ID);
    cli.run(['rm', '-f', 'live']);
  });

  it("starts from the container's own config, as Docker: its command, -e env and -w", () => {
    const made = cli.run(['run', '--name', 'src9', '-e', 'FOO=bar', '-w', '/tmp', image, 'sh', '-c', 'echo hi > /x']);
    expect(made.code, made.stderr).toBe(0);
    const ctr = (JSON.parse(cli.run(['inspect', 'src9']).stdout) as { Config: { Env: string[] } }[])[0]!;
    expect(ctr.Config.Env).toContain('FOO=bar');
    const c = cli.run(['commit', 'src9', 'committed:own-config']);
    expect(c.code, c.stderr).toBe(0);
    const img = (JSON.parse(cli.run(['image', 'inspect', 'committed:own-config']).stdout) as { Config: { Cmd: string[]; Env: string[]; WorkingDir: string } }[])[0]!;
    expect(img.Config.Cmd).toEqual(['sh', '-c', 'echo hi > /x']);
    expect(img.Config.Env).toContain('FOO=bar');
    expect(img.Config.WorkingDir).toBe('/tmp');
    const run = cli.run(['run', '--rm', 'committed:own-config', 'sh', '-c', 'echo $FOO; pwd; cat /x']);
    expect(run.stdout).toBe('bar\n/tmp\nhi\n');
  });

  it('refuses an unknown -c instruction and a missing container', () => {
    const bad = cli.run(['commit', '-c', 'RUN echo hi', 'src1']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/RUN/);
    const missing = cli.run(['commit', 'no-such-container']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such-container/);
  });

  it('is also `container commit`', () => {
    const c = cli.run(['container', 'commit', 'src1']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(ID);
  });
});

describe('tsrun import', () => {
  it('round-trips export | import into a runnable one-layer image', () => {
    const file = join(cli.root, '..', 'src1.tar');
    const e = cli.run(['export', '-o', file, 'src1']);
    expect(e.code, e.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);
    const i = cli.run(['import', '-c', 'CMD ["cat","/new"]', '-m', 'imported it', file, 'imported:v1']);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(ID);
    const def = cli.run(['run', '--rm', 'imported:v1']);
    expect(def.code, def.stderr).toBe(0);
    expect(def.stdout).toBe('hello\n');
    const check = cli.run(['run', '--rm', 'imported:v1', 'sh', '-c', CHECK]);
    expect(check.stdout).toBe('f\nextra\nroot:x:0:0:root:/root:/bin/sh\nno-group\nh\nhostname-ok\n');
    const history = cli.run(['history', '--format', '{{.Comment}}', 'imported:v1']);
    expect(history.stdout).toBe('imported it\n');
    const again = cli.run(['image', 'import', file]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(ID);
  });
});
