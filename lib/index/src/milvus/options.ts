/**
 * @module options
 * Options of the Milvus index, their defaults, the Milvus limits they are checked against,
 * and their one-time validation. The HNSW settings and their defaults are shared with the
 * embedded index (../options.ts).
 */
import { checkDimensions, checkInteger, type HnswOptions, invalidOption, resolveHnsw } from '../options.ts';

export interface MilvusIndexOptions {
  /** Milvus gRPC endpoint, `host:port`. */
  address: string;
  /** `user:password` or an API key, when the cluster requires authentication. */
  token?: string | undefined;
  /** Milvus database; the server's `default` when omitted. */
  database?: string | undefined;
  /** Namespace of every collection this deployment creates; letters, digits and `_`. */
  collectionPrefix?: string | undefined;
  /** Origin region of the events this view materialises (DESIGN §3). */
  region: string;
  shard: string;
  /** Embedding model id; with `dimensions` it names the collection. */
  modelId: string;
  dimensions: number;
  /**
   * HNSW settings; DEFAULT_HNSW fills in what is left out. `m` and `efConstruction` are fixed
   * once the collection's index is built: a collection built otherwise is refused at open.
   */
  hnsw?: Partial<HnswOptions> | undefined;
  /** Partitions the tenant partition key hashes into (fixed at creation). */
  partitionCount?: number | undefined;
  /** Deadline of every Milvus call, connection included. */
  callTimeoutMs?: number | undefined;
  /** Rows per upsert request, and primary keys per lookup. */
  writeBatchRowsMax?: number | undefined;
  /** Head rows read per page when counting the view at open. */
  scanPageRowsMax?: number | undefined;
  /** Documents (live and deleted) a view may hold; the open-time count stops beyond it. */
  viewDocsMax?: number | undefined;
}

export type ResolvedMilvusIndexOptions = Required<Omit<MilvusIndexOptions, 'token' | 'database' | 'hnsw'>> &
  Pick<MilvusIndexOptions, 'token' | 'database'> & { hnsw: HnswOptions };

export const DEFAULT_MILVUS_COLLECTION_PREFIX = 'memmesh';
/** Milvus's default for partition-key collections; tenants hash into them. */
export const DEFAULT_MILVUS_PARTITION_COUNT = 16;
/** A healthy Milvus answers in milliseconds; seconds mean it is down or overloaded. */
export const DEFAULT_MILVUS_CALL_TIMEOUT_MS = 10_000;
/** A document has at most 64 chunks (LIMITS.chunksPerDocMax): one request for most writes. */
export const DEFAULT_MILVUS_WRITE_BATCH_ROWS_MAX = 256;
export const DEFAULT_MILVUS_SCAN_PAGE_ROWS_MAX = 4_096;
export const DEFAULT_MILVUS_VIEW_DOCS_MAX = 10_000_000;

/** Milvus limits: search topK (which also bounds a query's page of rows), partitions. */
export const SEARCH_TOPK_MAX = 16_384;
const PARTITIONS_MAX = 1_024;
const OWNER = 'milvus index';

export function resolveMilvusOptions(options: MilvusIndexOptions): ResolvedMilvusIndexOptions {
  const resolved: ResolvedMilvusIndexOptions = {
    address: options.address,
    token: options.token,
    database: options.database,
    collectionPrefix: options.collectionPrefix ?? DEFAULT_MILVUS_COLLECTION_PREFIX,
    region: options.region,
    shard: options.shard,
    modelId: options.modelId,
    dimensions: options.dimensions,
    hnsw: resolveHnsw(OWNER, options.hnsw),
    partitionCount: options.partitionCount ?? DEFAULT_MILVUS_PARTITION_COUNT,
    callTimeoutMs: options.callTimeoutMs ?? DEFAULT_MILVUS_CALL_TIMEOUT_MS,
    writeBatchRowsMax: options.writeBatchRowsMax ?? DEFAULT_MILVUS_WRITE_BATCH_ROWS_MAX,
    scanPageRowsMax: options.scanPageRowsMax ?? DEFAULT_MILVUS_SCAN_PAGE_ROWS_MAX,
    viewDocsMax: options.viewDocsMax ?? DEFAULT_MILVUS_VIEW_DOCS_MAX,
  };
  if (!/^[^\s/]+:\d{1,5}$/.test(resolved.address))
    throw invalidOption(OWNER, 'address', resolved.address, 'host:port');
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(resolved.collectionPrefix)) {
    throw invalidOption(
      OWNER,
      'collectionPrefix',
      resolved.collectionPrefix,
      'letters, digits and _ (not first), up to 64',
    );
  }
  for (const field of ['region', 'shard', 'modelId'] as const) {
    const value = resolved[field];
    if (value.length === 0 || value.length > 128)
      throw invalidOption(OWNER, field, value, '1 to 128 characters');
  }
  checkDimensions(OWNER, resolved.dimensions);
  checkInteger(OWNER, 'partitionCount', resolved.partitionCount, 1, PARTITIONS_MAX);
  checkInteger(OWNER, 'callTimeoutMs', resolved.callTimeoutMs, 1, 600_000);
  checkInteger(OWNER, 'writeBatchRowsMax', resolved.writeBatchRowsMax, 1, 65_536);
  checkInteger(OWNER, 'scanPageRowsMax', resolved.scanPageRowsMax, 1, SEARCH_TOPK_MAX);
  checkInteger(OWNER, 'viewDocsMax', resolved.viewDocsMax, 1, Number.MAX_SAFE_INTEGER);
  return resolved;
}
