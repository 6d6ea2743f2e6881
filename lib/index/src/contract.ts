/**
 * @module contract
 * What both backends do alike to keep the `VectorIndex` contract (types.ts): they refuse a
 * version that is not a stream sequence, they add up per-tenant counters into stats, they
 * judge expiry the same way, and they order a list page the same way.
 */
import { LIMITS } from '@memmesh/core';
import type { IndexStats, ListQuery } from './types.ts';

/** Versions are stream sequences; anything else is a programmer error, not an event to skip. */
export function assertVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new RangeError(`version is ${version}, expected a non-negative safe integer`);
  }
}

/** The stats of the given tenants together; an undefined tenant (never seen) counts nothing. */
export function sumStats(tenants: Iterable<IndexStats | undefined>): IndexStats {
  const stats: IndexStats = { docs: 0, chunks: 0, tombstones: 0, version: 0 };
  for (const t of tenants) {
    if (t === undefined) continue;
    stats.docs += t.docs;
    stats.chunks += t.chunks;
    stats.tombstones += t.tombstones;
    stats.version = Math.max(stats.version, t.version);
  }
  return stats;
}

/** True when a document version with this expiry is gone at `nowMs`. */
export function isExpired(expiresAtMs: number | undefined, nowMs: number): boolean {
  return expiresAtMs !== undefined && expiresAtMs <= nowMs;
}

/** A list query outside its bounds is a programmer error: the API checks them first. */
export function assertListQuery(query: ListQuery): void {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > LIMITS.listLimitMax) {
    throw new RangeError(`limit is ${query.limit}, expected an integer in [1, ${LIMITS.listLimitMax}]`);
  }
  if (query.beforeVersion !== undefined) assertVersion(query.beforeVersion);
}

export function assertDocsMax(docsMax: number): void {
  if (!Number.isSafeInteger(docsMax) || docsMax < 1) {
    throw new RangeError(`docsMax is ${docsMax}, expected a positive integer`);
  }
}

/**
 * The `limit` highest versions of `docs`, highest first. Versions are unique per document
 * and per stream, so the order is total and a cursor below the last one never repeats one.
 */
export function newestFirst<T extends { version: number }>(docs: Iterable<T>, limit: number): T[] {
  const kept: T[] = [];
  for (const doc of docs) {
    // Kept sorted, highest first, at most `limit` long: an insertion per candidate that
    // beats the lowest kept, so a page costs O(n × limit) at worst and O(n) typically.
    if (kept.length === limit && (kept[limit - 1] as T).version >= doc.version) continue;
    let at = kept.length;
    while (at > 0 && (kept[at - 1] as T).version < doc.version) at--;
    kept.splice(at, 0, doc);
    if (kept.length > limit) kept.pop();
  }
  return kept;
}
