/**
 * @module milvus-index
 * The Milvus `VectorIndex`: one shard view of one origin region, kept in a Milvus collection
 * shared by every shard of that region and embedding model. The collections' layout is
 * schema.ts's, filters are expressions.ts's, and the mapping of Milvus failures to MeshErrors
 * is calls.ts's.
 *
 * Write order makes crashes harmless: a new version first deletes chunk rows it will not
 * overwrite, then upserts its chunks, then its head. The head is the version check, so a
 * write interrupted anywhere before its head landed is redone in full when the event is
 * delivered again; the position is written only by `snapshot()`, after the data. Reads and
 * writes use Strong consistency, so a write acknowledged here is seen by the next search,
 * which is what `?wait=true` and `minVersion` promise.
 */
import type { Metadata, Scope } from '@memmesh/core';
import { ErrorCode, MeshError } from '@memmesh/core';
import { ConsistencyLevelEnum, MilvusClient, type RowData } from '@zilliz/milvus2-sdk-node';
import {
  assertDocsMax,
  assertListQuery,
  assertVersion,
  isExpired,
  newestFirst,
  sumStats,
} from '../contract.ts';
import { compileFilter } from '../filter.ts';
import type {
  ExpiredDoc,
  IndexedDoc,
  IndexStats,
  ListQuery,
  UpsertDoc,
  VectorHit,
  VectorIndex,
  VectorQuery,
} from '../types.ts';
import { packUnitVectors, unitQuery } from '../vectors.ts';
import { MilvusCalls } from './calls.ts';
import {
  expiredExpression,
  filterExpression,
  filterFacts,
  liveExpression,
  milvusString,
} from './expressions.ts';
import { onLoaded } from './loading.ts';
import {
  type MilvusIndexOptions,
  type ResolvedMilvusIndexOptions,
  resolveMilvusOptions,
  SEARCH_TOPK_MAX,
} from './options.ts';
import { provisionCollections } from './provisioning.ts';
import {
  assertStorable,
  collectionNames,
  docKey,
  EXPIRY_KEY,
  HEAD_CHUNK,
  HEAD_FIELDS,
  type MilvusCollectionNames,
  POSITION_VECTOR_FIELD,
  placeholderVector,
  VECTOR_FIELD,
} from './schema.ts';

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

interface Head {
  version: number;
  deleted: boolean;
  chunkCount: number;
  expiresAtMs?: number | undefined;
}

/** A list page's first version window is this many times its limit; each next one doubles. */
const LIST_WINDOW_PER_LIMIT = 8;

interface TenantCounters {
  docs: number;
  chunks: number;
  tombstones: number;
  version: number;
}

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
    const rows = await onLoaded(this.#calls, this.#names.views, 'query view position', () =>
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
      const expiry = doc.expiresAtMs === undefined ? {} : { [EXPIRY_KEY]: doc.expiresAtMs };
      await this.#deleteChunks(doc.tenant, key, n);
      const rows = doc.chunks.map((_, i) => ({
        ...this.#row(doc.tenant, doc.id, key, i, doc.version),
        pk: `${key}:${i}`,
        facts,
        scope: expiry,
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
          scope: { ...doc.scope, ...expiry },
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
    if (head === undefined || head.deleted === true || isExpired(expiryOf(head), Date.now()))
      return undefined;
    return toIndexedDoc(tenant, head);
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
    const nowMs = Date.now();
    // Expired chunks are filtered inside Milvus, so they never take one of the topK places.
    const expr = [
      this.#viewExpr(tenant),
      'chunk >= 0',
      liveExpression(nowMs),
      ...(filter === undefined ? [] : [filter]),
    ].join(' && ');
    const found = await onLoaded(this.#calls, this.#names.data, 'search', () =>
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
        params: { ef: Math.max(this.#options.hnsw.efSearch, topK) },
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
      const expiresAtMs = expiryOf(head);
      results.push({
        id: String(head.doc_id),
        // float32 rounding can put a cosine a hair outside the documented range.
        score: Math.min(1, Math.max(-1, hit.score)),
        version: toSafeInteger(head.version, 'version'),
        text: String(head.text),
        metadata: { ...(head.metadata as Metadata) },
        scope: scopeOf(head),
        ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
      });
    }
    return results.sort((a, b) => b.score - a.score).slice(0, topK);
  }

  /**
   * Milvus queries have no ORDER BY, so the newest `limit` heads below the cursor are found
   * by version windows, newest first: every head in a window is read (in primary-key pages),
   * the window below is twice as wide, and the walk stops once `limit` heads passed, since
   * every head of a lower window is older than all of them. A page so costs about the heads
   * between the cursor and its last memory, not the tenant's whole view. The filter is
   * applied here, with ../filter.ts (heads carry metadata and scope, not the chunks' facts).
   */
  async list(query: ListQuery): Promise<IndexedDoc[]> {
    this.#assertOpen();
    assertListQuery(query);
    const newest = this.#counters.get(query.tenant)?.version;
    if (newest === undefined) return [];
    const accept = compileFilter(query.filter);
    const nowMs = Date.now();
    const passed: Record<string, unknown>[] = [];
    let high = Math.min(query.beforeVersion ?? newest + 1, newest + 1);
    let width = query.limit * LIST_WINDOW_PER_LIMIT;
    const pagesMax = Math.ceil(this.#options.viewDocsMax / this.#options.scanPageRowsMax) + 1;
    let pages = 0;
    while (high > 0 && passed.length < query.limit) {
      const low = Math.max(0, high - width);
      const window = `version >= ${low} && version < ${high}`;
      pages += await this.#scanHeads(query.tenant, `${window} && ${liveExpression(nowMs)}`, (head) => {
        if (accept === undefined || accept(head.metadata as Metadata, scopeOf(head))) passed.push(head);
      });
      if (pages > pagesMax) {
        throw new MeshError(ErrorCode.Internal, `listing ${this.#names.view} read over ${pagesMax} pages`);
      }
      high = low;
      width *= 2;
    }
    const byVersion = passed.map((head) => ({ head, version: toSafeInteger(head.version, 'version') }));
    return newestFirst(byVersion, query.limit).map(({ head }) => toIndexedDoc(query.tenant, head));
  }

  async expiring(nowMs: number, docsMax: number): Promise<ExpiredDoc[]> {
    this.#assertOpen();
    assertDocsMax(docsMax);
    const result = await onLoaded(this.#calls, this.#names.data, 'query expired heads', () =>
      this.#calls.client.query({
        collection_name: this.#names.data,
        filter: `shard == ${milvusString(this.#options.shard)} && chunk == ${HEAD_CHUNK} && deleted == false && ${expiredExpression(nowMs)}`,
        output_fields: ['tenant', 'doc_id', 'version'],
        limit: Math.min(docsMax, SEARCH_TOPK_MAX),
        consistency_level: ConsistencyLevelEnum.Strong,
        timeout: this.#calls.timeoutMs,
      }),
    );
    return result.data.map((row) => ({
      tenant: String(row.tenant),
      id: String(row.doc_id),
      version: toSafeInteger(row.version, 'version'),
    }));
  }

  async expire(tenant: string, id: string, version: number): Promise<boolean> {
    this.#assertOpen();
    assertVersion(version);
    return this.#serially(async () => {
      const held = await this.#head(tenant, id);
      if (held === undefined || held.deleted || held.version !== version) return false;
      if (!isExpired(held.expiresAtMs, Date.now())) return false;
      const key = docKey(this.#options.shard, tenant, id);
      await this.#deleteChunks(tenant, key, 0);
      // A tombstone at the expired version: replaying the expired event then changes nothing.
      await this.#upsertRows([{ ...this.#row(tenant, id, key, HEAD_CHUNK, version), deleted: true }]);
      this.#count(tenant, held, { version, deleted: true, chunkCount: 0 });
      return true;
    });
  }

  stats(tenant?: string): IndexStats {
    this.#assertOpen();
    return sumStats(tenant === undefined ? this.#counters.values() : [this.#counters.get(tenant)]);
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
      await onLoaded(this.#calls, this.#names.views, 'upsert view position', () =>
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

  async drop(): Promise<void> {
    this.#assertOpen();
    const { client, timeoutMs } = this.#calls;
    await this.#serially(async () => {
      await onLoaded(this.#calls, this.#names.data, 'drop view rows', () =>
        client.delete({
          collection_name: this.#names.data,
          filter: `shard == ${milvusString(this.#options.shard)}`,
          timeout: timeoutMs,
        }),
      );
      await onLoaded(this.#calls, this.#names.views, 'drop view position', () =>
        client.delete({
          collection_name: this.#names.views,
          filter: `view == ${milvusString(this.#names.view)}`,
          timeout: timeoutMs,
        }),
      );
      // The collection holds every shard of one region and model: the last view dropped drops it.
      const left = await onLoaded(this.#calls, this.#names.data, 'query rows left', () =>
        client.query({
          collection_name: this.#names.data,
          filter: 'chunk >= 0',
          output_fields: ['pk'],
          limit: 1,
          consistency_level: ConsistencyLevelEnum.Strong,
          timeout: timeoutMs,
        }),
      );
      if (left.data.length === 0) {
        await client.dropCollection({ collection_name: this.#names.data, timeout: timeoutMs });
      }
    });
    await this.close();
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
    const result = await onLoaded(this.#calls, this.#names.data, 'upsert', () =>
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
    await onLoaded(this.#calls, this.#names.data, 'delete chunks', () =>
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
      expiresAtMs: expiryOf(row),
    };
  }

  /**
   * Calls `onHead` for every live head of the tenant in this view that `where` selects, a
   * page at a time in primary-key order; answers the pages read.
   */
  async #scanHeads(
    tenant: string,
    where: string,
    onHead: (head: Record<string, unknown>) => void,
  ): Promise<number> {
    const pageRows = this.#options.scanPageRowsMax;
    let after: string | undefined;
    for (let page = 1; ; page++) {
      const cursor = after === undefined ? '' : ` && pk > ${milvusString(after)}`;
      const result = await onLoaded(this.#calls, this.#names.data, 'scan heads', () =>
        this.#calls.client.query({
          collection_name: this.#names.data,
          filter: `${this.#viewExpr(tenant)} && chunk == ${HEAD_CHUNK} && deleted == false && ${where}${cursor}`,
          output_fields: HEAD_FIELDS,
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
        onHead(row);
      }
      if (result.data.length < pageRows) return page;
    }
  }

  /** Head rows by document key, in batches of writeBatchRowsMax keys. */
  async #heads(tenant: string, keys: string[]): Promise<Record<string, unknown>[]> {
    const heads: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += this.#options.writeBatchRowsMax) {
      const batch = keys.slice(i, i + this.#options.writeBatchRowsMax);
      const result = await onLoaded(this.#calls, this.#names.data, 'query heads', () =>
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
      const result = await onLoaded(this.#calls, this.#names.data, 'scan heads', () =>
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

function toSafeInteger(value: unknown, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new MeshError(ErrorCode.Internal, `Milvus returned ${field} ${String(value)}, not a safe integer`);
  }
  return n;
}

/** A head's expiry, from its scope JSON; undefined when it never expires. */
function expiryOf(head: Record<string, unknown>): number | undefined {
  const value = (head.scope as Record<string, unknown> | null | undefined)?.[EXPIRY_KEY];
  return value === undefined || value === null ? undefined : toSafeInteger(value, EXPIRY_KEY);
}

/** A head's scope as the API knows it: without the expiry kept beside it. */
function scopeOf(head: Record<string, unknown>): Scope {
  const { [EXPIRY_KEY]: _expiry, ...scope } = (head.scope ?? {}) as Record<string, unknown>;
  return scope as Scope;
}

function toIndexedDoc(tenant: string, head: Record<string, unknown>): IndexedDoc {
  const expiresAtMs = expiryOf(head);
  return {
    tenant,
    id: String(head.doc_id),
    version: toSafeInteger(head.version, 'version'),
    text: String(head.text),
    metadata: { ...(head.metadata as Metadata) },
    scope: scopeOf(head),
    chunkCount: Number(head.chunk_count),
    ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
  };
}
