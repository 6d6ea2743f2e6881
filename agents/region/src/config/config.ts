/**
 * @module config
 * The region agent's configuration: typed, with named defaults, read from the environment
 * in one place (`configFromEnv`, called only by main.ts) and validated once at start-up.
 */
import { SHARD_QUERY_WAIT_MS_MAX } from '@memmesh/bus';
import {
  ApiKeySchema,
  type EnvParser,
  ErrorCode,
  LIMITS,
  MeshError,
  numberParsersOf,
  parseConfig,
  parsePairs,
  REGION_PATTERN,
  ReadableFileSchema,
  readEnv,
  SHARD_COUNT_MAX,
} from '@memmesh/core';
import { AUTH_THROTTLE_CONFIG, HTTP_SERVER_CONFIG } from '@memmesh/http';
import { HNSW_RANGES } from '@memmesh/index';
import { LogLevelSchema } from '@memmesh/telemetry';
import { z } from 'zod';

export const IndexBackendSchema = z.enum(['embedded', 'milvus']);
export const CacheBackendSchema = z.enum(['lru', 'redis']);
export const EmbedderBackendSchema = z.enum(['local', 'minilm', 'openai']);

export interface Backends {
  index: z.infer<typeof IndexBackendSchema>;
  cache: z.infer<typeof CacheBackendSchema>;
  embedder: z.infer<typeof EmbedderBackendSchema>;
}

/** What a region runs on when nothing says otherwise: no server besides nats-server. */
export const EMBEDDED_BACKENDS: Backends = { index: 'embedded', cache: 'lru', embedder: 'local' };

export const DEFAULT_API_KEYS = 'acme-dev-key=acme,globex-dev-key=globex';

export const RegionAgentConfigSchema = z
  .strictObject({
    region: z.string().regex(REGION_PATTERN, 'region must look like us-east-1'),
    /** Unique per agent replica: it names the replica's durable consumers. */
    agentId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'agentId must be 1-64 of [A-Za-z0-9_-]'),
    natsUrl: z.string().min(1),
    /**
     * The region agent's NATS user: an nkey seed file or a `.creds` file. Without it the agent
     * connects anonymously, which a locked-down NATS (the local mesh, the chart's) refuses.
     */
    natsCredsFile: ReadableFileSchema.optional(),
    /** The CA of the NATS servers' certificates; TLS is used when set. */
    natsTlsCaFile: ReadableFileSchema.optional(),
    /** A client certificate and its key, for servers that verify clients (mutual TLS). */
    natsTlsCertFile: ReadableFileSchema.optional(),
    natsTlsKeyFile: ReadableFileSchema.optional(),
    host: z.string().min(1),
    port: z.number().int().min(0).max(65_535),
    shardCount: z.number().int().min(1).max(SHARD_COUNT_MAX),
    /**
     * Versions the region's stream keeps per memory (its history, GET /v1/memories/{id}/history);
     * at most HISTORY_VERSIONS_MAX are ever read back.
     */
    historyPerSubject: z.number().int().min(1).max(64),
    /** Where shard snapshots live; omitted = memory only (state is rebuilt from the log). */
    dataDir: z.string().min(1).optional(),
    /**
     * The folder of region files and tenants.json (multi-region mode: tenants, keys and the
     * region's own settings come from there). Unset: a single region whose tenants are the
     * keys of apiKeys, all at home here.
     */
    regionsDir: z.string().min(1).optional(),
    /**
     * The backends (DESIGN §5). Unset: the region's record decides (its file in regionsDir,
     * or its row in DynamoDB), else the embedded default. Set: must agree with the record.
     */
    index: IndexBackendSchema.optional(),
    /** The result and embedding cache: in-process LRU, or Redis shared by the region's agents. */
    cache: CacheBackendSchema.optional(),
    embedder: EmbedderBackendSchema.optional(),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'redisUrl must be redis://host:port or rediss://…')
      .optional(),
    /** Milvus' gRPC address, host:port. */
    milvusAddress: z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'milvusAddress must be host:port')
      .optional(),
    /** Milvus token (`user:password` or an API key); a secret. */
    milvusToken: z.string().min(1).optional(),
    /** HNSW of Milvus collections: links per node (M) and build candidates, fixed when built; search candidates (ef). */
    milvusHnswM: z.number().int().min(HNSW_RANGES.m.min).max(HNSW_RANGES.m.max).optional(),
    milvusHnswEfConstruction: z.number().int().min(HNSW_RANGES.ef.min).max(HNSW_RANGES.ef.max).optional(),
    milvusHnswEf: z.number().int().min(HNSW_RANGES.ef.min).max(HNSW_RANGES.ef.max).optional(),
    /** Collections are named `<prefix>_<region>_<model>_<dimensions>`. */
    milvusCollectionPrefix: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/),
    /** The folder holding all-MiniLM-L6-v2 (model.onnx, vocab), provisioned by scripts/models. */
    minilmDir: z.string().min(1).optional(),
    /** Any OpenAI-compatible embeddings server; unset = OpenAI's own. */
    openaiBaseUrl: z.url().optional(),
    /** A secret; optional only for a compatible server that needs none (openaiBaseUrl set). */
    openaiApiKey: z.string().min(1).optional(),
    openaiModel: z.string().min(1).max(200),
    /** Where tenants, keys and regions are looked up: in memory (seeded) or a DynamoDB table. */
    routing: z.enum(['memory', 'dynamodb']),
    dynamodbTable: z.string().min(3).max(255),
    /** DynamoDB Local or another endpoint; unset = AWS (region and credentials from the SDK chain). */
    dynamodbEndpoint: z.url().optional(),
    /** Routing lookups are cached this long and refreshed in the background. */
    routingCacheTtlMs: z.number().int().min(0),
    /** This region's public URL, recorded in the routing table for gateways (DynamoDB mode). */
    publicUrl: z.url().optional(),
    /** How often the stream's replication sources are brought in line with the routing table. */
    replicationReconcileMs: z.number().int().min(100),
    /**
     * How often the agent reads its origins' model state from the log (a re-index switches
     * views and the model queries are embedded with) and looks for a re-index job to run.
     */
    modelFollowMs: z.number().int().min(100).max(60_000),
    /**
     * Read-repair: beside each shard search the tenant's newest event on the shard is read from
     * the stream, and the hits of a view behind it are corrected from the log. Off saves that
     * read per shard and search, at the price of answers as stale as the view.
     */
    readRepair: z.boolean(),
    /** The operator's admin key (the gateway's): opens the admin routes, re-indexing. Unset: they answer 404. */
    adminKey: ApiKeySchema.optional(),
    /** A re-index runner's lease: another agent takes the job over this long after the runner stopped renewing it. */
    reindexLeaseMs: z.number().int().min(1_000).max(600_000),
    /** After a re-index switched the region, the old model stays searchable (and rollback instant) this long. */
    reindexRollbackMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000),
    /** Chunks a re-index embeds per call of the target embedder. */
    reindexBatchChunks: z.number().int().min(1).max(4_096),
    /** API key → tenant (single-region mode). */
    apiKeys: z.record(ApiKeySchema, z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/)),
    streamReplicas: z.number().int().min(1).max(5),
    embedDimensions: z.number().int().min(8).max(LIMITS.dimensionsMax),
    chunkChars: z.number().int().min(100).max(8_000),
    chunkOverlapChars: z.number().int().min(0).max(2_000),
    snapshotIntervalMs: z.number().int().min(100),
    /**
     * How often the expiry sweeper looks for expired memories (purging them from the region's
     * stream, then dropping them from the views), and the most it removes per shard per round.
     */
    expirySweepIntervalMs: z.number().int().min(100).max(3_600_000),
    expirySweepDocsMax: z.number().int().min(1).max(100_000),
    /**
     * Erasure by scope: how often an agent looks for an erasure step to take (markers in its
     * stream), a step's lease (another agent takes the step over this long after its owner
     * stopped renewing it), tombstones per batch, and the most documents one erasure covers.
     */
    erasureFollowMs: z.number().int().min(100).max(600_000),
    erasureLeaseMs: z.number().int().min(1_000).max(600_000),
    erasureBatchDocs: z.number().int().min(1).max(10_000),
    erasureDocsMax: z.number().int().min(1).max(1_000_000),
    /** Longest wait of `?wait=true` writes and of `minVersion` reads. */
    // A wait travels in each shard query, whose protocol bounds it.
    waitAppliedMsMax: z.number().int().min(0).max(SHARD_QUERY_WAIT_MS_MAX),
    shardQueryTimeoutMs: z.number().int().min(10).max(60_000),
    resultCacheTtlMs: z.number().int().min(0),
    /**
     * The last answer to each search is also kept this long (0: not kept), for clients that
     * accept a stale answer when the region sheds their search (`maxStaleSeconds`).
     */
    staleCacheTtlMs: z
      .number()
      .int()
      .min(0)
      .max(LIMITS.maxStaleSecondsMax * 1_000),
    /**
     * Load shedding (ops/load.ts): searches of one tenant in flight on this agent, shard
     * queries in flight to one shard, and the work queued for a shard (in flight × its median
     * time), above which new searches are answered 503 at once instead of queueing.
     */
    tenantSearchesInFlightMax: z.number().int().min(1).max(100_000),
    shardQueriesInFlightMax: z.number().int().min(1).max(100_000),
    shardQueryWaitBudgetMs: z.number().int().min(1).max(600_000),
    /** Hot-shard and hot-tenant thresholds (GET /v1/admin/load, memmesh_hot): per second, and a p99. */
    hotShardQueriesPerSecond: z.number().min(0),
    hotShardAppliesPerSecond: z.number().min(0),
    hotTenantQueriesPerSecond: z.number().min(0),
    hotTenantAppliesPerSecond: z.number().min(0),
    hotShardP99Ms: z.number().int().min(1).max(60_000),
    cacheEntriesMax: z.number().int().min(0),
    /** Requests per second per tenant, and the burst above it. */
    tenantRequestsPerSecond: z.number().min(1),
    tenantBurst: z.number().int().min(1),
    /**
     * Budgets of work per tenant (token buckets: per second sustained, and the most at once;
     * a request costing more than a burst is refused with 413). Embedding: characters of the
     * texts embedded (a write's chunks, a search's query). Index: chunks written. Search:
     * shard results asked for (shards queried × topK).
     */
    tenantEmbedCharsPerSecond: z.number().min(1),
    tenantEmbedCharsBurst: z.number().int().min(1),
    tenantIndexChunksPerSecond: z.number().min(1),
    tenantIndexChunksBurst: z.number().int().min(1),
    tenantSearchHitsPerSecond: z.number().min(1),
    tenantSearchHitsBurst: z.number().int().min(1),
    /** Bytes of search results (texts and metadata) per tenant: what big answers cost. */
    tenantSearchBytesPerSecond: z.number().min(1),
    tenantSearchBytesBurst: z.number().int().min(LIMITS.textBytesMax),
    /** The embedder's queue (shared by tenants): characters per call, calls at once, bounds. */
    embedPieceCharsMax: z.number().int().min(1_000).max(1_000_000),
    /** Unset: 1 for the local and MiniLM embedders (they use the CPU), 4 for OpenAI (network). */
    embedConcurrency: z.number().int().min(1).max(64).optional(),
    embedQueueCharsMax: z.number().int().min(10_000),
    tenantEmbedQueueCharsMax: z.number().int().min(10_000),
    shutdownTimeoutMs: z.number().int().min(100),
    logLevel: LogLevelSchema,
    ...HTTP_SERVER_CONFIG.fields,
    /** Failed authentications per source and per key prefix before 429 (lib/http auth-throttle). */
    ...AUTH_THROTTLE_CONFIG.fields,
  })
  .refine(...HTTP_SERVER_CONFIG.timeoutsAgree)
  .refine((c) => c.tenantEmbedQueueCharsMax <= c.embedQueueCharsMax, {
    path: ['tenantEmbedQueueCharsMax'],
    message: 'must not exceed embedQueueCharsMax',
  })
  .refine((c) => c.chunkOverlapChars < c.chunkChars, {
    path: ['chunkOverlapChars'],
    message: 'must be smaller than chunkChars',
  })
  // Below this step the longest text would need more than LIMITS.chunksPerDocMax chunks, and
  // the last one would take the remainder: a chunk far longer than the embedder's window.
  .refine((c) => c.chunkChars - c.chunkOverlapChars >= LIMITS.chunkStrideCharsMin, {
    path: ['chunkOverlapChars'],
    message: `chunkChars minus chunkOverlapChars must be at least ${LIMITS.chunkStrideCharsMin}`,
  })
  // A configured production backend is never replaced by an embedded one in silence.
  .refine((c) => c.cache !== 'redis' || c.redisUrl !== undefined, {
    path: ['redisUrl'],
    message: 'is required when cache is redis',
  })
  .refine((c) => c.index !== 'milvus' || c.milvusAddress !== undefined, {
    path: ['milvusAddress'],
    message: 'is required when index is milvus',
  })
  .refine((c) => (c.natsTlsCertFile === undefined) === (c.natsTlsKeyFile === undefined), {
    path: ['natsTlsKeyFile'],
    message:
      'a NATS client certificate and its key are set together (MEMMESH_NATS_TLS_CERT, MEMMESH_NATS_TLS_KEY)',
  })
  .refine((c) => c.natsTlsCertFile === undefined || c.natsTlsCaFile !== undefined, {
    path: ['natsTlsCaFile'],
    message: 'is required with a client certificate: TLS needs the CA of the servers (MEMMESH_NATS_TLS_CA)',
  })
  .refine((c) => c.embedder !== 'minilm' || c.minilmDir !== undefined, {
    path: ['minilmDir'],
    message: 'is required when embedder is minilm (provision it with bash scripts/models/install-minilm.sh)',
  })
  .refine((c) => c.embedder !== 'openai' || c.openaiApiKey !== undefined || c.openaiBaseUrl !== undefined, {
    path: ['openaiApiKey'],
    message: "is required when embedder is openai and openaiBaseUrl is unset (OpenAI's own API)",
  });
export type RegionAgentConfig = z.infer<typeof RegionAgentConfigSchema>;

export const DEFAULT_REGION_AGENT_CONFIG = {
  region: 'us-east-1',
  natsUrl: 'nats://127.0.0.1:4222',
  host: '127.0.0.1',
  port: 8080,
  shardCount: 4,
  historyPerSubject: 8,
  apiKeys: parsePairs(DEFAULT_API_KEYS),
  streamReplicas: 1,
  embedDimensions: 384,
  chunkChars: 1000,
  chunkOverlapChars: 150,
  snapshotIntervalMs: 5_000,
  expirySweepIntervalMs: 1_000,
  expirySweepDocsMax: 1_000,
  erasureFollowMs: 1_000,
  erasureLeaseMs: 15_000,
  erasureBatchDocs: 200,
  erasureDocsMax: 100_000,
  waitAppliedMsMax: 10_000,
  shardQueryTimeoutMs: 2_000,
  replicationReconcileMs: 2_000,
  modelFollowMs: 1_000,
  readRepair: true,
  reindexLeaseMs: 15_000,
  reindexRollbackMs: 3_600_000,
  reindexBatchChunks: 256,
  milvusCollectionPrefix: 'memmesh',
  openaiModel: 'text-embedding-3-small',
  routing: 'memory',
  dynamodbTable: 'memmesh-routing',
  routingCacheTtlMs: 2_000,
  resultCacheTtlMs: 30_000,
  staleCacheTtlMs: 300_000,
  // A shard query takes about a millisecond: 256 in flight is a queue of a quarter second.
  tenantSearchesInFlightMax: 64,
  shardQueriesInFlightMax: 256,
  // The shard query timeout's default: a query queued behind more work than that would time out.
  shardQueryWaitBudgetMs: 2_000,
  hotShardQueriesPerSecond: 500,
  hotShardAppliesPerSecond: 2_000,
  hotTenantQueriesPerSecond: 200,
  hotTenantAppliesPerSecond: 1_000,
  hotShardP99Ms: 250,
  cacheEntriesMax: 10_000,
  tenantRequestsPerSecond: 2_000,
  tenantBurst: 4_000,
  // Sized so that no normal client meets them (the largest batch, 100 texts of 16 KiB, is
  // about 2 million characters and 2 000 chunks at the default chunking) while one tenant
  // cannot take more than its share. With a paid embedder, set them to what the plan allows.
  tenantEmbedCharsPerSecond: 2_000_000,
  tenantEmbedCharsBurst: 8_000_000,
  tenantIndexChunksPerSecond: 4_000,
  tenantIndexChunksBurst: 16_000,
  // 4 shards × topK 10 = 40 per search: 2 500 such searches per second, 500 at topK 50.
  tenantSearchHitsPerSecond: 100_000,
  tenantSearchHitsBurst: 200_000,
  // 64 MB/s, bursts of 128 MB: a thousand topK-50 searches of 16 KiB memories a minute.
  tenantSearchBytesPerSecond: 64_000_000,
  tenantSearchBytesBurst: 128_000_000,
  embedPieceCharsMax: 8_192,
  embedQueueCharsMax: 16_000_000,
  tenantEmbedQueueCharsMax: 4_000_000,
  shutdownTimeoutMs: 10_000,
  logLevel: 'info',
  ...HTTP_SERVER_CONFIG.defaults,
  ...AUTH_THROTTLE_CONFIG.defaults,
} as const satisfies Partial<RegionAgentConfig>;

/** Environment variable of each field, documented in the README. */
export const ENV_NAMES = {
  region: 'MEMMESH_REGION',
  agentId: 'MEMMESH_AGENT_ID',
  natsUrl: 'MEMMESH_NATS_URL',
  natsCredsFile: 'MEMMESH_NATS_CREDS',
  natsTlsCaFile: 'MEMMESH_NATS_TLS_CA',
  natsTlsCertFile: 'MEMMESH_NATS_TLS_CERT',
  natsTlsKeyFile: 'MEMMESH_NATS_TLS_KEY',
  host: 'MEMMESH_HOST',
  port: 'MEMMESH_PORT',
  shardCount: 'MEMMESH_SHARDS',
  historyPerSubject: 'MEMMESH_HISTORY_PER_SUBJECT',
  dataDir: 'MEMMESH_DATA_DIR',
  regionsDir: 'MEMMESH_REGIONS_DIR',
  replicationReconcileMs: 'MEMMESH_REPLICATION_RECONCILE_MS',
  modelFollowMs: 'MEMMESH_MODEL_FOLLOW_MS',
  readRepair: 'MEMMESH_READ_REPAIR',
  adminKey: 'MEMMESH_ADMIN_KEY',
  reindexLeaseMs: 'MEMMESH_REINDEX_LEASE_MS',
  reindexRollbackMs: 'MEMMESH_REINDEX_ROLLBACK_MS',
  reindexBatchChunks: 'MEMMESH_REINDEX_BATCH_CHUNKS',
  index: 'MEMMESH_INDEX',
  cache: 'MEMMESH_CACHE',
  embedder: 'MEMMESH_EMBEDDER',
  redisUrl: 'MEMMESH_REDIS_URL',
  milvusAddress: 'MEMMESH_MILVUS_ADDRESS',
  milvusToken: 'MEMMESH_MILVUS_TOKEN',
  milvusCollectionPrefix: 'MEMMESH_MILVUS_COLLECTION_PREFIX',
  milvusHnswM: 'MEMMESH_MILVUS_HNSW_M',
  milvusHnswEfConstruction: 'MEMMESH_MILVUS_HNSW_EF_CONSTRUCTION',
  milvusHnswEf: 'MEMMESH_MILVUS_HNSW_EF',
  minilmDir: 'MEMMESH_MINILM_DIR',
  openaiBaseUrl: 'MEMMESH_OPENAI_BASE_URL',
  openaiApiKey: 'MEMMESH_OPENAI_API_KEY',
  openaiModel: 'MEMMESH_OPENAI_MODEL',
  routing: 'MEMMESH_ROUTING',
  dynamodbTable: 'MEMMESH_DYNAMODB_TABLE',
  dynamodbEndpoint: 'MEMMESH_DYNAMODB_ENDPOINT',
  routingCacheTtlMs: 'MEMMESH_ROUTING_CACHE_TTL_MS',
  publicUrl: 'MEMMESH_PUBLIC_URL',
  apiKeys: 'MEMMESH_API_KEYS',
  streamReplicas: 'MEMMESH_STREAM_REPLICAS',
  embedDimensions: 'MEMMESH_EMBED_DIMENSIONS',
  chunkChars: 'MEMMESH_CHUNK_CHARS',
  chunkOverlapChars: 'MEMMESH_CHUNK_OVERLAP_CHARS',
  snapshotIntervalMs: 'MEMMESH_SNAPSHOT_INTERVAL_MS',
  expirySweepIntervalMs: 'MEMMESH_EXPIRY_SWEEP_MS',
  expirySweepDocsMax: 'MEMMESH_EXPIRY_SWEEP_DOCS_MAX',
  erasureFollowMs: 'MEMMESH_ERASURE_FOLLOW_MS',
  erasureLeaseMs: 'MEMMESH_ERASURE_LEASE_MS',
  erasureBatchDocs: 'MEMMESH_ERASURE_BATCH_DOCS',
  erasureDocsMax: 'MEMMESH_ERASURE_DOCS_MAX',
  waitAppliedMsMax: 'MEMMESH_WAIT_APPLIED_MS_MAX',
  shardQueryTimeoutMs: 'MEMMESH_SHARD_QUERY_TIMEOUT_MS',
  resultCacheTtlMs: 'MEMMESH_RESULT_CACHE_TTL_MS',
  staleCacheTtlMs: 'MEMMESH_STALE_CACHE_TTL_MS',
  tenantSearchesInFlightMax: 'MEMMESH_TENANT_SEARCHES_IN_FLIGHT_MAX',
  shardQueriesInFlightMax: 'MEMMESH_SHARD_QUERIES_IN_FLIGHT_MAX',
  shardQueryWaitBudgetMs: 'MEMMESH_SHARD_QUERY_WAIT_BUDGET_MS',
  hotShardQueriesPerSecond: 'MEMMESH_HOT_SHARD_QUERIES_PER_SECOND',
  hotShardAppliesPerSecond: 'MEMMESH_HOT_SHARD_APPLIES_PER_SECOND',
  hotTenantQueriesPerSecond: 'MEMMESH_HOT_TENANT_QUERIES_PER_SECOND',
  hotTenantAppliesPerSecond: 'MEMMESH_HOT_TENANT_APPLIES_PER_SECOND',
  hotShardP99Ms: 'MEMMESH_HOT_SHARD_P99_MS',
  cacheEntriesMax: 'MEMMESH_CACHE_ENTRIES_MAX',
  tenantRequestsPerSecond: 'MEMMESH_TENANT_RPS',
  tenantBurst: 'MEMMESH_TENANT_BURST',
  tenantEmbedCharsPerSecond: 'MEMMESH_TENANT_EMBED_CHARS_PER_SECOND',
  tenantEmbedCharsBurst: 'MEMMESH_TENANT_EMBED_CHARS_BURST',
  tenantIndexChunksPerSecond: 'MEMMESH_TENANT_INDEX_CHUNKS_PER_SECOND',
  tenantIndexChunksBurst: 'MEMMESH_TENANT_INDEX_CHUNKS_BURST',
  tenantSearchHitsPerSecond: 'MEMMESH_TENANT_SEARCH_HITS_PER_SECOND',
  tenantSearchHitsBurst: 'MEMMESH_TENANT_SEARCH_HITS_BURST',
  tenantSearchBytesPerSecond: 'MEMMESH_TENANT_SEARCH_BYTES_PER_SECOND',
  tenantSearchBytesBurst: 'MEMMESH_TENANT_SEARCH_BYTES_BURST',
  embedPieceCharsMax: 'MEMMESH_EMBED_PIECE_CHARS_MAX',
  embedConcurrency: 'MEMMESH_EMBED_CONCURRENCY',
  embedQueueCharsMax: 'MEMMESH_EMBED_QUEUE_CHARS_MAX',
  tenantEmbedQueueCharsMax: 'MEMMESH_TENANT_EMBED_QUEUE_CHARS_MAX',
  shutdownTimeoutMs: 'MEMMESH_SHUTDOWN_TIMEOUT_MS',
  logLevel: 'MEMMESH_LOG_LEVEL',
  ...HTTP_SERVER_CONFIG.envNames,
  ...AUTH_THROTTLE_CONFIG.envNames,
} as const satisfies Record<keyof RegionAgentConfig, string>;

/** How each variable that is not a plain string is read: numbers by the schema, and the keys. */
const ENV_PARSERS: Partial<Record<keyof RegionAgentConfig, EnvParser>> = {
  ...numberParsersOf(RegionAgentConfigSchema),
  apiKeys: 'pairs',
  // Anything but these two is kept as it is, and the schema refuses it by name.
  readRepair: (value) =>
    value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value,
};

export function resolveConfig(overrides: Partial<RegionAgentConfig>): RegionAgentConfig {
  const merged = { ...DEFAULT_REGION_AGENT_CONFIG, ...overrides };
  const withId = { agentId: `${merged.region}-a0`, ...merged };
  return parseConfig(RegionAgentConfigSchema, withId, ENV_NAMES);
}

/** Reads MEMMESH_* variables; unset ones keep their defaults. */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): RegionAgentConfig {
  return resolveConfig(readEnv(env, ENV_NAMES, ENV_PARSERS) as Partial<RegionAgentConfig>);
}

/** A configuration whose backends are decided. */
export type ResolvedRegionAgentConfig = RegionAgentConfig & Backends;

/**
 * Decides the region's backends: the region's record (file or DynamoDB row) names them, a
 * backend also named in the environment must agree, and a region without a record (single-
 * region mode) takes the environment's choice or the embedded default. Connection settings
 * are then checked again for the backends chosen, so that a record naming Redis with no
 * MEMMESH_REDIS_URL stops the start with that message, never falling back to the LRU.
 */
export function withBackends(
  config: RegionAgentConfig,
  recorded: Backends | undefined,
): ResolvedRegionAgentConfig {
  const chosen = { ...EMBEDDED_BACKENDS };
  const conflicts: string[] = [];
  for (const part of ['index', 'cache', 'embedder'] as const) {
    const fromEnv = config[part];
    const fromRecord = recorded?.[part];
    if (fromEnv !== undefined && fromRecord !== undefined && fromEnv !== fromRecord) {
      conflicts.push(`${ENV_NAMES[part]}=${fromEnv} contradicts the region's ${part} backend ${fromRecord}`);
    }
    (chosen as Record<string, string>)[part] = fromRecord ?? fromEnv ?? EMBEDDED_BACKENDS[part];
  }
  if (conflicts.length > 0) {
    throw new MeshError(
      ErrorCode.Config,
      `invalid configuration for region ${config.region}:\n  ${conflicts.join('\n  ')}`,
    );
  }
  return parseConfig(
    RegionAgentConfigSchema,
    { ...config, ...chosen },
    ENV_NAMES,
  ) as ResolvedRegionAgentConfig;
}
