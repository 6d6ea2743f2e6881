/**
 * @module hash
 * A fast, stable 32-bit string hash for feature hashing. Stability matters more than speed
 * here: embeddings are stored in the log and compared across processes and releases, so the
 * same token must land in the same dimension forever (changing this file changes the model).
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a over UTF-16 code units. Hashing code units rather than UTF-8 bytes avoids an encode
 * step per token and is just as stable, since JavaScript strings are UTF-16 everywhere.
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/**
 * The murmur3 finaliser. FNV-1a's low bits mix poorly for short keys; this spreads every
 * input bit over the whole word before the bits pick a dimension and a sign.
 */
export function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Combines two token hashes into an ordered pair hash ("new york" differs from "york new"). */
export function pairHash(first: number, second: number): number {
  return fmix32(Math.imul(first ^ 0x9e3779b9, 0x27d4eb2f) ^ second);
}
