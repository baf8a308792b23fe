// Enforces the architecture: imports point down only (../shared/docs/architecture.md).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');

// Modules every layer may use.
const BASE = ['errors', 'oci', 'util', 'native'];

// For each module: the modules it may import (besides itself and BASE).
const ALLOWED: Record<string, string[]> = {
  errors: [],
  oci: [],
  util: [],
  native: [],
  helper: [],
  image: [],
  registry: ['image'],
  store: ['image'],
  unpack: [],
  snapshot: [],
  spec: ['image'],
  cgroup: [],
  network: [],
  runtime: ['cgroup', 'helper'],
  engine: ['image', 'registry', 'store', 'unpack', 'snapshot', 'spec', 'cgroup', 'network', 'runtime'],
  'cli/docker': ['cli', 'engine', 'image', 'registry', 'store', 'spec', 'cgroup', 'network', 'runtime'],
  'cli/rkt': ['cli', 'engine', 'image', 'registry', 'store', 'spec', 'cgroup', 'network', 'runtime'],
  'cli/oci': ['cli', 'engine', 'runtime', 'spec', 'cgroup'],
  cli: ['engine'],
};

function moduleOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  if (rel[0] === 'cli' && rel.length > 2) return `cli/${rel[1]}`;
  if (rel.length === 1) return rel[0]!.replace(/\.ts$/, '');
  return rel[0]!;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return walk(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

describe('architecture', () => {
  it('imports point down only', () => {
    const violations: string[] = [];
    for (const file of walk(SRC)) {
      const from = moduleOf(file);
      const allowed = new Set([from, ...BASE, ...(ALLOWED[from] ?? [])]);
      if (!(from in ALLOWED)) violations.push(`${relative(SRC, file)}: module "${from}" has no place in the layer table`);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2]!;
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        const to = moduleOf(target);
        if (!allowed.has(to)) violations.push(`${relative(SRC, file)} imports ${to} (${spec})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('registry and store never import each other', () => {
    expect(ALLOWED.registry).not.toContain('store');
    expect(ALLOWED.store).not.toContain('registry');
  });
});
