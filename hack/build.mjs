#!/usr/bin/env node
// Builds everything `npm install` must produce: one bundled file per CLI
// (fast start-up: a single module to load), the native addon and the C helper.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  '-DNODE_GYP_MODULE_NAME=tsrun_native', '-pthread', '-o', join(build, 'tsrun_native.node'), 'src/native/tsrun_native.c', 'src/native/node_writer.c', 'src/native/remove_tree.c']);

// The C helper has its own Makefile so its flags stay next to its code.
if (existsSync(join(root, 'src/helper/Makefile'))) {
  run('make', ['-s', '-C', 'src/helper', `OUT=${join(build, 'tsrun-helper')}`, `CC=${cc}`]);
}

// Bundles: one CommonJS file per CLI, started through dist/<cli>.cjs (hack/cli-entry.cjs),
// which hands V8 the code cache made below. CommonJS, not ESM: Node's ESM loader alone costs
// ~3 ms per start, and vm.Script (the code cache's stable API on Node 20) runs scripts.
const clis = [
  ['src/cli/docker/main.ts', 'tsrun', (dir) => ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), 'ps', '-a']],
  ['src/cli/rkt/main.ts', 'tsrkt', (dir) => ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), 'list']],
  ['src/cli/oci/main.ts', 'tsrun-oci', (dir) => ['--root', join(dir, 'oci'), 'list']],
].filter(([src]) => existsSync(join(root, src)));
const esbuild = await import('esbuild');
const { lazyBuiltins } = await import('./lazy-builtins.mjs');
await Promise.all(clis.map(([src, name]) => esbuild.build({
  entryPoints: [join(root, src)],
  outfile: join(dist, `${name}.bundle.cjs`),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [lazyBuiltins()],
  define: { 'import.meta.url': '__tsrunMetaUrl' },
  banner: { js: 'var __tsrunMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
})));

// The code cache: each CLI runs one harmless command against a throwaway state directory and
// writes V8's cache of everything it compiled. A failed command still leaves a useful cache.
const scratch = mkdtempSync(join(tmpdir(), 'tsrun-build-'));
try {
  for (const [, name, warmup] of clis) {
    copyFileSync(join(root, 'hack/cli-entry.cjs'), join(dist, `${name}.cjs`));
    const cacheFile = join(dist, `${name}.bundle.cjs.cache`);
    rmSync(cacheFile, { force: true });
    spawnSync(process.execPath, [join(dist, `${name}.cjs`), ...warmup(scratch)], {
      stdio: 'ignore',
      env: { ...process.env, TSRUN_WRITE_CODE_CACHE: cacheFile, NODE_EXTRA_CA_CERTS: '', TSRUN_ROOT: '', TSRUN_RUNROOT: '' },
      timeout: 30_000,
    });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
