// The image recipes produce layouts that skopeo and umoci accept (skopeo copy
// re-reads and verifies every blob; umoci stat walks manifest and config).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImages } from '../../images/build.mjs';
import { layoutLayers } from '../../images/lib/oci-layout.mjs';

const work = mkdtempSync(join(tmpdir(), 'tsrun-images-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('images/ recipes', () => {
  it('build idempotently: a second run rebuilds nothing', async () => {
    await buildImages(['busybox', 'tricky', 'hostile'], () => undefined);
    const lines: string[] = [];
    await buildImages(['busybox', 'tricky', 'hostile'], (m) => lines.push(m));
    expect(lines.length).toBe(8);
    expect(lines.every((l) => l.includes('up to date'))).toBe(true);
  });

  it('busybox and tricky are valid for skopeo (copied blob by blob, digests verified) and umoci', async () => {
    const dirs = await buildImages(['busybox', 'tricky'], () => undefined);
    for (const [name, dir] of Object.entries(dirs)) {
      const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${dir}:latest`]).toString()) as { Layers: string[]; Architecture: string };
      expect(inspect.Layers).toEqual(layoutLayers(dir).map((l) => l.digest));
      expect(inspect.Architecture).toBe('amd64');
      execFileSync('skopeo', ['copy', '--quiet', `oci:${dir}:latest`, `oci:${join(work, name)}:copy`]);
      if (name === 'busybox') expect(execFileSync('umoci', ['stat', '--image', `${dir}:latest`]).toString()).toContain('busybox-static');
    }
    const config = JSON.parse(readFileSync(join(dirs.busybox!, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
    expect(config.manifests[0]!.annotations['org.opencontainers.image.ref.name']).toBe('latest');
  });
});
