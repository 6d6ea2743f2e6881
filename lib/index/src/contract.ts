/**
 * @module contract
 * What both backends do alike to keep the `VectorIndex` contract (types.ts): they refuse a
 * version that is not a stream sequence, and they add up per-tenant counters into stats.
 */
import type { IndexStats } from './types.ts';

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
