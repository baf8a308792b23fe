// The engine objects the tsrkt verbs use, and small output helpers.
import { dirname, join } from 'node:path';
import { Containers } from '../../engine/containers.js';
import type { EngineContext } from '../../engine/context.js';
import { RktPods } from '../../engine/rkt/rkt-pods.js';
import { stdout } from '../stdout.js';

/**
 * Containers whose detached monitors call back into `tsrun container cleanup`
 * (dist/tsrun.cjs beside this bundle): that hook applies rkt's exit rules too,
 * so tsrkt needs no hidden verb of its own.
 */
export function containersFor(ctx: EngineContext): Containers {
  const self = process.argv[1] ?? '';
  return new Containers(ctx, { cli: [process.execPath, join(dirname(self), 'tsrun.cjs')] });
}

export function rktPodsFor(ctx: EngineContext): RktPods {
  return new RktPods(ctx, containersFor(ctx));
}

/** Columns separated by at least two spaces, like Go's tabwriter in rkt. */
export function printColumns(rows: string[][], out: { write(text: string): unknown } = stdout): void {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  for (const r of rows) out.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').replace(/\s+$/, '') + '\n');
}
