// Content digests as the OCI image spec writes them: "<algorithm>:<hex>".
import { createHash } from 'node:crypto';
import { InvalidManifestError } from '../errors.js';

// Only the algorithms the OCI spec registers; anything else cannot be verified.
const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function isValidDigest(s: string): boolean {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/** The hex part of a digest, e.g. for a file name; throws on anything that is not a valid digest. */
export function digestHex(d: string): string {
  if (!isValidDigest(d)) throw new InvalidManifestError(`invalid digest "${d}": expected sha256:<64 hex> or sha512:<128 hex>`);
  return d.slice(d.indexOf(':') + 1);
}

/** The algorithm part ("sha256"), for hashing a stream that must match `d`. */
export function digestAlgorithm(d: string): 'sha256' | 'sha512' {
  digestHex(d);
  return d.startsWith('sha512:') ? 'sha512' : 'sha256';
}
