/**
 * @module options
 * Options of the Milvus index, their defaults, the Milvus limits they are checked against,
 * and their one-time validation.
 */
import { ErrorCode, MeshError } from '@memmesh/core';

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
  /** HNSW links per node (M). Fixed once the collection's index is built. */
  hnswM?: number | undefined;
  /** HNSW candidate list while building (efConstruction). Fixed once built. */
  hnswEfConstruction?: number | undefined;
  /** HNSW candidate list while searching (ef); raised to topK when smaller, as Milvus requires. */
  hnswEf?: number | undefined;
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

export type ResolvedMilvusIndexOptions = Required<Omit<MilvusIndexOptions, 'token' | 'database'>> &
  Pick<MilvusIndexOptions, 'token' | 'database'>;

export const DEFAULT_MILVUS_COLLECTION_PREFIX = 'memmesh';
/** Milvus's own documented default is 16; the recommended range for HNSW is 8 to 64. */
export const DEFAULT_MILVUS_HNSW_M = 16;
export const DEFAULT_MILVUS_HNSW_EF_CONSTRUCTION = 128;
/** As the embedded index (options.ts): the smallest ef that holds recall@10 >= 0.95 on embeddings. */
export const DEFAULT_MILVUS_HNSW_EF = 256;
/** Milvus's default for partition-key collections; tenants hash into them. */
export const DEFAULT_MILVUS_PARTITION_COUNT = 16;
/** A healthy Milvus answers in milliseconds; seconds mean it is down or overloaded. */
export const DEFAULT_MILVUS_CALL_TIMEOUT_MS = 10_000;
/** A document has at most 64 chunks (LIMITS.chunksPerDocMax): one request for most writes. */
export const DEFAULT_MILVUS_WRITE_BATCH_ROWS_MAX = 256;
export const DEFAULT_MILVUS_SCAN_PAGE_ROWS_MAX = 4_096;
export const DEFAULT_MILVUS_VIEW_DOCS_MAX = 10_000_000;

/** Milvus limits: search topK (which also bounds a query's page of rows), HNSW parameters. */
export const SEARCH_TOPK_MAX = 16_384;
const HNSW_M_RANGE = [2, 2_048] as const;
const HNSW_EF_MAX = 32_768;
const PARTITIONS_MAX = 1_024;
const DIMENSIONS_MAX = 32_768;

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
    hnswM: options.hnswM ?? DEFAULT_MILVUS_HNSW_M,
    hnswEfConstruction: options.hnswEfConstruction ?? DEFAULT_MILVUS_HNSW_EF_CONSTRUCTION,
    hnswEf: options.hnswEf ?? DEFAULT_MILVUS_HNSW_EF,
    partitionCount: options.partitionCount ?? DEFAULT_MILVUS_PARTITION_COUNT,
    callTimeoutMs: options.callTimeoutMs ?? DEFAULT_MILVUS_CALL_TIMEOUT_MS,
    writeBatchRowsMax: options.writeBatchRowsMax ?? DEFAULT_MILVUS_WRITE_BATCH_ROWS_MAX,
    scanPageRowsMax: options.scanPageRowsMax ?? DEFAULT_MILVUS_SCAN_PAGE_ROWS_MAX,
    viewDocsMax: options.viewDocsMax ?? DEFAULT_MILVUS_VIEW_DOCS_MAX,
  };
  if (!/^[^\s/]+:\d{1,5}$/.test(resolved.address)) throw invalid('address', resolved.address, 'host:port');
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(resolved.collectionPrefix)) {
    throw invalid(
      'collectionPrefix',
      resolved.collectionPrefix,
      'letters, digits and _ (not first), up to 64',
    );
  }
  for (const field of ['region', 'shard', 'modelId'] as const) {
    const value = resolved[field];
    if (value.length === 0 || value.length > 128) throw invalid(field, value, '1 to 128 characters');
  }
  checkInteger('dimensions', resolved.dimensions, 1, DIMENSIONS_MAX);
  checkInteger('hnswM', resolved.hnswM, HNSW_M_RANGE[0], HNSW_M_RANGE[1]);
  checkInteger('hnswEfConstruction', resolved.hnswEfConstruction, 1, HNSW_EF_MAX);
  checkInteger('hnswEf', resolved.hnswEf, 1, HNSW_EF_MAX);
  checkInteger('partitionCount', resolved.partitionCount, 1, PARTITIONS_MAX);
  checkInteger('callTimeoutMs', resolved.callTimeoutMs, 1, 600_000);
  checkInteger('writeBatchRowsMax', resolved.writeBatchRowsMax, 1, 65_536);
  checkInteger('scanPageRowsMax', resolved.scanPageRowsMax, 1, SEARCH_TOPK_MAX);
  checkInteger('viewDocsMax', resolved.viewDocsMax, 1, Number.MAX_SAFE_INTEGER);
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
    `milvus index option ${field} is ${String(value)}, expected ${expected}`,
  );
}
