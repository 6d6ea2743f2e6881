/**
 * @module @memmesh/index
 * The `VectorIndex` interface every shard view implements, and the embedded implementation:
 * a usearch HNSW graph per tenant, kept in memory and snapshotted atomically to disk.
 */
export { createEmbeddedIndex } from './embedded-index.ts';
export {
  DEFAULT_CONNECTIVITY,
  DEFAULT_EXACT_SCAN_CHUNKS_MAX,
  DEFAULT_EXPANSION_ADD,
  DEFAULT_EXPANSION_SEARCH,
  DEFAULT_OVERSAMPLE_FACTOR,
  type EmbeddedIndexOptions,
} from './options.ts';
export type {
  ChunkVector,
  IndexedDoc,
  IndexStats,
  UpsertDoc,
  VectorHit,
  VectorIndex,
  VectorQuery,
} from './types.ts';
