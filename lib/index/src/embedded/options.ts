/**
 * @module options
 * Options of the embedded index, their defaults, and their one-time validation.
 */
import { ErrorCode, MeshError } from '@memmesh/core';

export interface EmbeddedIndexOptions {
  /** Length of every vector; the embedding model's output size. */
  dimensions: number;
  /** Snapshot directory of this shard; undefined keeps the index in memory only. */
  dir?: string | undefined;
  /** HNSW links per node (usearch `connectivity`, often called M). */
  connectivity?: number | undefined;
  /** Candidate list size while inserting (usearch `expansion_add`, efConstruction). */
  expansionAdd?: number | undefined;
  /** Candidate list size while searching (usearch `expansion_search`, ef). */
  expansionSearch?: number | undefined;
  /** Graph candidates asked for per wanted document, to absorb chunk folding and filters. */
  oversampleFactor?: number | undefined;
  /** At or below this many matching chunks, a filtered search scans exactly. */
  exactScanChunksMax?: number | undefined;
}

export type ResolvedIndexOptions = Required<Omit<EmbeddedIndexOptions, 'dir'>> & { dir: string | undefined };

export const DEFAULT_CONNECTIVITY = 16;
export const DEFAULT_EXPANSION_ADD = 128;
/**
 * Measured, not guessed, with connectivity 16. On 5,000 random unit vectors of 384
 * dimensions (the hardest case, no structure for the graph to exploit) recall@10 was 0.57 at
 * ef 64, 0.79 at 128, 0.94 at 256 and 0.99 at 512. On text embedded by the local embedder it
 * was 0.947 at 128 and at or above 0.95 at 256 (embedded-index.test.ts), and 0.993 on the
 * bench corpus at 128. Search cost grows with ef, so 256 is the smallest that holds the 0.95
 * bar on embeddings; random-vector workloads should set 512.
 */
export const DEFAULT_EXPANSION_SEARCH = 256;
/** A document has a few chunks typically; 4× covers that without a second graph round. */
export const DEFAULT_OVERSAMPLE_FACTOR = 4;
/** 4,096 chunks × 384 dimensions is ~1.6 M multiply-adds: about a millisecond in JS. */
export const DEFAULT_EXACT_SCAN_CHUNKS_MAX = 4096;

/** Matches `UpsertEventSchema`'s model.dim bound. */
const DIMENSIONS_MAX = 4096;
/** Memory per node grows linearly with links; past this, recall gains no longer pay for it. */
const CONNECTIVITY_MAX = 256;
const EXPANSION_MAX = 65_536;
const OVERSAMPLE_FACTOR_MAX = 1024;

export function resolveOptions(options: EmbeddedIndexOptions): ResolvedIndexOptions {
  const resolved: ResolvedIndexOptions = {
    dimensions: options.dimensions,
    dir: options.dir,
    connectivity: options.connectivity ?? DEFAULT_CONNECTIVITY,
    expansionAdd: options.expansionAdd ?? DEFAULT_EXPANSION_ADD,
    expansionSearch: options.expansionSearch ?? DEFAULT_EXPANSION_SEARCH,
    oversampleFactor: options.oversampleFactor ?? DEFAULT_OVERSAMPLE_FACTOR,
    exactScanChunksMax: options.exactScanChunksMax ?? DEFAULT_EXACT_SCAN_CHUNKS_MAX,
  };
  checkInteger('dimensions', resolved.dimensions, 1, DIMENSIONS_MAX);
  checkInteger('connectivity', resolved.connectivity, 2, CONNECTIVITY_MAX);
  checkInteger('expansionAdd', resolved.expansionAdd, 1, EXPANSION_MAX);
  checkInteger('expansionSearch', resolved.expansionSearch, 1, EXPANSION_MAX);
  checkInteger('exactScanChunksMax', resolved.exactScanChunksMax, 0, Number.MAX_SAFE_INTEGER);
  const factor = resolved.oversampleFactor;
  if (!(Number.isFinite(factor) && factor >= 1 && factor <= OVERSAMPLE_FACTOR_MAX)) {
    throw invalid('oversampleFactor', factor, `a number in [1, ${OVERSAMPLE_FACTOR_MAX}]`);
  }
  if (resolved.dir !== undefined && resolved.dir.length === 0) throw invalid('dir', '', 'a non-empty path');
  return resolved;
}

function checkInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, value, `an integer in [${min}, ${max}]`);
  }
}

function invalid(field: string, value: unknown, expected: string): MeshError {
  return new MeshError(
    ErrorCode.Config,
    `embedded index option ${field} is ${String(value)}, expected ${expected}`,
  );
}
