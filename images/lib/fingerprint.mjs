// A recipe's fingerprint: the hash of its own source, the shared libs and any
// extra inputs (tool versions, input file hashes), so edits trigger a rebuild.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const lib = dirname(fileURLToPath(import.meta.url));

export function fingerprint(recipeUrl, ...extra) {
  const h = createHash('sha256');
  for (const f of [fileURLToPath(recipeUrl), join(lib, 'tar-writer.mjs'), join(lib, 'oci-layout.mjs')]) h.update(readFileSync(f));
  for (const e of extra) h.update(`\0${e}`);
  return h.digest('hex');
}

export function fileHash(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
