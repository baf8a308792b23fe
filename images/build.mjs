#!/usr/bin/env node
// Builds the project's test images as OCI image layouts in images/out/<name>/.
// Usage: node images/build.mjs [name...]   (no names: every image; minbase's first
// build runs debootstrap, ~30 s to minutes; "hostile" names all hostile-* images).
// Idempotent: an image is rebuilt only when its recipe or inputs changed
// (fingerprint in images/out/.stamps/<name>).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyboxImages } from './recipes/busybox.mjs';
import { hostileImages } from './recipes/hostile.mjs';
import { minbaseImages } from './recipes/minbase.mjs';
import { trickyImages } from './recipes/tricky.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const OUT = join(here, 'out');

/** Every recipe: { name, fingerprint(): string, build(outDir): void | Promise<void> }. */
export function allImages() {
  return [...busyboxImages(), ...trickyImages(), ...hostileImages(), ...minbaseImages(join(OUT, '.cache'))];
}

/** Builds the named images (all when empty) unless up to date; returns their layout dirs. */
export async function buildImages(names = [], log = console.error) {
  const all = allImages();
  const chosen = names.length === 0 ? all : names.flatMap((n) => {
    const hits = all.filter((i) => i.name === n || (n === 'hostile' && i.name.startsWith('hostile-')));
    if (hits.length === 0) throw new Error(`unknown image "${n}"; known: ${all.map((i) => i.name).join(', ')}`);
    return hits;
  });
  const dirs = {};
  for (const img of chosen) {
    const outDir = join(OUT, img.name);
    const stamp = join(OUT, '.stamps', img.name);
    const fp = img.fingerprint();
    if (existsSync(join(outDir, 'index.json')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === fp) {
      log(`images: ${img.name} is up to date`);
    } else {
      const t0 = Date.now();
      await img.build(outDir);
      mkdirSync(dirname(stamp), { recursive: true });
      writeFileSync(stamp, fp);
      log(`images: built ${img.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${outDir}`);
    }
    dirs[img.name] = outDir;
  }
  return dirs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildImages(process.argv.slice(2)).catch((err) => {
    console.error(`images: ${err.stack ?? err}`);
    process.exit(1);
  });
}
