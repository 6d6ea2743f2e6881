/**
 * @module embedded-index
 * The embedded `VectorIndex`: one shard's documents for all its tenants, in memory, with a
 * usearch HNSW graph per tenant and atomic snapshots to a local directory.
 *
 * Writes are applied synchronously inside the async methods, so every method sees and
 * leaves a consistent state; only snapshots await the disk, and they work on a frozen copy.
 */
import { rm } from 'node:fs/promises';
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  assertDocsMax,
  assertListQuery,
  assertVersion,
  isExpired,
  newestFirst,
  sumStats,
} from '../contract.ts';
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
import { type DocRecord, toIndexedDoc } from './doc-record.ts';
import { type EmbeddedIndexOptions, type ResolvedIndexOptions, resolveOptions } from './options.ts';
import { livePredicate, type SearchPlanConfig, searchTenant, toPredicate } from './search-plan.ts';
import { freezeSnapshot, type LoadedSnapshot, readSnapshot, writeSnapshot } from './snapshot.ts';
import { TenantIndex } from './tenant-index.ts';

/**
 * Below this share of a tenant's chunks matching, a filter counts as selective: the graph
 * would have to be asked for topK × oversampleFactor × 20 candidates, and scanning the
 * matching documents exactly is cheaper and never misses one.
 */
const FILTER_PASS_FRACTION_MIN = 0.05;

/** Creates an embedded index, loading the snapshot in `options.dir` when there is one. */
export async function createEmbeddedIndex(options: EmbeddedIndexOptions): Promise<VectorIndex> {
  const resolved = resolveOptions(options);
  const index = new EmbeddedIndexImpl(resolved);
  if (resolved.dir !== undefined) {
    const loaded = await readSnapshot(resolved.dir, resolved.dimensions);
    if (loaded !== undefined) index.restore(loaded);
  }
  return index;
}

class EmbeddedIndexImpl implements VectorIndex {
  readonly dimensions: number;
  readonly #options: ResolvedIndexOptions;
  readonly #plan: SearchPlanConfig;
  readonly #tenants = new Map<string, TenantIndex>();
  #appliedSeq = 0;
  /** Next usearch key; keys are never reused, so a stale key can never alias a new chunk. */
  #nextKey = 1;
  /** Counts state changes, so a snapshot can tell whether anything happened since the last. */
  #changes = 0;
  #changesSnapshotted = 0;
  #lastSnapshotMs = 0;
  /** Snapshots run one after another: each waits for the one before it. */
  #snapshotQueue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: ResolvedIndexOptions) {
    this.dimensions = options.dimensions;
    this.#options = options;
    this.#plan = {
      oversampleFactor: options.oversampleFactor,
      exactScanChunksMax: options.exactScanChunksMax,
      filterPassFractionMin: FILTER_PASS_FRACTION_MIN,
    };
  }

  get appliedSeq(): number {
    return this.#appliedSeq;
  }

  async upsert(doc: UpsertDoc): Promise<boolean> {
    this.#assertOpen();
    assertVersion(doc.version);
    // Validated before the version check, so bad input fails the same way whatever is held.
    const vectors = packUnitVectors(doc.chunks, this.dimensions);
    const held = this.#tenants.get(doc.tenant)?.versionOf(doc.id);
    if (held !== undefined && held >= doc.version) return false;
    const record: DocRecord = {
      tenant: doc.tenant,
      id: doc.id,
      version: doc.version,
      text: doc.text,
      // Copies, so a caller reusing its objects cannot change what the index holds.
      metadata: { ...doc.metadata },
      scope: { ...doc.scope },
      keys: this.#allocateKeys(doc.chunks.length),
      vectors,
      ...(doc.expiresAtMs === undefined ? {} : { expiresAtMs: doc.expiresAtMs }),
    };
    if (!(await this.#tenantFor(doc.tenant).putInSlices(record))) return false;
    this.#changes++;
    return true;
  }

  async delete(tenant: string, id: string, version: number): Promise<boolean> {
    this.#assertOpen();
    assertVersion(version);
    const held = this.#tenants.get(tenant)?.versionOf(id);
    if (held !== undefined && held >= version) return false;
    // A tombstone is kept even for an id never seen: an older upsert may still be on its way.
    this.#tenantFor(tenant).tombstone(id, version);
    this.#changes++;
    return true;
  }

  markApplied(seq: number): void {
    this.#assertOpen();
    assertVersion(seq);
    if (seq <= this.#appliedSeq) return;
    this.#appliedSeq = seq;
    this.#changes++;
  }

  async get(tenant: string, id: string): Promise<IndexedDoc | undefined> {
    this.#assertOpen();
    const record = this.#tenants.get(tenant)?.docs.get(id);
    if (record === undefined || isExpired(record.expiresAtMs, Date.now())) return undefined;
    return toIndexedDoc(record);
  }

  async search(query: VectorQuery): Promise<VectorHit[]> {
    this.#assertOpen();
    if (!Number.isSafeInteger(query.topK) || query.topK < 1) {
      throw new RangeError(`topK is ${query.topK}, expected a positive integer`);
    }
    const vector = unitQuery(query.vector, this.dimensions);
    const tenant = this.#tenants.get(query.tenant);
    if (tenant === undefined) return [];
    const found = searchTenant(tenant, vector, query.topK, query.filter, this.#plan, Date.now());
    return found.map(({ record, score }) => ({
      id: record.id,
      // float32 rounding can put 1 - distance a hair outside the documented range.
      score: Math.min(1, Math.max(-1, score)),
      version: record.version,
      text: record.text,
      metadata: { ...record.metadata },
      scope: { ...record.scope },
      ...(record.expiresAtMs === undefined ? {} : { expiresAtMs: record.expiresAtMs }),
    }));
  }

  /**
   * A scan of the tenant's documents in this shard, keeping the `limit` newest that pass:
   * in memory, a page of a tenant with 100,000 documents here costs a few milliseconds.
   */
  async list(query: ListQuery): Promise<IndexedDoc[]> {
    this.#assertOpen();
    assertListQuery(query);
    const tenant = this.#tenants.get(query.tenant);
    if (tenant === undefined) return [];
    const accept = toPredicate(query.filter);
    const live = livePredicate(tenant, Date.now());
    const before = query.beforeVersion ?? Number.POSITIVE_INFINITY;
    const passing = function* () {
      for (const record of tenant.docs.values()) {
        if (record.version >= before) continue;
        if ((live !== undefined && !live(record)) || (accept !== undefined && !accept(record))) continue;
        yield record;
      }
    };
    return newestFirst(passing(), query.limit).map(toIndexedDoc);
  }

  async expiring(nowMs: number, docsMax: number): Promise<ExpiredDoc[]> {
    this.#assertOpen();
    assertDocsMax(docsMax);
    const expired: ExpiredDoc[] = [];
    // Only documents that carry an expiry are looked at, and the walk stops at docsMax.
    for (const tenant of this.#tenants.values()) {
      for (const record of tenant.expiring.values()) {
        if (!isExpired(record.expiresAtMs, nowMs)) continue;
        expired.push({ tenant: record.tenant, id: record.id, version: record.version });
        if (expired.length >= docsMax) return expired;
      }
    }
    return expired;
  }

  async expire(tenant: string, id: string, version: number): Promise<boolean> {
    this.#assertOpen();
    assertVersion(version);
    const held = this.#tenants.get(tenant);
    const record = held?.docs.get(id);
    if (held === undefined || record === undefined || record.version !== version) return false;
    if (!isExpired(record.expiresAtMs, Date.now())) return false;
    // The tombstone keeps the version, so the expired event, replayed, is older than nothing.
    held.tombstone(id, version);
    this.#changes++;
    return true;
  }

  stats(tenant?: string): IndexStats {
    this.#assertOpen();
    const tenants = tenant === undefined ? [...this.#tenants.values()] : [this.#tenants.get(tenant)];
    return sumStats(tenants.map((t) => t?.stats()));
  }

  async snapshot(): Promise<void> {
    this.#assertOpen();
    // Enqueued before the first await, so calls run in the order they were made.
    const run = this.#snapshotQueue.then(() => this.#snapshotNow());
    // The queue must go on after a failed snapshot; the caller still sees the failure.
    this.#snapshotQueue = run.catch(() => undefined);
    await run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#snapshotQueue;
    for (const tenant of this.#tenants.values()) tenant.close();
    this.#tenants.clear();
  }

  async drop(): Promise<void> {
    await this.close();
    const dir = this.#options.dir;
    // Every snapshot lives under the view's own directory: removing it removes them all.
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }

  /** Puts a loaded snapshot in place; called once, before the index is handed out. */
  restore(loaded: LoadedSnapshot): void {
    let maxKey = 0;
    for (const [name, state] of loaded.tenants) {
      const tenant = this.#tenantFor(name);
      tenant.restoreRecords(state.docs, state.tombstones);
      tenant.restoreGraph(state.graphPath);
      for (const doc of state.docs) for (const key of doc.keys) maxKey = Math.max(maxKey, key);
    }
    this.#appliedSeq = loaded.appliedSeq;
    // Never hand out a key the snapshot already uses, even if its counter were behind.
    this.#nextKey = Math.max(loaded.nextKey, maxKey + 1);
    this.#lastSnapshotMs = loaded.createdAtMs;
  }

  async #snapshotNow(): Promise<void> {
    const dir = this.#options.dir;
    if (dir === undefined || this.#changes === this.#changesSnapshotted) return;
    const changes = this.#changes;
    try {
      const frozen = freezeSnapshot(
        dir,
        {
          dimensions: this.dimensions,
          appliedSeq: this.#appliedSeq,
          nextKey: this.#nextKey,
          tenants: this.#tenants.values(),
        },
        this.#nextSnapshotMs(),
      );
      await writeSnapshot(frozen);
    } catch (err) {
      if (err instanceof MeshError) throw err;
      throw new MeshError(ErrorCode.Unavailable, `snapshot to ${dir} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#changesSnapshotted = changes;
  }

  /** Snapshot directory names carry a millisecond stamp that must never repeat. */
  #nextSnapshotMs(): number {
    this.#lastSnapshotMs = Math.max(Date.now(), this.#lastSnapshotMs + 1);
    return this.#lastSnapshotMs;
  }

  #tenantFor(name: string): TenantIndex {
    let tenant = this.#tenants.get(name);
    if (tenant === undefined) {
      tenant = new TenantIndex(name, this.#options);
      this.#tenants.set(name, tenant);
    }
    return tenant;
  }

  #allocateKeys(count: number): number[] {
    // 2^53 keys last 285 years at one chunk per microsecond; reaching it is a bug.
    if (this.#nextKey + count > Number.MAX_SAFE_INTEGER) throw new Error('usearch key space exhausted');
    const keys = Array.from({ length: count }, (_, i) => this.#nextKey + i);
    this.#nextKey += count;
    return keys;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MeshError(ErrorCode.Unavailable, 'the embedded index is closed');
  }
}
