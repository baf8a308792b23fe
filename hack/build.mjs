#!/usr/bin/env node
// Builds everything `npm install` must produce: one bundled file per CLI
// (fast start-up: a single module to load), the native addon and the C helper.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  '-DNODE_GYP_MODULE_NAME=tsrun_native', '-pthread', '-o', join(build, 'tsrun_native.node'), 'src/native/tsrun_native.c', 'src/native/node_writer.c', 'src/native/remove_tree.c', 'src/native/cgroup_warm.c', 'src/native/cgroup_own.c', 'src/native/spawn.c', 'src/native/map_file.c']);
// The CLIs: each one's main module and name (bin/<name>, build/<name>, dist/<name>.*).
const clis = [
  ['src/cli/docker/main.ts', 'tsrun'],
  ['src/cli/rkt/main.ts', 'tsrkt'],
  ['src/cli/oci/main.ts', 'tsrun-oci'],
].filter(([src]) => existsSync(join(root, src)));
// The CLIs' launcher (src/native/cli_launch.c): bin/<cli> links to build/<cli>, hard links of one
// program that tells the CLIs apart by its path. Static, as the helper: no dynamic loader to run.
run(cc, ['-O2', '-Wall', '-Wextra', '-static', '-o', join(build, 'tsrun-launch'), 'src/native/cli_launch.c', 'src/native/cgroup_own.c']);
for (const [, name] of clis) {
  const tmp = join(build, `${name}.tmp${process.pid}`);
  rmSync(tmp, { force: true });
  try {
    linkSync(join(build, 'tsrun-launch'), tmp);
  } catch {
    copyFileSync(join(build, 'tsrun-launch'), tmp); // a filesystem without hard links
  }
  renameSync(tmp, join(build, name)); // a CLI starting meanwhile runs the old program or the new one
}
rmSync(join(build, 'tsrun-cgroup-warm'), { force: true }); // what the launcher replaced

// The C helper has its own Makefile so its flags stay next to its code.
if (existsSync(join(root, 'src/helper/Makefile'))) {
  run('make', ['-s', '-C', 'src/helper', `OUT=${join(build, 'tsrun-helper')}`, `CC=${cc}`]);
}

// Bundles: one CommonJS file per CLI, started through dist/<cli>.cjs (hack/cli-entry.cjs),
// which hands V8 the code cache made below. CommonJS, not ESM: Node's ESM loader alone costs
// ~3 ms per start, and vm.Script (the code cache's stable API on Node 20) runs scripts.
// Each CLI's code cache is made by one command that runs what users start most: for tsrun and
// tsrun-oci a container run (a `run` against an empty image, whose command is missing, goes
// through create, spec, plan, launch and removal; that command's code was compiled lazily at
// every start when the cache came from `ps`: ~7 ms of every `run`). Without root it fails
// earlier and the cache is smaller, never wrong. `setup` steps run first, without a cache.
const warmups = {
  tsrun: (dir) => {
    const t = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run')];
    writeFileSync(join(dir, 'empty.tar'), Buffer.alloc(1024)); // an empty tar archive: two zero blocks
    return {
      setup: [[...t, 'import', join(dir, 'empty.tar'), 'tsrun-warmup:latest']],
      args: [...t, 'run', '--rm', '--network', 'none', '--pull', 'never', 'tsrun-warmup', '/tsrun-warmup'],
    };
  },
  tsrkt: (dir) => ({ setup: [], args: ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), 'list'] }),
  'tsrun-oci': (dir) => {
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    const spec = ['--root', join(dir, 'oci'), 'spec', '--bundle', bundle];
    return { setup: [spec], args: ['--root', join(dir, 'oci'), 'run', '--bundle', bundle, 'tsrun-warmup'], patchBundle: bundle };
  },
};
const esbuild = await import('esbuild');
// Part of the key of every cached seccomp program (src/runtime/seccomp-cache.ts): a build whose
// compiler, syscall tables or cache format differ never loads another build's programs.
const seccompCompilerDigest = createHash('sha256')
  .update(['src/runtime/seccomp.ts', 'src/runtime/syscalls.ts', 'src/runtime/seccomp-cache.ts'].map((f) => readFileSync(join(root, f), 'utf8')).join('\0'))
  .digest('hex')
  .slice(0, 16);
// Node's own CommonJS wrapper (require('node:module').wrapper), the arguments hack/cli-entry.cjs passes.
const MODULE_WRAPPER_START = '(function (exports, require, module, __filename, __dirname) { ';
const MODULE_WRAPPER_END = '\n});';
const { lazyBuiltins } = await import('./lazy-builtins.mjs');
const bundles = clis.map(([src, name]) => [src, `${name}.bundle.cjs`]);
// Each CLI's entry, dist/<cli>.cjs: hack/cli-entry.cjs with the CLI's early-warm.ts (its rule for
// warming the cgroup lock before the bundle loads) built in. A second file to require cost ~0.25 ms
// of every start, and as much to look for where a CLI has none.
const entries = clis.map(([src, name]) => esbuild.build({
  entryPoints: [join(root, 'hack/cli-entry.cjs')],
  outfile: join(dist, `${name}.cjs`),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  write: false,
  plugins: [earlyWarmRule(join(root, dirname(src), 'early-warm.ts'))],
}));
const built = await Promise.all([...entries, ...bundles.map(([src, out]) => esbuild.build({
  entryPoints: [join(root, src)],
  outfile: join(dist, out),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  // Whitespace and syntax only (names kept, so stacks and class names read as written): a third
  // smaller bundle, ~3 ms less to read and compile at every start.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [lazyBuiltins()],
  define: { 'import.meta.url': '__tsrunMeta.url', __TSRUN_SECCOMP_COMPILER__: JSON.stringify(seccompCompilerDigest) },
  // A CLI's bundle comes already wrapped as a CommonJS module function, so its entry compiles the
  // file's text as read: wrapping it at start-up made a 0.8 MB string V8 had to copy flat first.
  // import.meta.url is made on first use (pathToFileURL costs ~0.2 ms, and the hot paths use __dirname).
  // "use strict" opens the function body: esbuild's own comes after this banner, where it is no
  // directive, and the bundle would run in sloppy mode (the sources are ES modules, strict, as tested).
  banner: { js: out.endsWith('.bundle.cjs') ? `${MODULE_WRAPPER_START}"use strict"; var __tsrunMeta = { get url() { return require("node:url").pathToFileURL(__filename).href; } };` : '' },
  footer: out.endsWith('.bundle.cjs') ? { js: MODULE_WRAPPER_END } : undefined,
  write: false,
}))]);
// A CLI's entry maps its bundle and reads the bytes as Latin-1 (src/native/map_file.c): the
// bundle must be ASCII. And a mapped file must never shrink under a running CLI: dist/ files are
// replaced by rename, not rewritten in place.
const outputs = built.flatMap((result) => result.outputFiles);
for (const file of outputs) {
  const at = file.path.endsWith('.bundle.cjs') ? file.contents.findIndex((byte) => byte > 0x7f) : -1;
  if (at >= 0) {
    const line = file.contents.subarray(0, at).filter((byte) => byte === 0x0a).length + 1;
    const near = Buffer.from(file.contents.subarray(Math.max(0, at - 40), at + 20)).toString('utf8');
    console.error(`build: ${file.path} line ${line} has a non-ASCII character, near: ${near}\nwrite it as an escape (\\u...) in its source`);
    process.exit(1);
  }
}
// V8 matches a code cache to its source by length only: no old cache may outlive its bundle, even
// when the build stops half-way. The caches are made anew below.
for (const [, name] of clis) rmSync(join(dist, `${name}.bundle.cjs.cache`), { force: true });
for (const file of outputs) replaceFile(file.path, file.contents);
// Now in the entry: what earlier builds wrote beside it.
for (const old of [...clis.flatMap(([, name]) => [`${name}.early-warm.cjs`, `${name}.early-warm.cjs.map`]), 'early-warm.cjs', 'early-warm.cjs.map']) rmSync(join(dist, old), { force: true });

// The code cache: each CLI runs its warm-up command against a throwaway state directory and
// writes V8's cache of everything it compiled. A failed command still leaves a useful cache.
const scratch = mkdtempSync(join(tmpdir(), 'tsrun-build-'));
try {
  for (const [, name] of clis) {
    const cacheFile = join(dist, `${name}.bundle.cjs.cache`); // removed above, with the old bundles
    const dir = join(scratch, name);
    mkdirSync(dir);
    const warmup = warmups[name](dir);
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: '', TSRUN_ROOT: '', TSRUN_RUNROOT: '' };
    const cli = (args, extraEnv = {}) =>
      spawnSync(process.execPath, [join(dist, `${name}.cjs`), ...args], { stdio: 'ignore', env: { ...env, ...extraEnv }, timeout: 30_000 });
    for (const args of warmup.setup) cli(args);
    if (warmup.patchBundle) patchWarmupSpec(join(warmup.patchBundle, 'config.json'));
    cli(warmup.args, { TSRUN_WRITE_CODE_CACHE: cacheFile });
  }
} finally {
  removeScratch(scratch);
}

/** The entry's `tsrun:early-warm`: the CLI's early-warm.ts, or a rule that warms nothing. */
function earlyWarmRule(file) {
  return {
    name: 'early-warm',
    setup(build) {
      build.onResolve({ filter: /^tsrun:early-warm$/ }, () => (existsSync(file) ? { path: file } : { path: 'none', namespace: 'no-early-warm' }));
      build.onLoad({ filter: /.*/, namespace: 'no-early-warm' }, () => ({ contents: 'exports.warmBeforeLoad = () => {};', loader: 'js' }));
    },
  };
}

/** Writes a dist/ file whole under a name of this build's, then renames it into place: a CLI starting meanwhile reads the old file or the new one. */
function replaceFile(path, contents) {
  const tmp = `${path}.tmp${process.pid}`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

/**
 * A warm-up run stopped by its timeout may leave its container's overlay mounted in the
 * scratch dir: unmount what is there first, and never fail the build over the cleanup.
 */
function removeScratch(dir) {
  try {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((m) => m && m.startsWith(`${dir}/`));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  } catch {
    // no mountinfo: nothing can be mounted there either
  }
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    console.warn(`build: could not remove the warm-up's scratch dir ${dir}: ${err.message}`);
  }
}

/** The warm-up bundle's process: no terminal, and a command that is not there. */
function patchWarmupSpec(file) {
  if (!existsSync(file)) return;
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['/tsrun-warmup'];
  writeFileSync(file, JSON.stringify(spec));
}
