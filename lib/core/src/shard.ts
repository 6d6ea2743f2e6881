/**
 * @module shard
 * Placement of documents on the shards of a region: jump consistent hashing
 * (Lamping & Veach, 2014) over sha256(tenant/docId). All chunks of a document share one
 * shard, and growing the shard count from n to n+1 moves only 1/(n+1) of the documents.
 */
import { createHash } from 'node:crypto';

/** Shards in a region; `s00..s63` keeps subjects and consumer names fixed-width. */
export const SHARD_COUNT_MAX = 64;

const MASK_64 = (1n << 64n) - 1n;
const JUMP_MULTIPLIER = 2862933555777941757n;

/** Jump consistent hash of a 64-bit key into [0, buckets). */
export function jumpHash(key: bigint, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1)
    throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
  let k = key & MASK_64;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * JUMP_MULTIPLIER + 1n) & MASK_64;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(k >> 33n) + 1));
  }
  return b;
}

export function shardIndexOf(tenant: string, docId: string, shardCount: number): number {
  const digest = createHash('sha256').update(`${tenant}/${docId}`).digest();
  return jumpHash(digest.readBigUInt64BE(0), shardCount);
}

export function shardName(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= SHARD_COUNT_MAX) {
    throw new RangeError(`shard index out of range: ${index}`);
  }
  return `s${index.toString().padStart(2, '0')}`;
}

export function shardNames(shardCount: number): string[] {
  return Array.from({ length: shardCount }, (_, i) => shardName(i));
}

export function shardOf(tenant: string, docId: string, shardCount: number): string {
  return shardName(shardIndexOf(tenant, docId, shardCount));
}
