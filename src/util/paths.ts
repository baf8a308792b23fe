// Where the built artefacts live. Works both from the bundle (dist/*.bundle.cjs) and
// from sources run by vitest (src/**), by finding the checkout's package.json.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** This module's directory: the bundle's own __dirname (no URL made and parsed at start-up), else from import.meta.url. */
const moduleDir = (): string => (typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url)));

export function projectRoot(): string {
  if (root) return root;
  let dir = moduleDir();
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the tsrun installation (package.json)');
    dir = up;
  }
}

export function buildDir(): string {
  return process.env.TSRUN_BUILD_DIR ?? join(projectRoot(), 'build');
}

export function nativeAddonPath(): string {
  return join(buildDir(), 'tsrun_native.node');
}

/** The C helper that executes launch plans and monitors containers. */
export function helperPath(): string {
  return join(buildDir(), 'tsrun-helper');
}
