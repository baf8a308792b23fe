#!/usr/bin/env node
// Builds everything `npm install` must produce: one bundled file per CLI
// (fast start-up: a single module to load), the native addon and the C helper.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'build');
const dist = join(root, 'dist');
mkdirSync(build, { recursive: true });
mkdirSync(dist, { recursive: true });

const cc = process.env.CC ?? 'cc';

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
}

// Native addon: compiled directly against Node's own headers (no node-gyp needed).
const nodeInclude = [resolve(process.execPath, '../../include/node'), '/usr/include/node', '/usr/local/include/node'].find(
  (d) => existsSync(join(d, 'node_api.h')),
);
if (!nodeInclude) {
  console.error('build: cannot find node_api.h (install Node.js headers, e.g. the nodejs-dev or libnode-dev package)');
  process.exit(1);
}
run(cc, ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-shared', '-fPIC', `-I${nodeInclude}`,
  '-DNODE_GYP_MODULE_NAME=tsrun_native', '-o', join(build, 'tsrun_native.node'), 'src/native/tsrun_native.c']);

// The C helper has its own Makefile so its flags stay next to its code.
if (existsSync(join(root, 'src/helper/Makefile'))) {
  run('make', ['-s', '-C', 'src/helper', `OUT=${join(build, 'tsrun-helper')}`, `CC=${cc}`]);
}

// Bundles.
const entries = [
  ['src/cli/docker/main.ts', 'tsrun.mjs'],
  ['src/cli/rkt/main.ts', 'tsrkt.mjs'],
  ['src/cli/oci/main.ts', 'tsrun-oci.mjs'],
].filter(([src]) => existsSync(join(root, src)));
const esbuild = await import('esbuild');
await Promise.all(entries.map(([src, out]) => esbuild.build({
  entryPoints: [join(root, src)],
  outfile: join(dist, out),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __tsrunRequire } from 'node:module'; const require = __tsrunRequire(import.meta.url);" },
})));
