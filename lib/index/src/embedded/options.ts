/**
 * @module options
 * Options of the embedded index, their defaults, and their one-time validation. The HNSW
 * settings, their defaults and the measured reason for them are shared with Milvus
 * (../options.ts).
 */
import { checkDimensions, checkInteger, type HnswOptions, invalidOption, resolveHnsw } from '../options.ts';

export interface EmbeddedIndexOptions {
  /** Length of every vector; the embedding model's output size. */
  dimensions: number;
  /** Snapshot directory of this shard; undefined keeps the index in memory only. */
  dir?: string | undefined;
  /** HNSW settings of every tenant's usearch graph; DEFAULT_HNSW fills in what is left out. */
  hnsw?: Partial<HnswOptions> | undefined;
  /** Graph candidates asked for per wanted document, to absorb chunk folding and filters. */
  oversampleFactor?: number | undefined;
  /** At or below this many matching chunks, a filtered search scans exactly. */
  exactScanChunksMax?: number | undefined;
}

export type ResolvedIndexOptions = Required<Omit<EmbeddedIndexOptions, 'dir' | 'hnsw'>> & {
  dir: string | undefined;
  hnsw: HnswOptions;
};

/** A document has a few chunks typically; 4× covers that without a second graph round. */
export const DEFAULT_OVERSAMPLE_FACTOR = 4;
/** 4,096 chunks × 384 dimensions is ~1.6 M multiply-adds: about a millisecond in JS. */
export const DEFAULT_EXACT_SCAN_CHUNKS_MAX = 4096;

const OVERSAMPLE_FACTOR_MAX = 1024;
const OWNER = 'embedded index';

export function resolveOptions(options: EmbeddedIndexOptions): ResolvedIndexOptions {
  const resolved: ResolvedIndexOptions = {
    dimensions: options.dimensions,
    dir: options.dir,
    hnsw: resolveHnsw(OWNER, options.hnsw),
    oversampleFactor: options.oversampleFactor ?? DEFAULT_OVERSAMPLE_FACTOR,
    exactScanChunksMax: options.exactScanChunksMax ?? DEFAULT_EXACT_SCAN_CHUNKS_MAX,
  };
  checkDimensions(OWNER, resolved.dimensions);
  checkInteger(OWNER, 'exactScanChunksMax', resolved.exactScanChunksMax, 0, Number.MAX_SAFE_INTEGER);
  const factor = resolved.oversampleFactor;
  if (!(Number.isFinite(factor) && factor >= 1 && factor <= OVERSAMPLE_FACTOR_MAX)) {
    throw invalidOption(OWNER, 'oversampleFactor', factor, `a number in [1, ${OVERSAMPLE_FACTOR_MAX}]`);
  }
  if (resolved.dir !== undefined && resolved.dir.length === 0) {
    throw invalidOption(OWNER, 'dir', '', 'a non-empty path');
  }
  return resolved;
}
