/**
 * @module @memmesh/index
 * The `VectorIndex` interface every shard view implements, and its two implementations: the
 * embedded one (a usearch HNSW graph per tenant, kept in memory and snapshotted atomically to
 * disk) and Milvus (a collection per origin region and embedding model).
 */
export { createEmbeddedIndex } from './embedded/embedded-index.ts';
export {
  DEFAULT_EXACT_SCAN_CHUNKS_MAX,
  DEFAULT_OVERSAMPLE_FACTOR,
  type EmbeddedIndexOptions,
} from './embedded/options.ts';
export { createMilvusIndex } from './milvus/milvus-index.ts';
export {
  DEFAULT_MILVUS_CALL_TIMEOUT_MS,
  DEFAULT_MILVUS_COLLECTION_PREFIX,
  DEFAULT_MILVUS_PARTITION_COUNT,
  DEFAULT_MILVUS_SCAN_PAGE_ROWS_MAX,
  DEFAULT_MILVUS_VIEW_DOCS_MAX,
  DEFAULT_MILVUS_WRITE_BATCH_ROWS_MAX,
  type MilvusIndexOptions,
} from './milvus/options.ts';
export { DEFAULT_HNSW, HNSW_RANGES, type HnswOptions } from './options.ts';
export type {
  ChunkVector,
  ExpiredDoc,
  IndexedDoc,
  IndexStats,
  ListQuery,
  UpsertDoc,
  VectorHit,
  VectorIndex,
  VectorQuery,
} from './types.ts';
