/**
 * @module milvus-index
 * The Milvus `VectorIndex`: one shard view of one origin region, kept in a Milvus collection
 * shared by every shard of that region and embedding model.
 *
 * Layout. A collection per (prefix, origin region, embedding model, dimensions), so a new
 * model version is a new collection that can be rebuilt from the log beside the old one
 * (DESIGN §9). In it, every document has one head row (chunk = -1: version, tombstone flag,
 * text, metadata, scope, chunk count) and one row per chunk (its vector and the filter facts).
 * Heads are what `get` reads and what makes versions and tombstones exact; chunks are what
 * searches rank. The view's position (appliedSeq) lives in a small `<prefix>_views`
 * collection, one row per view.
 *
 * Partition key: tenant. Every read names exactly one tenant, so Milvus routes it to the one
 * partition holding that tenant, and erasing a tenant (DESIGN §9, forget) touches one
 * partition. The shard would prune less: a region has a handful of shards, and every search
 * scatters to all of them anyway. The shard is a plain field that every expression filters
 * on, so two views never see each other's rows even though they share a collection.
 *
 * Write order makes crashes harmless: a new version first deletes chunk rows it will not
 * overwrite, then upserts its chunks, then its head. The head is the version check, so a
 * write interrupted anywhere before its head landed is redone in full when the event is
 * delivered again; the position is written only by `snapshot()`, after the data. Reads and
 * writes use Strong consistency, so a write acknowledged here is seen by the next search,
 * which is what `?wait=true` and `minVersion` promise.
 *
 * Filters. Metadata keys are free text and Milvus's JSON paths do not take every key (Milvus
 * advises letters, digits and underscores only), so filter facts are kept in an ARRAY of
 * VARCHAR, each `m` or `s` followed by the JSON of `[key, value]`, and a filter becomes
 * `array_contains_all(facts, [...])`. That is exact, typed equality, as in filter.ts (1,
 * "1" and true differ), and values only ever appear inside escaped string literals.
 *
 * Errors become MeshErrors: an unreachable or timed-out Milvus is `unavailable` (retryable,
 * so the shard consumer keeps the event and retries); a request Milvus refuses is `internal`.
 */
import { createHash } from 'node:crypto';
import type { Filter, Metadata, Scope } from '@memmesh/core';
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  ConsistencyLevelEnum,
  DataType,
  type FieldType,
  MilvusClient,
  type ResStatus,
  type RowData,
} from '@zilliz/milvus2-sdk-node';
import type { IndexedDoc, IndexStats, UpsertDoc, VectorHit, VectorIndex, VectorQuery } from './types.ts';
import { packUnitVectors, unitQuery } from './vectors.ts';

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

/** Milvus limits: names, search topK, VARCHAR bytes, HNSW parameters. */
const NAME_LENGTH_MAX = 255;
const SEARCH_TOPK_MAX = 16_384;
const TEXT_BYTES_MAX = 65_535;
const DOC_ID_BYTES_MAX = 2_048;
const FACT_BYTES_MAX = 8_192;
const FACTS_MAX = 64;
const HNSW_M_RANGE = [2, 2_048] as const;
const HNSW_EF_MAX = 32_768;
const PARTITIONS_MAX = 1_024;
const DIMENSIONS_MAX = 32_768;
/** The head row's `chunk`; chunk rows count from 0. */
const HEAD_CHUNK = -1;
const VECTOR_FIELD = 'vector';
const POSITION_VECTOR_FIELD = 'placeholder';

const enc = (value: string): number => Buffer.byteLength(value, 'utf8');

/**
 * Opens the view of one shard: provisions its collections if absent (verifying their schema
 * when present), loads them, and reads the view's position and counters.
 */
export async function createMilvusIndex(options: MilvusIndexOptions): Promise<VectorIndex> {
  const resolved = resolveMilvusOptions(options);
  const client = new MilvusClient({
    address: resolved.address,
    ...(resolved.token === undefined ? {} : { token: resolved.token }),
    ...(resolved.database === undefined ? {} : { database: resolved.database }),
    timeout: resolved.callTimeoutMs,
    // Retries are the shard consumer's job (with backoff, while the event stays un-acked);
    // the client's own retries would multiply every deadline by four.
    maxRetries: 0,
    // The SDK's heartbeats report client metrics to the server; memmesh has its own metrics.
    telemetry: { enabled: false },
    // Process-wide in the SDK; errors reach the caller as MeshErrors, not as log lines.
    logLevel: 'error',
  });
  const names = collectionNames(resolved);
  const calls = new MilvusCalls(client, resolved.callTimeoutMs);
  try {
    await calls.run('connect', () => client.connectPromise);
    await provisionCollections(calls, names, resolved);
    const index = new MilvusIndexImpl(calls, names, resolved);
    await index.load();
    return index;
  } catch (err) {
    await client.closeConnection().catch(() => undefined);
    throw err;
  }
}

export interface MilvusCollectionNames {
  data: string;
  views: string;
  /** This view's row in the views collection. */
  view: string;
}

/**
 * Milvus names start with a letter or `_` and use letters, digits and `_`, up to 255. The
 * readable part is sanitised and may collide (`a-b`, `a.b`), so a hash of the exact inputs
 * follows it.
 */
export function collectionNames(options: ResolvedMilvusIndexOptions): MilvusCollectionNames {
  const { collectionPrefix, region, modelId, dimensions, shard } = options;
  const hash = createHash('sha256')
    .update(JSON.stringify([collectionPrefix, region, modelId, dimensions]))
    .digest('hex')
    .slice(0, 8);
  const readable = `${region}_${modelId}_${dimensions}`.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  const room = NAME_LENGTH_MAX - collectionPrefix.length - hash.length - 2;
  const data = `${collectionPrefix}_${readable.slice(0, room)}_${hash}`;
  return { data, views: `${collectionPrefix}_views`, view: `${data}/${shard}` };
}

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

// ───────────────────────────── calls and errors ─────────────────────────────

/** Milvus status codes (the numeric `code`) that mean "not now" rather than "never". */
const TRANSIENT_STATUS_CODES: ReadonlySet<number> = new Set([
  // CollectionNotFound and CollectionNotLoaded: a collection being recreated or (re)loaded.
  100, 101,
  // RateLimit, ForceDeny, ServiceNotReady, NodeNotFound, NodeNotMatch, MemoryQuotaExhausted.
  8, 9, 1, 901, 902, 7,
]);
/** gRPC statuses of a server that is down, overloaded, or did not answer in time. */
const TRANSIENT_GRPC_CODES: ReadonlySet<number> = new Set([1, 4, 8, 10, 13, 14]);
const UNAVAILABLE_RETRY_AFTER_MS = 1_000;
const COLLECTION_NOT_LOADED = 101;
/** Milvus Lite answers "not loaded" without Milvus's code: "is in state 'released'". */
const NOT_LOADED_REASON = /not loaded|in state 'released'/i;

function isNotLoaded(err: unknown): boolean {
  return (
    err instanceof MeshError && (err.details as { code?: number } | undefined)?.code === COLLECTION_NOT_LOADED
  );
}

/**
 * Every Milvus call goes through `run`: a deadline of its own on top of the gRPC deadline
 * (the SDK may queue for a channel before the call starts), and one mapping of failures.
 */
class MilvusCalls {
  readonly client: MilvusClient;
  readonly timeoutMs: number;

  constructor(client: MilvusClient, timeoutMs: number) {
    this.client = client;
    this.timeoutMs = timeoutMs;
  }

  /**
   * `run` for calls that need `collection` loaded. A collection that is not loaded (released
   * by an operator, or by a Milvus Lite restart: Lite forgets its load state, real Milvus
   * restores it) is loaded again and the call retried once; a failure after that is
   * reported as usual, retryable.
   */
  async onLoaded<T>(collection: string, what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await this.run(what, call);
    } catch (err) {
      if (!isNotLoaded(err)) throw err;
      await this.run('loadCollection', () => this.client.loadCollection({ collection_name: collection }));
      await waitLoaded(this, collection);
      return await this.run(what, call);
    }
  }

  async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(unavailable(`${what}: Milvus did not answer within ${this.timeoutMs} ms`)),
        // A margin over the gRPC deadline, so the usual DEADLINE_EXCEEDED wins when it fires.
        this.timeoutMs + 1_000,
      );
    });
    try {
      const result = await Promise.race([call(), deadline]);
      checkStatus(what, statusOf(result));
      return result;
    } catch (err) {
      throw toMilvusMeshError(err, what);
    } finally {
      clearTimeout(timer);
    }
  }
}

function statusOf(result: unknown): ResStatus | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  // Responses are either a status or carry one; `error_code` marks a bare status.
  if ('error_code' in result) return result as ResStatus;
  return (result as { status?: ResStatus }).status;
}

function checkStatus(what: string, status: ResStatus | undefined): void {
  if (status === undefined) return;
  const code = Number(status.code ?? 0);
  if (code === 0 && (status.error_code === 'Success' || status.error_code === undefined)) return;
  const reason = String(status.reason || status.error_code || `code ${code}`);
  if (code === COLLECTION_NOT_LOADED || NOT_LOADED_REASON.test(reason)) {
    throw new MeshError(ErrorCode.Unavailable, `${what}: ${reason}`, {
      details: { code: COLLECTION_NOT_LOADED },
      retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
    });
  }
  if (status.retriable || TRANSIENT_STATUS_CODES.has(code)) throw unavailable(`${what}: ${reason}`);
  throw new MeshError(ErrorCode.Internal, `${what}: Milvus refused the request: ${reason}`, {
    details: { code, errorCode: status.error_code },
  });
}

function unavailable(message: string, cause?: unknown): MeshError {
  return new MeshError(ErrorCode.Unavailable, message, { cause, retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS });
}

export function toMilvusMeshError(err: unknown, what: string): MeshError {
  if (err instanceof MeshError) return err;
  const grpcCode = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof grpcCode === 'number' && !TRANSIENT_GRPC_CODES.has(grpcCode)) {
    return new MeshError(ErrorCode.Internal, `${what}: ${message}`, { cause: err });
  }
  // Connection failures without a gRPC code (the pool, the socket) are outages too.
  return unavailable(`${what}: Milvus is unavailable: ${message}`, err);
}

// ───────────────────────────── provisioning ─────────────────────────────

interface CollectionSpec {
  name: string;
  fields: FieldType[];
  vectorField: string;
  indexParams: { index_type: string; metric_type: string; params: Record<string, number> };
  partitionCount: number | undefined;
}

function dataCollectionSpec(name: string, options: ResolvedMilvusIndexOptions): CollectionSpec {
  const varchar = (fieldName: string, maxLength: number, extra: Partial<FieldType> = {}): FieldType => ({
    name: fieldName,
    data_type: DataType.VarChar,
    max_length: maxLength,
    ...extra,
  });
  return {
    name,
    fields: [
      varchar('pk', 64, { is_primary_key: true, autoID: false }),
      varchar('doc', 32),
      varchar('shard', 512),
      varchar('tenant', 512, { is_partition_key: true }),
      varchar('doc_id', DOC_ID_BYTES_MAX),
      { name: 'chunk', data_type: DataType.Int32 },
      { name: 'version', data_type: DataType.Int64 },
      { name: 'deleted', data_type: DataType.Bool },
      { name: 'chunk_count', data_type: DataType.Int32 },
      varchar('text', TEXT_BYTES_MAX),
      { name: 'metadata', data_type: DataType.JSON },
      { name: 'scope', data_type: DataType.JSON },
      {
        name: 'facts',
        data_type: DataType.Array,
        element_type: DataType.VarChar,
        max_capacity: FACTS_MAX,
        max_length: FACT_BYTES_MAX,
      },
      { name: VECTOR_FIELD, data_type: DataType.FloatVector, dim: options.dimensions },
    ],
    vectorField: VECTOR_FIELD,
    indexParams: {
      index_type: 'HNSW',
      metric_type: 'COSINE',
      params: { M: options.hnswM, efConstruction: options.hnswEfConstruction },
    },
    partitionCount: options.partitionCount,
  };
}

/** Milvus requires a vector field in every collection, so the position rows carry a tiny one. */
function viewsCollectionSpec(name: string): CollectionSpec {
  return {
    name,
    fields: [
      { name: 'view', data_type: DataType.VarChar, max_length: 1_024, is_primary_key: true, autoID: false },
      { name: 'applied_seq', data_type: DataType.Int64 },
      { name: 'updated_ms', data_type: DataType.Int64 },
      { name: POSITION_VECTOR_FIELD, data_type: DataType.FloatVector, dim: 2 },
    ],
    vectorField: POSITION_VECTOR_FIELD,
    indexParams: { index_type: 'FLAT', metric_type: 'L2', params: {} },
    partitionCount: undefined,
  };
}

async function provisionCollections(
  calls: MilvusCalls,
  names: MilvusCollectionNames,
  options: ResolvedMilvusIndexOptions,
): Promise<void> {
  await ensureCollection(calls, viewsCollectionSpec(names.views));
  await ensureCollection(calls, dataCollectionSpec(names.data, options));
}

/**
 * Creates the collection when absent, verifies it when present, makes sure its vector index
 * exists, and loads it. Safe to run by many agents at once: a lost creation race shows up as
 * "already exists", after which the winner's collection is verified like any other.
 */
async function ensureCollection(calls: MilvusCalls, spec: CollectionSpec): Promise<void> {
  const { client } = calls;
  const has = await calls.run('hasCollection', () => client.hasCollection({ collection_name: spec.name }));
  if (has.value !== true) {
    await calls
      .run('createCollection', () =>
        client.createCollection({
          collection_name: spec.name,
          fields: spec.fields,
          enable_dynamic_field: false,
          // The collection's default; every read also asks for Strong explicitly.
          consistency_level: 'Strong',
          ...(spec.partitionCount === undefined ? {} : { num_partitions: spec.partitionCount }),
        }),
      )
      .catch((err: unknown) => {
        if (!mentions(err, /already exist/i)) throw err;
      });
  }
  await verifySchema(calls, spec);
  await ensureVectorIndex(calls, spec);
  await calls.run('loadCollection', () => client.loadCollection({ collection_name: spec.name }));
  await waitLoaded(calls, spec.name);
}

/** Whether the error, or a cause of it (Milvus puts its text in `reason`), matches. */
function mentions(err: unknown, pattern: RegExp): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const { message, reason, cause } = e as { message?: unknown; reason?: unknown; cause?: unknown };
    if (pattern.test(String(message ?? '')) || pattern.test(String(reason ?? ''))) return true;
    e = cause;
  }
  return false;
}

async function verifySchema(calls: MilvusCalls, spec: CollectionSpec): Promise<void> {
  const described = await calls.run('describeCollection', () =>
    calls.client.describeCollection({ collection_name: spec.name }),
  );
  const actual = new Map(described.schema.fields.map((f) => [f.name, f]));
  const problems: string[] = [];
  for (const want of spec.fields) {
    const got = actual.get(want.name);
    actual.delete(want.name);
    if (got === undefined) {
      problems.push(`field ${want.name} is missing`);
      continue;
    }
    const params = new Map((got.type_params ?? []).map((p) => [String(p.key), String(p.value)]));
    const checks: [string, unknown, unknown][] = [
      ['type', DataType[want.data_type as DataType], got.data_type],
      ['primary key', Boolean(want.is_primary_key), Boolean(got.is_primary_key)],
      ['partition key', Boolean(want.is_partition_key), Boolean(got.is_partition_key)],
      ['dim', want.dim === undefined ? undefined : String(want.dim), params.get('dim')],
      [
        'max_length',
        want.max_length === undefined ? undefined : String(want.max_length),
        params.get('max_length'),
      ],
      [
        'max_capacity',
        want.max_capacity === undefined ? undefined : String(want.max_capacity),
        params.get('max_capacity'),
      ],
      [
        'element type',
        want.element_type === undefined ? undefined : DataType[want.element_type as DataType],
        want.element_type === undefined ? undefined : got.element_type,
      ],
    ];
    for (const [what, expected, found] of checks) {
      // Milvus Lite does not report an ARRAY's element max_length (real Milvus does).
      const unreported = what === 'max_length' && want.data_type === DataType.Array && found === undefined;
      if (expected !== found && !unreported)
        problems.push(`field ${want.name}: ${what} is ${String(found)}, expected ${String(expected)}`);
    }
  }
  for (const extra of actual.keys()) problems.push(`unexpected field ${extra}`);
  if (problems.length > 0) {
    // Deterministic: retrying cannot help, and writing into a foreign schema would corrupt it.
    throw new MeshError(
      ErrorCode.Config,
      `Milvus collection ${spec.name} exists with another schema: ${problems.join('; ')}`,
    );
  }
}

async function ensureVectorIndex(calls: MilvusCalls, spec: CollectionSpec, racing = true): Promise<void> {
  const { client } = calls;
  const described = await calls
    .run('describeIndex', () =>
      client.describeIndex({ collection_name: spec.name, field_name: spec.vectorField }),
    )
    .catch((err: unknown) => {
      // A collection without an index answers IndexNotExist (code 700; Milvus Lite says "no
      // index on collection"); anything else is a real failure.
      const details = (err as MeshError).details as { code?: number; errorCode?: string } | undefined;
      const missing =
        details?.code === 700 ||
        details?.errorCode === 'IndexNotExist' ||
        /index not (found|exist)|no index on/i.test((err as Error).message);
      if (missing) return undefined;
      throw err;
    });
  const existing = described?.index_descriptions?.find((d) => d.field_name === spec.vectorField);
  if (existing === undefined) {
    const created = await calls
      .run('createIndex', () =>
        client.createIndex({
          collection_name: spec.name,
          field_name: spec.vectorField,
          index_name: spec.vectorField,
          index_type: spec.indexParams.index_type,
          metric_type: spec.indexParams.metric_type,
          params: spec.indexParams.params,
        }),
      )
      .then(
        () => true,
        (err: unknown) => {
          // Another agent built it between our describe and create: verify theirs instead.
          if (racing && mentions(err, /already exist/i)) return false;
          throw err;
        },
      );
    if (!created) await ensureVectorIndex(calls, spec, false);
    return;
  }
  const params = new Map(existing.params.map((p) => [String(p.key), String(p.value)]));
  const nested = parseParams(params.get('params'));
  const found = {
    index_type: params.get('index_type'),
    metric_type: params.get('metric_type'),
    ...Object.fromEntries(Object.keys(spec.indexParams.params).map((k) => [k, params.get(k) ?? nested[k]])),
  };
  const wanted = {
    index_type: spec.indexParams.index_type,
    metric_type: spec.indexParams.metric_type,
    ...Object.fromEntries(Object.entries(spec.indexParams.params).map(([k, v]) => [k, String(v)])),
  };
  const differs = Object.entries(wanted).filter(([k, v]) => String(found[k as keyof typeof found]) !== v);
  if (differs.length > 0) {
    throw new MeshError(
      ErrorCode.Config,
      `Milvus collection ${spec.name} has a ${spec.vectorField} index with ${JSON.stringify(found)}, ` +
        `configured ${JSON.stringify(wanted)}: rebuild it under a new collection prefix or change the options`,
    );
  }
}

function parseParams(raw: string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  } catch {
    return {};
  }
}

const LOAD_POLL_MS = 100;

/** Loading is asynchronous in Milvus; poll its state until loaded, within one call timeout. */
async function waitLoaded(calls: MilvusCalls, name: string): Promise<void> {
  const deadline = Date.now() + calls.timeoutMs;
  for (;;) {
    const state = await calls.run('getLoadState', () => calls.client.getLoadState({ collection_name: name }));
    if (String(state.state) === 'LoadStateLoaded') return;
    if (Date.now() >= deadline) {
      throw unavailable(
        `Milvus collection ${name} is not loaded after ${calls.timeoutMs} ms (${state.state})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOAD_POLL_MS));
  }
}

// ───────────────────────────── expressions ─────────────────────────────

const LITERAL_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * A Milvus string literal. Only these five characters are escaped: they are the escapes
 * both Milvus's parser (Go, strconv.Unquote) and Milvus Lite's accept, and the only ones a
 * double-quoted literal cannot hold raw. Every other character, Unicode included, is literal.
 */
export function milvusString(value: string): string {
  return `"${value.replace(/[\\"\n\r\t]/g, (c) => LITERAL_ESCAPES[c] as string)}"`;
}

/**
 * The facts a filter can test: `m[key,value]` per metadata entry and `s[field,value]` per
 * scope field, as JSON so the value's type is part of it. Undefined values are no facts, as
 * filter.ts drops undefined filter fields.
 */
export function filterFacts(metadata: Metadata | undefined, scope: Scope | undefined): string[] {
  const facts: string[] = [];
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (value !== undefined) facts.push(`m${JSON.stringify([key, value])}`);
  }
  for (const [key, value] of Object.entries(scope ?? {})) {
    if (value !== undefined) facts.push(`s${JSON.stringify([key, value])}`);
  }
  return facts;
}

/** The Milvus expression of a search's filter; undefined when no document could match. */
export function filterExpression(filter: Filter | undefined): string | undefined | null {
  const facts = filterFacts(filter?.metadata, filter?.scope);
  if (facts.length === 0) return undefined;
  // A fact no document can hold (too long to store) matches nothing.
  if (facts.length > FACTS_MAX || facts.some((f) => enc(f) > FACT_BYTES_MAX)) return null;
  return `array_contains_all(facts, [${facts.map(milvusString).join(', ')}])`;
}

// ───────────────────────────── the index ─────────────────────────────

interface Head {
  version: number;
  deleted: boolean;
  chunkCount: number;
}

interface TenantCounters {
  docs: number;
  chunks: number;
  tombstones: number;
  version: number;
}

const HEAD_FIELDS = ['pk', 'doc_id', 'version', 'deleted', 'chunk_count', 'text', 'metadata', 'scope'];

class MilvusIndexImpl implements VectorIndex {
  readonly dimensions: number;
  readonly #calls: MilvusCalls;
  readonly #names: MilvusCollectionNames;
  readonly #options: ResolvedMilvusIndexOptions;
  readonly #counters = new Map<string, TenantCounters>();
  #appliedSeq = 0;
  #persistedSeq = 0;
  /** Writes run one after another, so a version check and its write are never interleaved. */
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(calls: MilvusCalls, names: MilvusCollectionNames, options: ResolvedMilvusIndexOptions) {
    this.dimensions = options.dimensions;
    this.#calls = calls;
    this.#names = names;
    this.#options = options;
  }

  get appliedSeq(): number {
    return this.#appliedSeq;
  }

  /** Reads the view's position and counts its documents; called once by createMilvusIndex. */
  async load(): Promise<void> {
    const rows = await this.#calls.onLoaded(this.#names.views, 'query view position', () =>
      this.#calls.client.query({
        collection_name: this.#names.views,
        filter: `view == ${milvusString(this.#names.view)}`,
        output_fields: ['applied_seq'],
        consistency_level: ConsistencyLevelEnum.Strong,
      }),
    );
    const seq = rows.data[0]?.applied_seq;
    this.#appliedSeq = seq === undefined ? 0 : toSafeInteger(seq, 'applied_seq');
    this.#persistedSeq = this.#appliedSeq;
    await this.#countHeads();
  }

  async upsert(doc: UpsertDoc): Promise<boolean> {
    this.#assertOpen();
    assertVersion(doc.version);
    // Validated before the version check, so bad input fails the same way whatever is held.
    const vectors = packUnitVectors(doc.chunks, this.dimensions);
    const facts = filterFacts(doc.metadata, doc.scope);
    assertStorable(doc, facts);
    return this.#serially(async () => {
      const held = await this.#head(doc.tenant, doc.id);
      if (held !== undefined && held.version >= doc.version) return false;
      const key = docKey(this.#options.shard, doc.tenant, doc.id);
      const n = doc.chunks.length;
      await this.#deleteChunks(doc.tenant, key, n);
      const rows = doc.chunks.map((_, i) => ({
        ...this.#row(doc.tenant, doc.id, key, i, doc.version),
        pk: `${key}:${i}`,
        facts,
        [VECTOR_FIELD]: Array.from(vectors.subarray(i * this.dimensions, (i + 1) * this.dimensions)),
      }));
      for (let i = 0; i < rows.length; i += this.#options.writeBatchRowsMax) {
        await this.#upsertRows(rows.slice(i, i + this.#options.writeBatchRowsMax));
      }
      await this.#upsertRows([
        {
          ...this.#row(doc.tenant, doc.id, key, HEAD_CHUNK, doc.version),
          chunk_count: n,
          text: doc.text,
          metadata: { ...doc.metadata },
          scope: { ...doc.scope },
        },
      ]);
      this.#count(doc.tenant, held, { version: doc.version, deleted: false, chunkCount: n });
      return true;
    });
  }

  async delete(tenant: string, id: string, version: number): Promise<boolean> {
    this.#assertOpen();
    assertVersion(version);
    return this.#serially(async () => {
      const held = await this.#head(tenant, id);
      if (held !== undefined && held.version >= version) return false;
      const key = docKey(this.#options.shard, tenant, id);
      await this.#deleteChunks(tenant, key, 0);
      // A tombstone is kept even for an id never seen: an older upsert may still be on its way.
      await this.#upsertRows([{ ...this.#row(tenant, id, key, HEAD_CHUNK, version), deleted: true }]);
      this.#count(tenant, held, { version, deleted: true, chunkCount: 0 });
      return true;
    });
  }

  markApplied(seq: number): void {
    this.#assertOpen();
    assertVersion(seq);
    if (seq > this.#appliedSeq) this.#appliedSeq = seq;
  }

  async get(tenant: string, id: string): Promise<IndexedDoc | undefined> {
    this.#assertOpen();
    const [head] = await this.#heads(tenant, [docKey(this.#options.shard, tenant, id)]);
    if (head === undefined || head.deleted === true) return undefined;
    return {
      tenant,
      id: String(head.doc_id),
      version: toSafeInteger(head.version, 'version'),
      text: String(head.text),
      metadata: { ...(head.metadata as Metadata) },
      scope: { ...(head.scope as Scope) },
      chunkCount: Number(head.chunk_count),
    };
  }

  async search(query: VectorQuery): Promise<VectorHit[]> {
    this.#assertOpen();
    if (!Number.isSafeInteger(query.topK) || query.topK < 1 || query.topK > SEARCH_TOPK_MAX) {
      throw new RangeError(`topK is ${query.topK}, expected an integer in [1, ${SEARCH_TOPK_MAX}]`);
    }
    const vector = unitQuery(query.vector, this.dimensions);
    const filter = filterExpression(query.filter);
    if (filter === null) return [];
    const { tenant, topK } = query;
    const expr = [this.#viewExpr(tenant), 'chunk >= 0', ...(filter === undefined ? [] : [filter])].join(
      ' && ',
    );
    const found = await this.#calls.onLoaded(this.#names.data, 'search', () =>
      this.#calls.client.search({
        collection_name: this.#names.data,
        anns_field: VECTOR_FIELD,
        data: [Array.from(vector)],
        limit: topK,
        filter: expr,
        // One hit per document, its best chunk: Milvus folds chunks into documents itself.
        group_by_field: 'doc',
        output_fields: ['doc', 'version'],
        metric_type: 'COSINE',
        params: { ef: Math.max(this.#options.hnswEf, topK) },
        consistency_level: ConsistencyLevelEnum.Strong,
        timeout: this.#calls.timeoutMs,
      }),
    );
    const hits = found.results as unknown as { score: number; doc: string; version: string | number }[];
    const heads = new Map(
      (
        await this.#heads(
          tenant,
          hits.map((h) => h.doc),
        )
      ).map((h) => [String(h.pk), h]),
    );
    const results: VectorHit[] = [];
    for (const hit of hits) {
      const head = heads.get(hit.doc);
      // A head that is gone, deleted or of another version means a write of this document is
      // in flight (or was interrupted and will be redone): its chunks are not trusted yet.
      if (head === undefined || head.deleted === true || String(head.version) !== String(hit.version))
        continue;
      results.push({
        id: String(head.doc_id),
        // float32 rounding can put a cosine a hair outside the documented range.
        score: Math.min(1, Math.max(-1, hit.score)),
        version: toSafeInteger(head.version, 'version'),
        text: String(head.text),
        metadata: { ...(head.metadata as Metadata) },
        scope: { ...(head.scope as Scope) },
      });
    }
    return results.sort((a, b) => b.score - a.score).slice(0, topK);
  }

  stats(tenant?: string): IndexStats {
    this.#assertOpen();
    const counters = tenant === undefined ? [...this.#counters.values()] : [this.#counters.get(tenant)];
    const stats: IndexStats = { docs: 0, chunks: 0, tombstones: 0, version: 0 };
    for (const c of counters) {
      if (c === undefined) continue;
      stats.docs += c.docs;
      stats.chunks += c.chunks;
      stats.tombstones += c.tombstones;
      stats.version = Math.max(stats.version, c.version);
    }
    return stats;
  }

  /**
   * Writes the position. The data is already in Milvus (every write awaited it), so writing
   * the position after it keeps "nothing acknowledged is missing" across a restart.
   */
  async snapshot(): Promise<void> {
    this.#assertOpen();
    await this.#serially(async () => {
      const seq = this.#appliedSeq;
      if (seq === this.#persistedSeq) return;
      await this.#calls.onLoaded(this.#names.views, 'upsert view position', () =>
        this.#calls.client.upsert({
          collection_name: this.#names.views,
          data: [
            {
              view: this.#names.view,
              applied_seq: seq,
              updated_ms: Date.now(),
              [POSITION_VECTOR_FIELD]: [1, 0],
            },
          ],
          timeout: this.#calls.timeoutMs,
        }),
      );
      this.#persistedSeq = seq;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writes.catch(() => undefined);
    await this.#calls.client.closeConnection().catch(() => undefined);
  }

  #serially<T>(write: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(write);
    // The queue must go on after a failed write; the caller still sees the failure.
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /** Every expression starts here: this view's shard and one tenant (the partition key). */
  #viewExpr(tenant: string): string {
    return `shard == ${milvusString(this.#options.shard)} && tenant == ${milvusString(tenant)}`;
  }

  #row(tenant: string, id: string, key: string, chunk: number, version: number) {
    return {
      pk: key,
      doc: key,
      shard: this.#options.shard,
      tenant,
      doc_id: id,
      chunk,
      version,
      deleted: false,
      chunk_count: 0,
      text: '',
      metadata: {},
      scope: {},
      facts: [] as string[],
      [VECTOR_FIELD]: placeholderVector(key, this.dimensions),
    };
  }

  async #upsertRows(rows: RowData[]): Promise<void> {
    const result = await this.#calls.onLoaded(this.#names.data, 'upsert', () =>
      this.#calls.client.upsert({
        collection_name: this.#names.data,
        data: rows,
        timeout: this.#calls.timeoutMs,
      }),
    );
    const written = Number(result.upsert_cnt ?? rows.length);
    if (written !== rows.length || (result.err_index?.length ?? 0) > 0) {
      throw new MeshError(ErrorCode.Internal, `Milvus upserted ${written} of ${rows.length} rows`);
    }
  }

  /** Deletes the document's chunk rows from `fromChunk` on (0: all of them). */
  async #deleteChunks(tenant: string, key: string, fromChunk: number): Promise<void> {
    await this.#calls.onLoaded(this.#names.data, 'delete chunks', () =>
      this.#calls.client.delete({
        collection_name: this.#names.data,
        filter: `${this.#viewExpr(tenant)} && doc == ${milvusString(key)} && chunk >= ${fromChunk}`,
        timeout: this.#calls.timeoutMs,
      }),
    );
  }

  async #head(tenant: string, id: string): Promise<Head | undefined> {
    const [row] = await this.#heads(tenant, [docKey(this.#options.shard, tenant, id)]);
    if (row === undefined) return undefined;
    return {
      version: toSafeInteger(row.version, 'version'),
      deleted: row.deleted === true,
      chunkCount: Number(row.chunk_count),
    };
  }

  /** Head rows by document key, in batches of writeBatchRowsMax keys. */
  async #heads(tenant: string, keys: string[]): Promise<Record<string, unknown>[]> {
    const heads: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += this.#options.writeBatchRowsMax) {
      const batch = keys.slice(i, i + this.#options.writeBatchRowsMax);
      const result = await this.#calls.onLoaded(this.#names.data, 'query heads', () =>
        this.#calls.client.query({
          collection_name: this.#names.data,
          filter: `pk in [${batch.map(milvusString).join(', ')}] && ${this.#viewExpr(tenant)} && chunk == ${HEAD_CHUNK}`,
          output_fields: HEAD_FIELDS,
          consistency_level: ConsistencyLevelEnum.Strong,
          timeout: this.#calls.timeoutMs,
        }),
      );
      heads.push(...result.data);
    }
    return heads;
  }

  /**
   * Counts the view's heads per tenant for `stats()`, a page at a time in primary-key order
   * (`iterator` asks Milvus for that order, as its own query iterator does).
   */
  async #countHeads(): Promise<void> {
    const pageRows = this.#options.scanPageRowsMax;
    const pagesMax = Math.ceil(this.#options.viewDocsMax / pageRows) + 1;
    let after: string | undefined;
    for (let page = 0; page < pagesMax; page++) {
      const cursor = after === undefined ? '' : ` && pk > ${milvusString(after)}`;
      const result = await this.#calls.onLoaded(this.#names.data, 'scan heads', () =>
        this.#calls.client.query({
          collection_name: this.#names.data,
          filter: `shard == ${milvusString(this.#options.shard)} && chunk == ${HEAD_CHUNK}${cursor}`,
          output_fields: ['pk', 'tenant', 'version', 'deleted', 'chunk_count'],
          limit: pageRows,
          params: { iterator: true },
          consistency_level: ConsistencyLevelEnum.Strong,
          timeout: this.#calls.timeoutMs,
        }),
      );
      for (const row of result.data) {
        const pk = String(row.pk);
        if (after !== undefined && pk <= after) {
          throw new MeshError(ErrorCode.Internal, 'Milvus returned heads out of primary-key order');
        }
        after = pk;
        const head = {
          version: toSafeInteger(row.version, 'version'),
          deleted: row.deleted === true,
          chunkCount: Number(row.chunk_count),
        };
        this.#count(String(row.tenant), undefined, head);
      }
      if (result.data.length < pageRows) return;
    }
    throw new MeshError(
      ErrorCode.Config,
      `the view ${this.#names.view} holds more than viewDocsMax (${this.#options.viewDocsMax}) documents`,
    );
  }

  /** Moves the tenant's counters from what was held (undefined: nothing) to `now`. */
  #count(tenant: string, held: Head | undefined, now: Head): void {
    let c = this.#counters.get(tenant);
    if (c === undefined) {
      c = { docs: 0, chunks: 0, tombstones: 0, version: 0 };
      this.#counters.set(tenant, c);
    }
    if (held !== undefined) {
      if (held.deleted) c.tombstones--;
      else {
        c.docs--;
        c.chunks -= held.chunkCount;
      }
    }
    if (now.deleted) c.tombstones++;
    else {
      c.docs++;
      c.chunks += now.chunkCount;
    }
    c.version = Math.max(c.version, now.version);
  }

  #assertOpen(): void {
    if (this.#closed) throw new MeshError(ErrorCode.Unavailable, 'the Milvus index is closed');
  }
}

/** A document's key: fixed length and hex, so it is safe in any expression and primary key. */
function docKey(shard: string, tenant: string, id: string): string {
  return createHash('sha256')
    .update(JSON.stringify([shard, tenant, id]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * The vector of a head row. Milvus wants one in every row, and heads are never searched
 * (`chunk >= 0`), but they are in the HNSW graph: a distinct pseudo-random unit vector per
 * document keeps them from piling up in one point, which degrades HNSW graphs.
 */
function placeholderVector(key: string, dimensions: number): number[] {
  let state = Number.parseInt(key.slice(0, 8), 16) >>> 0 || 1;
  const vector: number[] = [];
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    // xorshift32: small, deterministic, good enough to spread points.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const x = state / 0xffffffff - 0.5;
    vector.push(x);
    sum += x * x;
  }
  const norm = Math.sqrt(sum) || 1;
  return vector.map((x) => x / norm);
}

function assertVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new RangeError(`version is ${version}, expected a non-negative safe integer`);
  }
}

/** What Milvus cannot store is a poison event for this view: deterministic, never retried. */
function assertStorable(doc: UpsertDoc, facts: string[]): void {
  const problems: string[] = [];
  if (enc(doc.text) > TEXT_BYTES_MAX) problems.push(`text is over ${TEXT_BYTES_MAX} bytes`);
  if (enc(doc.id) > DOC_ID_BYTES_MAX) problems.push(`id is over ${DOC_ID_BYTES_MAX} bytes`);
  if (enc(doc.tenant) > 512) problems.push('tenant is over 512 bytes');
  if (facts.length > FACTS_MAX) problems.push(`metadata and scope have over ${FACTS_MAX} entries`);
  if (facts.some((f) => enc(f) > FACT_BYTES_MAX))
    problems.push(`a metadata entry is over ${FACT_BYTES_MAX} bytes`);
  if (problems.length > 0) {
    throw new MeshError(
      ErrorCode.InvalidEvent,
      `document ${doc.id} cannot be stored in Milvus: ${problems.join('; ')}`,
    );
  }
}

function toSafeInteger(value: unknown, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new MeshError(ErrorCode.Internal, `Milvus returned ${field} ${String(value)}, not a safe integer`);
  }
  return n;
}
