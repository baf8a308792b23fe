#!/usr/bin/env node
// Times unpackLayer against `gzip -dc | tar -x` (GNU tar) on the same layer,
// interleaved so machine noise hits both alike. Not a test: prints numbers.
// Usage: node hack/bench/unpack-vs-tar.mjs [image=minbase] [rounds=5]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const image = process.argv[2] ?? 'minbase';
const rounds = Number(process.argv[3] ?? 5);
const work = mkdtempSync(join(tmpdir(), 'tsrun-bench-'));
process.env.TSRUN_BUILD_DIR ??= join(root, 'build');

execFileSync('node', [join(root, 'images/build.mjs'), image], { stdio: 'inherit' });
const { layoutLayers } = await import(pathToFileURL(join(root, 'images/lib/oci-layout.mjs')).href);
const layers = layoutLayers(join(root, 'images/out', image));
const bundle = join(work, 'unpack.mjs');
await esbuild.build({ entryPoints: [join(root, 'src/unpack/index.ts')], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'warning' });
const { unpackLayer } = await import(pathToFileURL(bundle).href);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ours = [];
const gnu = [];
for (let r = 0; r < rounds; r++) {
  for (const which of r % 2 ? ['gnu', 'ours'] : ['ours', 'gnu']) {
    const dest = join(work, `${which}-${r}`);
    spawnSync('sync');
    const t0 = performance.now();
    for (const [i, l] of layers.entries()) {
      if (which === 'ours') await unpackLayer(l.path, l.mediaType, join(dest, String(i)));
      else {
        mkdirSync(join(dest, String(i)), { recursive: true });
        const dec = l.mediaType.endsWith('zstd') ? 'zstd -dc' : l.mediaType.endsWith('gzip') ? 'gzip -dc' : 'cat';
        const res = spawnSync('sh', ['-c', `${dec} "$1" | tar --numeric-owner --xattrs --xattrs-include='*' -xpf - -C "$2"`, 'sh', l.path, join(dest, String(i))]);
        if (res.status !== 0) throw new Error(`GNU tar failed: ${res.stderr}`);
      }
    }
    (which === 'ours' ? ours : gnu).push(performance.now() - t0);
    rmSync(dest, { recursive: true, force: true });
  }
}
rmSync(work, { recursive: true, force: true });
const fmt = (xs) => xs.map((x) => (x / 1000).toFixed(2)).join(' ');
console.log(`${image}: unpackLayer  ${fmt(ours)} s  (median ${(median(ours) / 1000).toFixed(2)} s)`);
console.log(`${image}: gzip|GNU tar ${fmt(gnu)} s  (median ${(median(gnu) / 1000).toFixed(2)} s)`);
console.log(`${image}: ratio (median unpackLayer / median GNU tar) = ${(median(ours) / median(gnu)).toFixed(2)}`);
