// rkt-shaped image IDs over tsrun's sha256-addressed store.
//
// rkt named an image "sha512-" followed by the first 64 hex digits of a SHA-512
// (its store key), showed "sha512-" + 12 hex digits in `image list` and `list
// --full`, and accepted any prefix of at least "sha512-" + 2 hex digits (longer
// input is cut to the key's length). tsrkt's images are OCI/Docker images whose
// identity is their config blob (tsrun's image ID is its sha256), so:
//
//   rkt ID = "sha512-" + the first 64 hex digits of SHA-512(config blob bytes)
//
// The same bytes give the same ID on every host, the mapping is one-to-one with
// tsrun's ID, and nothing new is stored: the ID is computed on demand from the
// blob the store keeps for every image (the recorded config stands in if the
// blob were ever missing). tsrun's own "sha256:" IDs stay as they are and
// tsrkt accepts them too.
import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError, UsageError } from '../../errors.js';
import type { ImageRecord } from '../../store/index.js';
import type { EngineContext } from '../context.js';
import { openStore } from '../pull.js';

export const RKT_ID_PREFIX = 'sha512-';
/** Hex digits in a full rkt image ID (rkt's store key: half a SHA-512). */
export const RKT_ID_HEX = 64;
/** Hex digits of the short form (rkt's trimImageID). */
export const RKT_SHORT_HEX = 12;
/** rkt's minimum: "sha512-" and two hex digits. */
export const RKT_MIN_PREFIX_HEX = 2;

export function rktImageIdOfBytes(bytes: Uint8Array | string): string {
  return RKT_ID_PREFIX + createHash('sha512').update(bytes).digest('hex').slice(0, RKT_ID_HEX);
}

/** "sha512-" + 12 hex digits, as rkt's `image list` and `list --full` print it. */
export function shortRktImageId(id: string): string {
  return id.startsWith(RKT_ID_PREFIX) ? id.slice(0, RKT_ID_PREFIX.length + RKT_SHORT_HEX) : id;
}

/** True for input written as an rkt image ID (any length: too short is an error, not a name). */
export function looksLikeRktImageId(input: string): boolean {
  return /^sha512-[0-9a-fA-F]*$/.test(input);
}

/**
 * The one full ID among `ids` that `input` ("sha512-" + hex, any case) is a
 * prefix of. UsageError when the prefix is shorter than rkt's minimum,
 * ConflictError when it matches several, NotFoundError when none.
 */
export function matchRktImageId(ids: readonly string[], input: string): string {
  if (!looksLikeRktImageId(input)) throw new UsageError(`"${input}" is not an image ID: rkt image IDs are sha512- followed by hex digits`);
  const hex = input.slice(RKT_ID_PREFIX.length).toLowerCase().slice(0, RKT_ID_HEX);
  if (hex.length < RKT_MIN_PREFIX_HEX) throw new UsageError(`image ID "${input}" is too short: give at least ${RKT_ID_PREFIX} and ${RKT_MIN_PREFIX_HEX} hex digits`);
  const key = RKT_ID_PREFIX + hex;
  const hits = [...new Set(ids.filter((id) => id.startsWith(key)))];
  if (hits.length > 1) throw new ConflictError(`ambiguous image ID "${input}": it matches ${hits.length} images (${hits.map(shortRktImageId).join(', ')})`);
  if (hits.length === 0) throw new NotFoundError('image', input);
  return hits[0]!;
}

// tsrun image ID -> rkt image ID, per process (the blob behind an ID never changes).
const cache = new Map<string, string>();

/** The rkt ID of a stored image (see the top of this file). */
export function rktImageIdOf(ctx: EngineContext, rec: Pick<ImageRecord, 'id' | 'config'>): string {
  const known = cache.get(rec.id);
  if (known) return known;
  const content = openStore(ctx).content;
  const id = content.has(rec.id) ? rktImageIdOfBytes(content.read(rec.id)) : rktImageIdOfBytes(JSON.stringify(rec.config));
  cache.set(rec.id, id);
  return id;
}

/** The rkt ID of the image whose tsrun ID is `imageId`, or undefined when the store has no such image any more. */
export function rktImageIdOfStored(ctx: EngineContext, imageId: string): string | undefined {
  const known = cache.get(imageId);
  if (known) return known;
  const rec = openStore(ctx).images.get(imageId);
  return rec ? rktImageIdOf(ctx, rec) : undefined;
}

/** The image an rkt ID (or a prefix of one) names. */
export function findImageByRktId(ctx: EngineContext, input: string): ImageRecord {
  const recs = openStore(ctx).images.list();
  const byRktId = new Map(recs.map((r) => [rktImageIdOf(ctx, r), r]));
  return byRktId.get(matchRktImageId([...byRktId.keys()], input))!;
}

/**
 * What tsrkt hands the engine for an image the user named: an rkt ID (or
 * prefix) becomes tsrun's "sha256:" ID; `docker://` is dropped; anything else
 * (names, tsrun IDs) is passed on as it is.
 */
export function engineImageRef(ctx: EngineContext, input: string): string {
  if (looksLikeRktImageId(input)) return findImageByRktId(ctx, input).id;
  return input.replace(/^docker:\/\//, '');
}
