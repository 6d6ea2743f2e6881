/**
 * @module types
 * The `VectorIndex` interface: the materialised view of one shard of a region's log, for
 * all tenants of that shard. Every implementation (embedded usearch, Milvus) passes the
 * same conformance suite.
 *
 * Versions are JetStream stream sequences. Applying is idempotent: an upsert or delete
 * whose version is not newer than what the index holds for that document changes nothing,
 * so redelivered, replayed or reordered events are harmless.
 *
 * Expiry: a document version may carry `expiresAtMs`. From that instant it is gone for
 * every read (`get`, `search`, `list` check it at read time, before topK or limit, so an
 * expired document never takes a result's place), and `expiring` and `expire` let the
 * agent's sweeper remove it for good (from the log first, then from the view).
 */
import type { Filter, Metadata, Scope } from '@memmesh/core';

export interface ChunkVector {
  /** UTF-16 offsets of the chunk in the document text. */
  start: number;
  end: number;
  vector: Float32Array;
}

export interface UpsertDoc {
  tenant: string;
  id: string;
  /** Stream sequence of the event that carries this document version. */
  version: number;
  text: string;
  metadata: Metadata;
  scope: Scope;
  chunks: ChunkVector[];
  /** When this version expires, ms since the epoch; undefined: never. */
  expiresAtMs?: number | undefined;
}

export interface IndexedDoc {
  tenant: string;
  id: string;
  version: number;
  text: string;
  metadata: Metadata;
  scope: Scope;
  chunkCount: number;
  expiresAtMs?: number | undefined;
}

/** One page of a tenant's documents, newest (highest version) first. */
export interface ListQuery {
  tenant: string;
  /** Documents in the page, at most; 1 to LIST_LIMIT_MAX. */
  limit: number;
  /** Only versions strictly below this one (the cursor); undefined: from the newest. */
  beforeVersion?: number | undefined;
  filter?: Filter | undefined;
}

/** A document version whose expiry has passed, for the sweeper. */
export interface ExpiredDoc {
  tenant: string;
  id: string;
  version: number;
}

export interface VectorQuery {
  tenant: string;
  vector: Float32Array;
  topK: number;
  filter?: Filter | undefined;
}

/** A document-level hit: the best-scoring chunk decides the document's score. */
export interface VectorHit {
  id: string;
  /** Cosine similarity in [-1, 1]; higher is closer. */
  score: number;
  version: number;
  text: string;
  metadata: Metadata;
  scope: Scope;
  expiresAtMs?: number | undefined;
}

export interface IndexStats {
  docs: number;
  chunks: number;
  tombstones: number;
  /** Highest version applied for the tenant (or for all tenants), 0 when none. */
  version: number;
}

export interface VectorIndex {
  readonly dimensions: number;
  /**
   * Stream sequence up to which every event of the shard has been applied (0 = none).
   * Persisted together with the state, so a restart resumes at appliedSeq + 1.
   */
  readonly appliedSeq: number;
  /** Applies a document version; false when the index already holds this or a newer one. */
  upsert(doc: UpsertDoc): Promise<boolean>;
  /** Applies a tombstone at `version`; false when the index already holds this or a newer one. */
  delete(tenant: string, id: string, version: number): Promise<boolean>;
  /** Records that every event up to `seq` has been applied (including ones that changed nothing). */
  markApplied(seq: number): void;
  get(tenant: string, id: string): Promise<IndexedDoc | undefined>;
  search(query: VectorQuery): Promise<VectorHit[]>;
  /** The tenant's live, unexpired documents matching the filter, newest first, at most `limit`. */
  list(query: ListQuery): Promise<IndexedDoc[]>;
  /** Up to `docsMax` documents (of any tenant) whose expiry is at or before `nowMs`. */
  expiring(nowMs: number, docsMax: number): Promise<ExpiredDoc[]>;
  /**
   * Removes an expired document: a tombstone at its own version, so that replaying the
   * expired event changes nothing. False (and nothing changes) unless the index holds exactly
   * this version and it has expired.
   */
  expire(tenant: string, id: string, version: number): Promise<boolean>;
  stats(tenant?: string): IndexStats;
  /** Persists state and appliedSeq atomically; a no-op for indexes that persist on every write. */
  snapshot(): Promise<void>;
  close(): Promise<void>;
  /**
   * Closes the view and removes everything it stored (snapshot files; Milvus rows, and the
   * collection once no view uses it): for a view that is no longer wanted, such as the old
   * model's after a re-index or an aborted re-index's new one.
   */
  drop(): Promise<void>;
}
