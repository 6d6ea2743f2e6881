/**
 * @module embed-queue
 * A bounded, fair queue in front of an embedder that several tenants share. Without it, the
 * embedder served calls in arrival order and each call whole: one tenant's batch of thousands
 * of characters held it for seconds while another tenant's one-line query waited behind it.
 *
 * - Work is split into pieces of at most `pieceCharsMax` characters (and the embedder's
 *   batch size), so that no one call holds the embedder long.
 * - Queries (a search's text) go ahead of bulk work (writes), shared across tenants by
 *   characters (fair queuing: the query whose tenant has been served the fewest characters
 *   lately goes first, so one tenant's long queries do not make another's short ones wait
 *   their turn); after `queryStreakMax` query pieces in a row one bulk piece goes, so writes
 *   are never starved.
 * - Bulk pieces are shared by deficit round robin over characters: each tenant with work
 *   gets the same characters per round, however many requests it has queued.
 * - With more than one call at a time, one slot is kept for queries.
 * - The queue is bounded in characters, as a whole and per tenant: over its own share a
 *   tenant gets `rate_limited` (its own backlog is the cause), and a full queue is
 *   `unavailable`, both with a Retry-After estimated from the throughput seen so far. Bulk
 *   work may fill seven eighths of the queue; the rest is kept for queries.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { Embedder } from './types.ts';

/** A search's query text, or bulk work (the chunks of writes). */
export type EmbedClass = 'query' | 'bulk';

export interface EmbedQueueOptions {
  /** Characters of one call to the embedder at most (a longer single text is its own call). */
  pieceCharsMax?: number;
  /** Calls to the embedder at once. */
  concurrency?: number;
  /** Characters queued or being embedded, all tenants together. */
  pendingCharsMax?: number;
  /** Characters queued or being embedded for one tenant. */
  tenantPendingCharsMax?: number;
  /** Query pieces served in a row while bulk work waits. */
  queryStreakMax?: number;
}

export const DEFAULT_EMBED_QUEUE_OPTIONS: Readonly<Required<EmbedQueueOptions>> = {
  pieceCharsMax: 8_192,
  concurrency: 1,
  pendingCharsMax: 16_000_000,
  tenantPendingCharsMax: 4_000_000,
  queryStreakMax: 8,
};

export interface EmbedQueue {
  readonly modelId: string;
  readonly dimensions: number;
  /** Characters queued or being embedded now. */
  readonly pendingChars: number;
  /** Unit vectors, one per text, in order; refused at once when the queue has no room. */
  embed(tenant: string, texts: readonly string[], kind: EmbedClass): Promise<Float32Array[]>;
  /** Refuses queued work (`unavailable`); calls already running finish. */
  close(): void;
}

/** Bounds of the Retry-After estimate: soon enough to matter, never a promise of hours. */
const RETRY_AFTER_MS_MIN = 100;
const RETRY_AFTER_MS_MAX = 60_000;
/** Throughput assumed before anything was measured, in characters per millisecond. */
const INITIAL_CHARS_PER_MS = 100;
/** Weight of the newest measurement in the moving average of throughput. */
const THROUGHPUT_WEIGHT = 0.2;

export function createEmbedQueue(embedder: Embedder, options: EmbedQueueOptions = {}): EmbedQueue {
  const resolved = { ...DEFAULT_EMBED_QUEUE_OPTIONS, ...options };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new MeshError(ErrorCode.Config, `embed queue: ${name} must be a positive integer, got ${value}`);
    }
  }
  return new FairEmbedQueue(embedder, resolved);
}

interface Job {
  readonly vectors: Float32Array[];
  remaining: number;
  failed: boolean;
  resolve(vectors: Float32Array[]): void;
  reject(err: unknown): void;
}

interface Piece {
  readonly job: Job;
  readonly lane: Lane;
  readonly texts: readonly string[];
  /** Index of the piece's first text in its job. */
  readonly at: number;
  readonly chars: number;
  readonly kind: EmbedClass;
  /** A query's virtual finish time in the fair queuing of queries (0 for bulk). */
  tag: number;
}

/** One tenant's pending work. */
interface Lane {
  readonly tenant: string;
  readonly queries: Piece[];
  readonly bulk: Piece[];
  /** Characters the tenant may still send in this round of the bulk rotation. */
  deficit: number;
  /** Virtual finish time of the tenant's last query piece. */
  queryTag: number;
  pendingChars: number;
}

class FairEmbedQueue implements EmbedQueue {
  readonly #embedder: Embedder;
  readonly #options: Required<EmbedQueueOptions>;
  readonly #lanes = new Map<string, Lane>();
  /** Tenants with queries waiting, in turn. */
  readonly #queryRing: Lane[] = [];
  /** Tenants with bulk work waiting, in turn. */
  readonly #bulkRing: Lane[] = [];
  #pendingChars = 0;
  #running = 0;
  #runningBulk = 0;
  #queryStreak = 0;
  /** The virtual time of query fair queuing: the tag of the last query piece started. */
  #queryClock = 0;
  #charsPerMs = INITIAL_CHARS_PER_MS;
  #scheduled = false;
  #closed = false;

  constructor(embedder: Embedder, options: Required<EmbedQueueOptions>) {
    this.#embedder = embedder;
    this.#options = options;
  }

  get modelId(): string {
    return this.#embedder.modelId;
  }

  get dimensions(): number {
    return this.#embedder.dimensions;
  }

  get pendingChars(): number {
    return this.#pendingChars;
  }

  embed(tenant: string, texts: readonly string[], kind: EmbedClass): Promise<Float32Array[]> {
    if (texts.length === 0) return Promise.resolve([]);
    const chars = texts.reduce((sum, text) => sum + text.length, 0);
    const lane = this.#lanes.get(tenant) ?? this.#newLane(tenant);
    try {
      this.#admit(lane, chars, kind);
    } catch (err) {
      this.#dropIfIdle(lane);
      return Promise.reject(err);
    }
    return new Promise<Float32Array[]>((resolve, reject) => {
      const job: Job = { vectors: new Array(texts.length), remaining: 0, failed: false, resolve, reject };
      const pieces = this.#split(job, lane, texts, kind);
      if (kind === 'query') {
        // A tenant back after a pause starts from now, not from credit saved while away.
        for (const piece of pieces) {
          piece.tag = Math.max(this.#queryClock, lane.queryTag) + piece.chars;
          lane.queryTag = piece.tag;
        }
      }
      job.remaining = pieces.length;
      const queue = kind === 'query' ? lane.queries : lane.bulk;
      const ring = kind === 'query' ? this.#queryRing : this.#bulkRing;
      if (queue.length === 0) {
        // A tenant that finds the bulk rotation empty starts its turn at once.
        if (kind === 'bulk' && ring.length === 0) lane.deficit = this.#options.pieceCharsMax;
        ring.push(lane);
      }
      queue.push(...pieces);
      lane.pendingChars += chars;
      this.#pendingChars += chars;
      // An idle embedder starts at once: a turn of the event loop first would only add latency
      // to every search on a quiet agent. Busy, the next piece waits for its turn as below.
      if (this.#running === 0 && !this.#scheduled) this.#pump();
      else this.#schedule();
    });
  }

  close(): void {
    this.#closed = true;
    const closed = new MeshError(ErrorCode.Unavailable, 'the embedder is shutting down', {
      retryAfterMs: RETRY_AFTER_MS_MAX,
    });
    for (const lane of [...this.#lanes.values()]) {
      const queued = lane.queries.splice(0).concat(lane.bulk.splice(0));
      for (const piece of queued) {
        this.#fail(piece.job, closed);
        this.#release(piece);
      }
    }
    this.#queryRing.length = 0;
    this.#bulkRing.length = 0;
  }

  #newLane(tenant: string): Lane {
    const lane: Lane = { tenant, queries: [], bulk: [], deficit: 0, queryTag: 0, pendingChars: 0 };
    this.#lanes.set(tenant, lane);
    return lane;
  }

  /** Throws when the work cannot be queued: too large ever, over the tenant's share, queue full. */
  #admit(lane: Lane, chars: number, kind: EmbedClass): void {
    const { pendingCharsMax, tenantPendingCharsMax } = this.#options;
    if (this.#closed) throw new MeshError(ErrorCode.Unavailable, 'the embedder is shutting down');
    if (chars > tenantPendingCharsMax) {
      throw new MeshError(
        ErrorCode.PayloadTooLarge,
        `this request has ${chars} characters to embed, more than the ${tenantPendingCharsMax} a tenant may queue; split it into smaller requests`,
      );
    }
    if (lane.pendingChars + chars > tenantPendingCharsMax) {
      throw new MeshError(
        ErrorCode.RateLimited,
        `tenant ${lane.tenant} has ${lane.pendingChars} characters waiting for the embedder; at most ${tenantPendingCharsMax} may wait`,
        { retryAfterMs: this.#drainMs(lane.pendingChars + chars - tenantPendingCharsMax) },
      );
    }
    // Bulk work may fill seven eighths of the queue: the rest is kept for queries.
    const room = kind === 'query' ? pendingCharsMax : pendingCharsMax - Math.floor(pendingCharsMax / 8);
    if (this.#pendingChars + chars > room) {
      throw new MeshError(
        ErrorCode.Unavailable,
        `the embedder's queue is full (${this.#pendingChars} characters waiting)`,
        { retryAfterMs: this.#drainMs(this.#pendingChars + chars - room) },
      );
    }
  }

  /** The estimated time until `chars` more characters have been embedded. */
  #drainMs(chars: number): number {
    const ms = chars / (this.#charsPerMs * this.#options.concurrency);
    return Math.round(Math.min(RETRY_AFTER_MS_MAX, Math.max(RETRY_AFTER_MS_MIN, ms)));
  }

  /** Consecutive texts, at most pieceCharsMax characters and batchSizeMax texts per piece. */
  #split(job: Job, lane: Lane, texts: readonly string[], kind: EmbedClass): Piece[] {
    const { pieceCharsMax } = this.#options;
    const textsMax = this.#embedder.batchSizeMax;
    const pieces: Piece[] = [];
    let start = 0;
    let chars = 0;
    for (let i = 0; i < texts.length; i++) {
      const length = (texts[i] as string).length;
      const full = i - start >= textsMax || (i > start && chars + length > pieceCharsMax);
      if (full) {
        pieces.push({ job, lane, texts: texts.slice(start, i), at: start, chars, kind, tag: 0 });
        start = i;
        chars = 0;
      }
      chars += length;
    }
    pieces.push({ job, lane, texts: texts.slice(start), at: start, chars, kind, tag: 0 });
    return pieces;
  }

  /**
   * The next piece is started on a later turn of the event loop, never in the same one:
   * with an embedder that computes synchronously (the local one), a chain of pieces started
   * from promise callbacks would never let the server read the next request, and a query
   * arriving meanwhile could not get ahead of the queued bulk work.
   */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const { concurrency } = this.#options;
    // Bounded: every round starts a piece or stops, and a slot holds one piece.
    while (this.#running < concurrency) {
      // With several slots, bulk work leaves one of them to queries.
      const bulkAllowed = concurrency === 1 || this.#runningBulk < concurrency - 1;
      const piece = this.#next(bulkAllowed);
      if (!piece) return;
      this.#start(piece);
    }
  }

  #next(bulkAllowed: boolean): Piece | undefined {
    const bulkWaiting = bulkAllowed && this.#bulkRing.length > 0;
    const queryTurn =
      this.#queryRing.length > 0 && !(bulkWaiting && this.#queryStreak >= this.#options.queryStreakMax);
    if (queryTurn) {
      this.#queryStreak = bulkWaiting ? this.#queryStreak + 1 : 0;
      return this.#nextQuery();
    }
    if (!bulkWaiting) return undefined;
    this.#queryStreak = 0;
    return this.#nextBulk();
  }

  /** The waiting query with the earliest virtual finish time; ties go to the tenant first in line. */
  #nextQuery(): Piece {
    const ring = this.#queryRing;
    let best = 0;
    for (let i = 1; i < ring.length; i++) {
      if ((ring[i] as Lane).queries[0]!.tag < (ring[best] as Lane).queries[0]!.tag) best = i;
    }
    const lane = ring[best] as Lane;
    ring.splice(best, 1);
    const piece = lane.queries.shift() as Piece;
    this.#queryClock = Math.max(this.#queryClock, piece.tag - piece.chars);
    if (lane.queries.length > 0) ring.push(lane);
    return piece;
  }

  /**
   * Deficit round robin: the tenant whose turn it is sends while its deficit covers its next
   * piece; then it goes to the back, and the next tenant's turn starts with a quantum more.
   */
  #nextBulk(): Piece {
    const ring = this.#bulkRing;
    const quantum = this.#options.pieceCharsMax;
    const largest = Math.max(...ring.map((lane) => (lane.bulk[0] as Piece).chars));
    // Bounded: each full turn of the ring adds a quantum to every deficit.
    const visitsMax = ring.length * (Math.ceil(largest / quantum) + 1);
    for (let visit = 0; visit < visitsMax; visit++) {
      const lane = ring[0] as Lane;
      const head = lane.bulk[0] as Piece;
      if (lane.deficit >= head.chars) {
        lane.deficit -= head.chars;
        lane.bulk.shift();
        if (lane.bulk.length === 0) {
          lane.deficit = 0;
          ring.shift();
          if (ring[0]) ring[0].deficit += quantum;
        }
        return head;
      }
      ring.push(ring.shift() as Lane);
      (ring[0] as Lane).deficit += quantum;
    }
    throw new Error('embed queue: deficit round robin found no piece (a bug)');
  }

  #start(piece: Piece): void {
    this.#running++;
    if (piece.kind === 'bulk') this.#runningBulk++;
    const started = performance.now();
    const done = () => {
      this.#running--;
      if (piece.kind === 'bulk') this.#runningBulk--;
      this.#release(piece);
      this.#schedule();
    };
    // A piece of a job that already failed is dropped unsent.
    const work = piece.job.failed ? Promise.resolve(undefined) : this.#call(piece.texts);
    work.then(
      (vectors) => {
        if (vectors) this.#deliver(piece, vectors, performance.now() - started);
        done();
      },
      (err: unknown) => {
        this.#fail(piece.job, err);
        done();
      },
    );
  }

  /** The embedder's answer, a synchronous throw included. */
  #call(texts: readonly string[]): Promise<Float32Array[]> {
    try {
      return this.#embedder.embed(texts);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #deliver(piece: Piece, vectors: Float32Array[], elapsedMs: number): void {
    const measured = piece.chars / Math.max(elapsedMs, 0.01);
    this.#charsPerMs = (1 - THROUGHPUT_WEIGHT) * this.#charsPerMs + THROUGHPUT_WEIGHT * measured;
    const { job } = piece;
    for (let i = 0; i < vectors.length; i++) job.vectors[piece.at + i] = vectors[i] as Float32Array;
    job.remaining--;
    if (job.remaining === 0 && !job.failed) job.resolve(job.vectors);
  }

  #fail(job: Job, err: unknown): void {
    if (job.failed) return;
    job.failed = true;
    job.reject(err);
  }

  #release(piece: Piece): void {
    const { lane } = piece;
    lane.pendingChars -= piece.chars;
    this.#pendingChars -= piece.chars;
    this.#dropIfIdle(lane);
  }

  /** A tenant with nothing queued or running needs no lane (the map stays as small as the work). */
  #dropIfIdle(lane: Lane): void {
    const idle = lane.pendingChars === 0 && lane.queries.length === 0 && lane.bulk.length === 0;
    if (idle && this.#lanes.get(lane.tenant) === lane) this.#lanes.delete(lane.tenant);
  }
}
