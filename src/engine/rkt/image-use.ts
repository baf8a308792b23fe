// When tsrkt last used an image, for `tsrkt image list`'s LAST USED column
// (rkt's store kept a lastused time per image, set at import and refreshed
// whenever a pod used it). The engine's image records have no such field, so
// tsrkt keeps one empty stamp file per image under ROOT/rkt/image-use/ and
// reads its mtime: touching a file is atomic, so concurrent prepares need no
// lock (the last one wins, as it should).
import { closeSync, mkdirSync, openSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineContext } from '../context.js';

function stampPath(ctx: EngineContext, imageId: string): string {
  return join(ctx.root, 'rkt', 'image-use', imageId.replace(/^sha256:/, ''));
}

/** Records that a pod uses the image now (prepare, app add). */
export function markImageUsed(ctx: EngineContext, imageId: string, now = new Date()): void {
  const file = stampPath(ctx, imageId);
  mkdirSync(join(file, '..'), { recursive: true });
  closeSync(openSync(file, 'a'));
  utimesSync(file, now, now);
}

/** rkt's lastused: the image's import time, or its last use by a pod when later (ms since the epoch). */
export function imageLastUsed(ctx: EngineContext, imageId: string, importedAt: number): number {
  try {
    return Math.max(importedAt, statSync(stampPath(ctx, imageId)).mtimeMs);
  } catch {
    return importedAt; // never used by a pod
  }
}
