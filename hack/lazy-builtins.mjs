// An esbuild plugin that makes Node's heavier built-in modules load on first use.
//
// A bundle's imports all run when it starts, so `tsrun ps` would load https, tls,
// zlib and crypto (~5 ms) although only `pull` needs them. Each listed module is
// replaced by a stand-in whose exports are getters that require the real module
// the first time one is read. Named imports are read at call time in a CommonJS
// bundle, so code keeps its plain `import { x } from 'node:y'`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const LAZY_BUILTINS = [
  'child_process', 'crypto', 'dgram', 'dns', 'dns/promises', 'http', 'https', 'net', 'os', 'readline',
  'readline/promises', 'stream', 'stream/promises', 'timers/promises', 'tls', 'tty', 'util', 'worker_threads', 'zlib',
];

export function lazyBuiltins() {
  const pattern = new RegExp(`^(node:)?(${LAZY_BUILTINS.map((m) => m.replace('/', '\\/')).join('|')})$`);
  return {
    name: 'lazy-builtins',
    setup(build) {
      build.onResolve({ filter: pattern }, (args) =>
        args.namespace === 'lazy-builtin'
          ? { path: args.path, external: true } // the stand-in's own require of the real module
          : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' });
      build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
        const names = Object.keys(require(`node:${args.path}`)).filter((k) => k !== 'default' && k !== '__esModule');
        const getters = names.map((k) => `  get ${JSON.stringify(k)}() { return load()[${JSON.stringify(k)}]; },`).join('\n');
        // The getters sit on the stand-in's prototype, not on the stand-in itself: esbuild wraps every
        // import of a CommonJS module in __toESM, which copies each own property of the module onto a
        // new object per importing file (~60 imports of ~40 names: ~1 ms of every start). A stand-in
        // with no own properties is copied for free, and the copies inherit the same getters.
        return {
          loader: 'js',
          contents: `let real;\nconst load = () => real ??= require(${JSON.stringify(`node:${args.path}`)});\nmodule.exports = Object.create({\n${getters}\n});\n`,
        };
      });
    },
  };
}
