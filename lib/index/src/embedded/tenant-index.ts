/**
 * @module tenant-index
 * One tenant's slice of a shard: its live documents, its tombstones and its own usearch HNSW
 * graph. Tenants never share a graph, so a search for one tenant cannot return, or even
 * visit, another tenant's vectors: isolation holds by construction, not by filtering.
 */
import { yieldIfSliceSpent } from '@memmesh/core';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { HnswOptions } from '../options.ts';
import type { IndexStats } from '../types.ts';
import { bestChunkScore, type DocRecord } from './doc-record.ts';

export interface HnswConfig {
  dimensions: number;
  hnsw: HnswOptions;
}

export interface ScoredDoc {
  record: DocRecord;
  /** Cosine similarity of the document's best chunk. */
  score: number;
}

export type DocPredicate = (record: DocRecord) => boolean;

/**
 * Rebuilding a graph adds vectors in batches of this many, so the temporary flat copy of a
 * large tenant stays bounded (4096 × 384 floats = 6 MiB).
 */
const REBUILD_BATCH_CHUNKS_MAX = 4096;

// Single-document writes and single queries are too small to pay for usearch's thread pool.
const THREADS_PER_CALL = 1;
/**
 * Adding a vector to the graph is synchronous work (about 0.3-1 ms at m 16, efConstruction
 * 128, on a busy core), so a 16 KiB memory's twenty chunks would hold the event loop for
 * ~20 ms: every search of every tenant waits behind it. A write gives the loop back between
 * vectors (core's yieldIfSliceSpent, one clock for every shard): one per call, so that a call
 * stays near the 1 ms slice on a busy core (four per call overran it to 4 ms, and every turn
 * of the loop that a quiet tenant's search needs paid that).
 */
const SLICE_ROWS = 1;

/**
 * HNSW does not promise that every node can be reached from the graph's entry point. Its
 * neighbour pruning keeps a link only when no neighbour already kept is closer to the
 * candidate, so a hub (a vector close to nearly every other) shadows the rest: a node
 * inserted next to it links to the hub alone, the hub's full link list prunes the node away
 * again, and nothing links to the node any more. No ef finds it. Measured on 514 template
 * sentences from the local embedder with one such hub: 62 nodes unreachable at 384
 * dimensions, 96 of 4,993 on a larger set of them; random vectors leave none.
 *
 * So the graph is audited: one search with k = the graph's size walks everything reachable
 * (about 1 µs a node: 4.6 ms for 5,000), and the chunks it did not reach are scanned exactly
 * beside every graph search. Chunks written since the last audit are scanned exactly too,
 * until the next audit, so a new document is found at once whatever the graph made of it.
 * An audit is due once the graph changed by a 1/AUDIT_CHANGE_DIVISOR share of its chunks,
 * which keeps its amortized cost at about 64 µs a change and that scan at most that share.
 * A node that an insert cuts off later stays unfound until that next audit.
 */
const AUDIT_CHANGE_DIVISOR = 64;
/**
 * An audit holds the event loop for about 1 µs per chunk; above this many (about 65 ms) it
 * is skipped, and such a tenant relies on the graph alone, as it did before audits.
 */
const AUDIT_CHUNKS_MAX = 65_536;

export class TenantIndex {
  readonly tenant: string;
  readonly docs = new Map<string, DocRecord>();
  readonly tombstones = new Map<string, number>();
  /**
   * The live documents that carry an expiry: what the sweeper looks through (not every
   * document), and whether searches must check expiry at all (not when it is empty).
   */
  readonly expiring = new Map<string, DocRecord>();
  /** Highest version applied to this tenant, 0 when none. */
  maxVersion = 0;
  /**
   * Live chunk vectors: the size of the HNSW graph, except while `putInSlices` is adding a
   * document's vectors, which are in the graph but not yet live.
   */
  chunkCount = 0;
  readonly #config: HnswConfig;
  readonly #byKey = new Map<number, DocRecord>();
  #indexedDocs = 0;
  #graph: Index | undefined;
  /** Live chunk keys the last audit could not reach from the graph's entry point. */
  readonly #unreachable = new Set<number>();
  /** Live chunk keys written since the last audit; searches scan them exactly meanwhile. */
  readonly #unaudited = new Set<number>();
  /** Graph additions and removals since the last audit. */
  #changesSinceAudit = 0;

  constructor(tenant: string, config: HnswConfig) {
    this.tenant = tenant;
    this.#config = config;
  }

  /** This tenant's share of the index's stats. */
  stats(): IndexStats {
    return {
      docs: this.docs.size,
      chunks: this.chunkCount,
      tombstones: this.tombstones.size,
      version: this.maxVersion,
    };
  }

  /** The version held for `id`, live or deleted; undefined when the id was never seen. */
  versionOf(id: string): number | undefined {
    return this.docs.get(id)?.version ?? this.tombstones.get(id);
  }

  put(record: DocRecord): void {
    const old = this.docs.get(record.id);
    if (old !== undefined) this.#unindex(old);
    this.tombstones.delete(record.id);
    this.docs.set(record.id, record);
    this.#trackExpiry(record);
    this.#index(record);
    this.maxVersion = Math.max(this.maxVersion, record.version);
  }

  /**
   * `put`, with the graph work spread over turns of the event loop. The new vectors go into
   * the graph first, a few at a time; they are invisible until the end (a search ignores keys
   * without a live record), where the old version leaves and the new one becomes live in one
   * synchronous step, so a search sees either version whole, never a mix. A newer version of
   * the document that became live meanwhile wins: this one is then dropped (false).
   */
  async putInSlices(record: DocRecord): Promise<boolean> {
    const graph = this.#ensureGraph();
    const dimensions = this.#config.dimensions;
    // A few vectors per call: one at a time costs a call each, all at once holds the loop.
    for (let row = 0; row < record.keys.length; row += SLICE_ROWS) {
      await yieldIfSliceSpent();
      // Closed meanwhile: the vectors went with the old graph, and the write is not applied.
      if (this.#graph !== graph) throw new Error(`tenant ${this.tenant}: the index closed during a write`);
      const end = Math.min(row + SLICE_ROWS, record.keys.length);
      const vectors = record.vectors.subarray(row * dimensions, end * dimensions);
      graph.add(toBigKeys(record.keys.slice(row, end)), vectors, THREADS_PER_CALL);
    }
    const held = this.versionOf(record.id);
    if (held !== undefined && held >= record.version) {
      if (record.keys.length > 0) graph.remove(toBigKeys(record.keys));
      this.#changesSinceAudit += record.keys.length;
      return false;
    }
    const old = this.docs.get(record.id);
    if (old !== undefined) this.#unindex(old);
    this.tombstones.delete(record.id);
    this.docs.set(record.id, record);
    this.#trackExpiry(record);
    this.#register(record);
    this.maxVersion = Math.max(this.maxVersion, record.version);
    return true;
  }

  tombstone(id: string, version: number): void {
    const old = this.docs.get(id);
    if (old !== undefined) this.#unindex(old);
    this.docs.delete(id);
    this.expiring.delete(id);
    this.tombstones.set(id, version);
    this.maxVersion = Math.max(this.maxVersion, version);
  }

  /**
   * Up to `candidates` nearest chunks from the HNSW graph, folded into documents: best first,
   * one entry per document (its best chunk), rejected documents dropped.
   */
  approximate(query: Float32Array, candidates: number, accept: DocPredicate | undefined): ScoredDoc[] {
    // usearch must be asked for at least one and at most `size` neighbours.
    const k = Math.min(candidates, this.chunkCount);
    if (this.#graph === undefined || k <= 0) return [];
    this.#auditIfDue(this.#graph);
    const matches = this.#graph.search(query, k, THREADS_PER_CALL);
    const seen = new Set<string>();
    const hits: ScoredDoc[] = [];
    for (let i = 0; i < matches.keys.length; i++) {
      const record = this.#byKey.get(Number(matches.keys[i]));
      if (record === undefined || seen.has(record.id)) continue;
      seen.add(record.id);
      if (accept !== undefined && !accept(record)) continue;
      hits.push({ record, score: 1 - (matches.distances[i] as number) });
    }
    if (this.#unreachable.size + this.#unaudited.size === 0) return hits;
    return this.#withUnreachable(query, hits, accept);
  }

  /** Brute force over the given documents' stored vectors: exact, never misses one. */
  exact(query: Float32Array, topK: number, records: Iterable<DocRecord>): ScoredDoc[] {
    const scored: ScoredDoc[] = [];
    for (const record of records) {
      if (record.keys.length === 0) continue;
      scored.push({ record, score: bestChunkScore(query, record.vectors, this.#config.dimensions) });
    }
    return scored.sort((a, b) => b.score - a.score).slice(0, topK);
  }

  /** The searchable documents (those with chunks) that the predicate accepts. */
  collect(accept: DocPredicate): DocRecord[] {
    const matching: DocRecord[] = [];
    for (const record of this.docs.values()) {
      if (record.keys.length > 0 && accept(record)) matching.push(record);
    }
    return matching;
  }

  /** Live documents with at least one chunk, the ones a search can return. */
  get indexedDocs(): number {
    return this.#indexedDocs;
  }

  /** Writes the HNSW graph to `path`; false when there is no graph worth saving. */
  saveGraph(path: string): boolean {
    if (this.#graph === undefined || this.chunkCount === 0) return false;
    this.#graph.save(path);
    return true;
  }

  /**
   * Loads the graph saved beside a snapshot, after the records were put back with
   * `restoreRecords`. The graph is only an accelerator derived from the stored vectors, so
   * a missing or inconsistent file is rebuilt from them instead of failing the start.
   */
  restoreGraph(path: string | undefined): void {
    if (this.chunkCount === 0) return;
    if (path !== undefined && this.#tryLoadGraph(path)) return;
    this.#rebuildGraph();
  }

  /** Puts records and tombstones back without touching the graph (see `restoreGraph`). */
  restoreRecords(records: Iterable<DocRecord>, tombstones: Iterable<[string, number]>): void {
    for (const record of records) {
      this.docs.set(record.id, record);
      this.#trackExpiry(record);
      for (const key of record.keys) {
        this.#byKey.set(key, record);
        this.#unaudited.add(key);
      }
      this.chunkCount += record.keys.length;
      this.#changesSinceAudit += record.keys.length;
      if (record.keys.length > 0) this.#indexedDocs++;
      this.maxVersion = Math.max(this.maxVersion, record.version);
    }
    for (const [id, version] of tombstones) {
      this.tombstones.set(id, version);
      this.maxVersion = Math.max(this.maxVersion, version);
    }
  }

  close(): void {
    // The binding frees native memory when the Index is collected; dropping it is enough.
    this.#graph = undefined;
  }

  #trackExpiry(record: DocRecord): void {
    if (record.expiresAtMs === undefined) this.expiring.delete(record.id);
    else this.expiring.set(record.id, record);
  }

  /** Audits the graph when it changed enough since the last audit (see AUDIT_CHANGE_DIVISOR). */
  #auditIfDue(graph: Index): void {
    if (this.chunkCount > AUDIT_CHUNKS_MAX) {
      // Too large to audit: the graph alone answers, and nothing is scanned beside it.
      this.#unreachable.clear();
      this.#unaudited.clear();
      this.#changesSinceAudit = 0;
      return;
    }
    if (this.#changesSinceAudit === 0) return;
    if (this.#changesSinceAudit * AUDIT_CHANGE_DIVISOR < this.chunkCount) return;
    const [anyKey] = this.#byKey.keys();
    if (anyKey === undefined) return;
    const from = this.#byKey.get(anyKey) as DocRecord;
    const row = from.keys.indexOf(anyKey);
    const dimensions = this.#config.dimensions;
    const query = from.vectors.subarray(row * dimensions, (row + 1) * dimensions);
    // With k at the graph's size the candidate list never fills, so the search expands every
    // node it can reach: what it does not return, no search can.
    const reached = new Set<number>();
    for (const key of graph.search(query, graph.size(), THREADS_PER_CALL).keys) reached.add(Number(key));
    this.#unreachable.clear();
    for (const key of this.#byKey.keys()) if (!reached.has(key)) this.#unreachable.add(key);
    this.#unaudited.clear();
    this.#changesSinceAudit = 0;
  }

  /** The graph's hits merged with an exact scan of the chunks it may not reach, best first. */
  #withUnreachable(query: Float32Array, hits: ScoredDoc[], accept: DocPredicate | undefined): ScoredDoc[] {
    const byId = new Map(hits.map((hit) => [hit.record.id, hit]));
    const scanned = new Set<DocRecord>();
    for (const keys of [this.#unreachable, this.#unaudited]) {
      for (const key of keys) {
        const record = this.#byKey.get(key) as DocRecord;
        if (scanned.has(record)) continue;
        scanned.add(record);
        if (accept !== undefined && !accept(record)) continue;
        // The record's best chunk, which may be an unreached one the graph's score missed.
        const score = bestChunkScore(query, record.vectors, this.#config.dimensions);
        const hit = byId.get(record.id);
        if (hit === undefined) byId.set(record.id, { record, score });
        else hit.score = Math.max(hit.score, score);
      }
    }
    return [...byId.values()].sort((a, b) => b.score - a.score);
  }

  #index(record: DocRecord): void {
    if (record.keys.length === 0) return;
    this.#ensureGraph().add(toBigKeys(record.keys), record.vectors, THREADS_PER_CALL);
    this.#register(record);
  }

  /** Makes a record whose vectors are in the graph live. */
  #register(record: DocRecord): void {
    if (record.keys.length === 0) return;
    for (const key of record.keys) {
      this.#byKey.set(key, record);
      this.#unaudited.add(key);
    }
    this.chunkCount += record.keys.length;
    this.#changesSinceAudit += record.keys.length;
    this.#indexedDocs++;
  }

  #unindex(record: DocRecord): void {
    if (record.keys.length === 0) return;
    this.#graph?.remove(toBigKeys(record.keys));
    for (const key of record.keys) {
      this.#byKey.delete(key);
      this.#unreachable.delete(key);
      this.#unaudited.delete(key);
    }
    this.chunkCount -= record.keys.length;
    // A removal can cut off the nodes that were reached only through the removed ones.
    this.#changesSinceAudit += record.keys.length;
    this.#indexedDocs--;
  }

  #ensureGraph(): Index {
    this.#graph ??= this.#newGraph();
    return this.#graph;
  }

  #newGraph(): Index {
    return new Index({
      dimensions: this.#config.dimensions,
      metric: MetricKind.Cos,
      connectivity: this.#config.hnsw.m,
      expansion_add: this.#config.hnsw.efConstruction,
      expansion_search: this.#config.hnsw.efSearch,
      quantization: ScalarKind.F32,
      multi: false,
    });
  }

  #tryLoadGraph(path: string): boolean {
    const graph = this.#newGraph();
    try {
      graph.load(path);
    } catch {
      return false;
    }
    if (graph.size() !== this.chunkCount) return false;
    const present = graph.contains(toBigKeys([...this.#byKey.keys()]));
    if (Array.isArray(present) ? present.includes(false) : !present) return false;
    this.#graph = graph;
    return true;
  }

  #rebuildGraph(): void {
    const graph = this.#newGraph();
    const dimensions = this.#config.dimensions;
    let keys: number[] = [];
    // usearch copies what it is given, so one batch buffer serves every round.
    const batch = new Float32Array(REBUILD_BATCH_CHUNKS_MAX * dimensions);
    const flush = (): void => {
      if (keys.length === 0) return;
      // Threads help here: a rebuild is one large batch, unlike a single document's write.
      graph.add(toBigKeys(keys), batch.subarray(0, keys.length * dimensions), 0);
      keys = [];
    };
    for (const record of this.docs.values()) {
      record.keys.forEach((key, row) => {
        if (keys.length === REBUILD_BATCH_CHUNKS_MAX) flush();
        batch.set(
          record.vectors.subarray(row * dimensions, (row + 1) * dimensions),
          keys.length * dimensions,
        );
        keys.push(key);
      });
    }
    flush();
    this.#graph = graph;
  }
}

function toBigKeys(keys: readonly number[]): BigUint64Array {
  const big = new BigUint64Array(keys.length);
  for (let i = 0; i < keys.length; i++) big[i] = BigInt(keys[i] as number);
  return big;
}
