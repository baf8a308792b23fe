// tsrun save / load against skopeo's docker-archive and oci-archive, both directions.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOciLayout, tarOf, type BuiltLayout } from '../support/oci-layout.js';
import { pushImage, startRegistry, type RunningRegistry } from '../support/registry-server.js';
import { TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let layout: BuiltLayout;
let work: string;
const clis: TsrunCli[] = [];

function cli(): TsrunCli {
  const c = new TsrunCli();
  clis.push(c);
  return c;
}

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsrun-archive-it-'));
  layout = buildOciLayout(join(work, 'layout'), 'v1', [
    tarOf([{ path: 'etc/' }, { path: 'etc/os-release', content: 'NAME=test\n' }]),
    tarOf([{ path: 'data/' }, { path: 'data/blob.bin', content: randomBytes(300_000) }]),
  ]);
  reg = await startRegistry();
  await pushImage(layout.dir, reg.host, 'arch/app:v1');
});

afterAll(async () => {
  for (const c of clis) c.destroy();
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('tsrun save / load', () => {
  it('saves a tar that skopeo reads as docker-archive and as OCI layout, and loads it back', () => {
    const t = cli();
    const name = `${reg.host}/arch/app:v1`;
    expect(t.run(['pull', '-q', name]).code).toBe(0);
    expect(t.run(['tag', name, 'local/app:saved']).code).toBe(0);
    const tar = join(work, 'saved.tar');
    const saved = t.run(['save', '-o', tar, 'local/app:saved']);
    expect(saved).toMatchObject({ code: 0, stderr: '' });
    const entries = execFileSync('tar', ['tf', tar], { encoding: 'utf8' }).split('\n');
    expect(entries).toEqual(expect.arrayContaining(['index.json', 'manifest.json', 'oci-layout', `blobs/sha256/${layout.configDigest.slice(7)}`]));
    const asDocker = JSON.parse(skopeo('inspect', '--raw', `docker-archive:${tar}`));
    expect(asDocker.layers).toHaveLength(2);
    const asOci = JSON.parse(skopeo('inspect', `oci-archive:${tar}:saved`));
    expect(asOci.Digest).toBe(layout.manifestDigest);

    expect(t.run(['rmi', '-f', layout.configDigest]).code).toBe(0);
    expect(t.run(['images', '-q']).stdout).toBe('');
    const loaded = t.run(['load', '-i', tar]);
    expect(loaded).toMatchObject({ code: 0, stdout: 'Loaded image: local/app:saved\n' });
    const [info] = JSON.parse(t.run(['image', 'inspect', 'local/app:saved']).stdout);
    expect(info.Id).toBe(layout.configDigest);
    expect(info.RootFS.Layers).toEqual(layout.layers.map((l) => l.diffId));
    const dir = t.run(['image', 'mount', 'local/app:saved']).stdout.trim();
    expect(readFileSync(join(dir, 'etc', 'os-release'), 'utf8')).toBe('NAME=test\n');
    t.run(['image', 'unmount', 'local/app:saved']);
  });

  it('loads skopeo docker-archive (from stdin) and gzip-compressed oci-archive', () => {
    const t = cli();
    const da = join(work, 'da.tar');
    const oa = join(work, 'oa.tar');
    skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${reg.host}/arch/app:v1`, `docker-archive:${da}:fromskopeo/da:1`);
    skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${reg.host}/arch/app:v1`, `oci-archive:${oa}:fromskopeo/oa:1`);
    const r1 = spawnSync(process.execPath, t.args(['load']), { input: readFileSync(da), encoding: 'utf8' });
    expect(r1.stderr).toBe('');
    expect(r1.stdout).toBe('Loaded image: fromskopeo/da:1\n');
    const gz = join(work, 'oa.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(oa)));
    expect(t.run(['load', '-i', gz]).stdout).toBe('Loaded image: fromskopeo/oa:1\n');
    const ids = t.run(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']).stdout.trim().split('\n').sort();
    const short = layout.configDigest.slice(7, 19);
    expect(ids).toEqual([`fromskopeo/da:1 ${short}`, `fromskopeo/oa:1 ${short}`]);
    // Both share the unpacked layers (same chain IDs) even though the blobs differ in compression.
    const layerDirs = execFileSync('ls', [join(t.root, 'layers')], { encoding: 'utf8' }).split('\n').filter((n) => /^[a-f0-9]{64}$/.test(n));
    expect(layerDirs).toHaveLength(2);
  });

  it('rejects archives that are not images or that escape their directory', () => {
    const t = cli();
    const notImage = join(work, 'plain.tar');
    writeFileSync(notImage, tarOf([{ path: 'hello.txt', content: 'hi' }]));
    const r1 = t.run(['load', '-i', notImage]);
    expect(r1.code).toBe(125);
    expect(r1.stderr).toContain('not an image archive');
    const evil = join(work, 'evil.tar');
    writeFileSync(evil, tarOf([{ path: '../../evil.txt', content: 'x' }]));
    const r2 = t.run(['load', '-i', evil]);
    expect(r2.code).toBe(125);
    expect(r2.stderr).toContain('../../evil.txt');
    expect(existsSync(join(t.root, '..', 'evil.txt'))).toBe(false);
    expect(t.run(['save', 'nosuch:tag'], {}).code).toBe(125);
  });
});
