/**
 * @module runner
 * Re-indexing a region to another embedding model (DESIGN §10), as a blue/green view:
 *
 * 1. The admin API writes a job (jobs.ts). One agent of the region takes it with a lease
 *    (a conditional write with expiry; a dead runner's lease runs out and another agent, or
 *    the restarted one, takes over) and publishes the region's model state with the target.
 *    From then on every agent hosts views of the target beside the serving ones, and every
 *    write carries both models' vectors, so the new view never falls behind live traffic.
 * 2. The runner walks the newest event of every live document and embeds, once, those the
 *    target's view lacks, publishing the vectors as re-embedding events of their own
 *    (message id from document, version and model). Every agent and every replica region
 *    builds its view from those events; no one embeds them again. A document updated or
 *    deleted meanwhile is superseded by version, never brought back. A resumed runner finds
 *    what its view already holds and embeds only the rest (at most a batch twice).
 * 3. Once a pass finds nothing missing the view is `ready`; the runner publishes the state
 *    with the target active and the old model kept as `previous` for the rollback window.
 *    Each agent switches its queries once its own view of the target is verified complete,
 *    and after the window the old views are dropped.
 */
import { encodeEvent, type Publisher } from '@memmesh/bus';
import {
  backoffDelayMs,
  docKeyOf,
  type EmbedderSpec,
  type EmbeddingEvent,
  ErrorCode,
  embeddingSubject,
  encodeVector,
  isMeshError,
  MeshError,
  type ModelState,
  modelKeyOf,
  modelRefOf,
  modelStateSubject,
  type ReindexJob,
  ReindexRequestSchema,
  reindexRegionOf,
  sameSpec,
  sha256Hex,
  sleep,
} from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import type { Logger } from '@memmesh/telemetry';
import type { RegionModels } from '../ops/models.ts';
import type { MissingDoc, MissingSince, Views } from '../shards/views.ts';
import { isRunning, type JobRow, newJob, readJob, type StoredJob, writeJob } from './jobs.ts';

export interface ReindexOptions {
  region: string;
  agentId: string;
  routing: RoutingTable;
  views: Views;
  models: RegionModels;
  publisher: Publisher;
  logger: Logger;
  /** Why this agent cannot embed with a model (re-index targets are refused with it). */
  cannotEmbed: (spec: EmbedderSpec) => string | undefined;
  /** How long a runner's lease lasts without renewal. */
  leaseMs: number;
  /** How long after the switch the old model stays searchable for a rollback. */
  rollbackMs: number;
  /** Chunks embedded per embedder call of the walk. */
  batchChunksMax: number;
  /** Told of every progress write, for the metrics. */
  onProgress?: (job: ReindexJob) => void;
  /** Told of every failed embedder call. */
  onEmbedError?: () => void;
}

export interface Reindexer {
  request(body: unknown): Promise<ReindexJob>;
  get(id: string): Promise<ReindexJob>;
  abort(id: string): Promise<ReindexJob>;
  rollback(id: string): Promise<ReindexJob>;
  /** Takes a job that needs a runner, or drops an old model whose window has passed. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

/** Passes of the walk before a job that keeps finding documents missing is given up. */
const PASSES_MAX = 20;
/** Runs of one job that may end in a transient failure (retryable) on one agent before it fails. */
const TRANSIENT_FAILURES_MAX = 20;
/** Non-retryable embedder failures of one batch before the job fails. */
const EMBED_FAILURES_MAX = 5;
const EMBED_RETRY = {
  attemptsMax: Number.POSITIVE_INFINITY,
  initialDelayMs: 200,
  delayMsMax: 15_000,
  multiplier: 2,
};
/** How often the runner logs a progress line. */
const PROGRESS_LOG_MS = 5_000;
/** Attempts of an admin change racing the runner's progress writes. */
const CHANGE_ATTEMPTS_MAX = 8;

/** The runner lost its job (aborted, rolled back, or taken over): it stops where it is. */
class JobLost extends Error {}

export function createReindexer(options: ReindexOptions): Reindexer {
  return new RegionReindexer(options);
}

class RegionReindexer implements Reindexer {
  readonly #o: ReindexOptions;
  #running: Promise<void> | undefined;
  #closed = false;
  /** Transient failures of each job's run on this agent so far (TRANSIENT_FAILURES_MAX). */
  readonly #transientFailures = new Map<string, number>();

  constructor(options: ReindexOptions) {
    this.#o = options;
  }

  async request(body: unknown): Promise<ReindexJob> {
    const parsed = ReindexRequestSchema.safeParse(body);
    if (!parsed.success) {
      throw new MeshError(ErrorCode.BadRequest, 'bad re-index request', {
        details: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    const { region, embedder: to } = parsed.data;
    if (region !== this.#o.region) {
      throw new MeshError(ErrorCode.WrongRegion, `this agent serves region ${this.#o.region}, not ${region}`);
    }
    const reason = this.#o.cannotEmbed(to);
    if (reason)
      throw new MeshError(
        ErrorCode.BadRequest,
        `region ${region} cannot embed with ${to.kind} ${to.model}: ${reason}`,
      );
    for (let attempt = 1; attempt <= CHANGE_ATTEMPTS_MAX; attempt++) {
      const row = await readJob(this.#o.routing, region);
      if (row && isRunning(row.stored)) {
        if (sameSpec(row.stored.job.to, to)) return row.stored.job;
        throw new MeshError(
          ErrorCode.Conflict,
          `re-index ${row.stored.job.id} to ${row.stored.job.to.model} is ${row.stored.job.state}: abort it first`,
        );
      }
      const from = this.#o.models.servingSpec(region);
      if (sameSpec(from, to)) {
        // Done already: the same request again answers the job that did it.
        if (row && row.stored.job.state === 'active' && sameSpec(row.stored.job.to, to))
          return row.stored.job;
        throw new MeshError(ErrorCode.BadRequest, `region ${region} already serves ${to.kind} ${to.model}`);
      }
      const created = await writeJob(this.#o.routing, region, newJob(region, from, to), row?.version ?? 0);
      if (created) {
        this.#o.logger.info('re-index requested', { job: created.stored.job.id, from, to });
        this.#o.onProgress?.(created.stored.job);
        return created.stored.job;
      }
    }
    throw new MeshError(ErrorCode.Unavailable, 're-index request raced other changes; try again', {
      retryAfterMs: 500,
    });
  }

  async get(id: string): Promise<ReindexJob> {
    return (await this.#rowOf(id)).stored.job;
  }

  abort(id: string): Promise<ReindexJob> {
    return this.#change(id, 'abort', (stored) => {
      const { state } = stored.job;
      if (state !== 'requested' && state !== 'building' && state !== 'ready') {
        throw new MeshError(
          ErrorCode.Conflict,
          `re-index ${id} is ${state}: only a job still building can be aborted`,
        );
      }
    });
  }

  rollback(id: string): Promise<ReindexJob> {
    return this.#change(id, 'rollback', (stored) => {
      if (stored.job.state !== 'active' || stored.dropped) {
        throw new MeshError(
          ErrorCode.Conflict,
          `re-index ${id} is ${stored.dropped ? 'past its rollback window' : stored.job.state}: only an active job inside its window can be rolled back`,
        );
      }
    });
  }

  /** Abort and rollback: the region's state goes back to the old model, then the job says so. */
  async #change(id: string, what: string, check: (stored: StoredJob) => void): Promise<ReindexJob> {
    for (let attempt = 1; attempt <= CHANGE_ATTEMPTS_MAX; attempt++) {
      const row = await this.#rowOf(id);
      check(row.stored);
      const { job } = row.stored;
      // The log first: once it says the old model, every agent serves it and drops the new views.
      await this.#publishState(job.id, what, { active: job.from });
      const changed = await writeJob(
        this.#o.routing,
        this.#o.region,
        { ...row.stored, job: { ...job, state: 'aborted' }, lease: undefined },
        row.version,
      );
      if (changed) {
        this.#o.logger.info(`re-index ${what === 'abort' ? 'aborted' : 'rolled back'}`, { job: id });
        this.#o.onProgress?.(changed.stored.job);
        return changed.stored.job;
      }
    }
    throw new MeshError(ErrorCode.Unavailable, `re-index ${what} raced the runner; try again`, {
      retryAfterMs: 500,
    });
  }

  async #rowOf(id: string): Promise<JobRow> {
    if (reindexRegionOf(id) !== this.#o.region)
      throw new MeshError(ErrorCode.NotFound, `no re-index ${id} here`);
    const row = await readJob(this.#o.routing, this.#o.region);
    if (!row || row.stored.job.id !== id) throw new MeshError(ErrorCode.NotFound, `no re-index ${id}`);
    return row;
  }

  async tick(): Promise<void> {
    if (this.#running || this.#closed) return;
    const row = await readJob(this.#o.routing, this.#o.region);
    if (!row) return;
    const { stored } = row;
    const { state } = stored.job;
    const now = Date.now();
    if (state === 'requested' || state === 'building' || state === 'ready') {
      if (stored.lease && stored.lease.owner !== this.#o.agentId && stored.lease.untilMs > now) return;
      const claimed = await writeJob(this.#o.routing, this.#o.region, this.#leased(stored), row.version);
      if (!claimed) return;
      if (stored.lease && stored.lease.owner !== this.#o.agentId) {
        this.#o.logger.warn('re-index lease taken over', { job: stored.job.id, from: stored.lease.owner });
      }
      this.#running = this.#run(claimed).finally(() => {
        this.#running = undefined;
      });
    } else if (state === 'active' && !stored.dropped && now >= (stored.rollbackUntilMs ?? 0)) {
      // The window has passed: the old model's views go, and writes stop carrying its vectors.
      await this.#publishState(stored.job.id, 'dropped', { active: stored.job.to });
      const dropped = await writeJob(
        this.#o.routing,
        this.#o.region,
        { ...stored, dropped: true },
        row.version,
      );
      if (dropped) this.#o.logger.info('re-index done: old model dropped', { job: stored.job.id });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }

  #leased(stored: StoredJob): StoredJob {
    return { ...stored, lease: { owner: this.#o.agentId, untilMs: Date.now() + this.#o.leaseMs } };
  }

  async #run(claimed: JobRow): Promise<void> {
    const ctx = { row: claimed };
    const { job } = claimed.stored;
    try {
      await this.#build(ctx);
    } catch (err) {
      if (err instanceof JobLost || this.#closed) {
        this.#o.logger.info('re-index runner stopped', { job: job.id, reason: (err as Error).message });
        return;
      }
      // A view still catching up, a walk that stalled, NATS away for a moment: the job keeps
      // its state and lease, and the next tick resumes it (a few times, then it fails).
      const transient = this.#transientFailures.get(job.id) ?? 0;
      if (isMeshError(err) && err.retryable && transient < TRANSIENT_FAILURES_MAX) {
        this.#transientFailures.set(job.id, transient + 1);
        this.#o.logger.warn('re-index step failed for now; the next tick resumes it', {
          job: job.id,
          attempt: transient + 1,
          err,
        });
        return;
      }
      this.#o.logger.error('re-index failed', { job: job.id, err });
      await this.#publishState(job.id, 'failed', { active: job.from }).catch(() => undefined);
      await this.#progress(
        ctx,
        (s) => ({ ...s, job: { ...s.job, state: 'failed', error: (err as Error).message.slice(0, 500) } }),
        { release: true },
      ).catch(() => undefined);
    }
  }

  async #build(ctx: { row: JobRow }): Promise<void> {
    const { job } = ctx.row.stored;
    const { region, views, models } = this.#o;
    const key = modelKeyOf(modelRefOf(job.to));
    if (!ctx.row.stored.announced) {
      await this.#publishState(job.id, 'building', { active: job.from, target: job.to });
      await this.#progress(ctx, (s) => ({ ...s, announced: true, job: { ...s.job, state: 'building' } }));
    }
    // Every agent of the region hosts the target's views once it reads the state; this one now.
    await views.followModels();
    if (!views.get(region)?.models.has(key)) throw new Error('the target model views did not start');
    const queue = await models.queue(job.to);
    let since: MissingSince | undefined;
    for (let pass = 1; pass <= PASSES_MAX; pass++) {
      this.#assertOpen();
      // The first pass walks every live document; the later ones only what changed since, and
      // what the pass before found missing.
      const { missing, live, lastSeq } = await views.missingDocs(region, key, since);
      since = { afterSeq: lastSeq, recheck: missing };
      await this.#progress(ctx, (s) => {
        const total = pass === 1 ? live : s.job.total + live;
        return { ...s, job: { ...s.job, total, done: Math.max(0, total - missing.length) } };
      });
      this.#o.logger.info('re-index pass', { job: job.id, pass, walked: live, missing: missing.length });
      if (missing.length === 0) {
        // Every write from here on carries both models: this agent's view stays complete.
        views.markVerified(region, key);
        return this.#activate(ctx);
      }
      const toEmbed = missing.filter((m) => !m.carried);
      // Two batches in flight: the next one is embedded while the last one's events are published.
      let publishing: Promise<void> | undefined;
      for (const batch of batches(toEmbed, this.#o.batchChunksMax)) {
        this.#assertOpen();
        const vectors = await this.#embedBatch(ctx, queue, batch, job);
        await publishing;
        publishing = this.#publishBatch(batch, vectors, job).then(async () => {
          await this.#progress(ctx, (s) => ({
            ...s,
            job: {
              ...s.job,
              done: Math.min(s.job.total, s.job.done + batch.length),
              embedded: s.job.embedded + vectors.length,
            },
          }));
          this.#logProgress(ctx.row.stored.job);
        });
        // Awaited at the next batch or after the last; marked handled so that a failure waits for that.
        publishing.catch(() => undefined);
      }
      await publishing;
      // Documents the view did not hold only because it had not applied them yet: give it a moment.
      if (toEmbed.length === 0) await sleep(200);
    }
    throw new Error(`the new view still lacked documents after ${PASSES_MAX} passes`);
  }

  async #activate(ctx: { row: JobRow }): Promise<void> {
    const { job } = ctx.row.stored;
    await this.#progress(ctx, (s) => ({ ...s, job: { ...s.job, state: 'ready' } }));
    const rollbackUntilMs = Date.now() + this.#o.rollbackMs;
    await this.#publishState(job.id, 'active', { active: job.to, previous: job.from, rollbackUntilMs });
    await this.#progress(
      ctx,
      (s) => ({
        ...s,
        rollbackUntilMs,
        job: { ...s.job, state: 'active', rollbackUntil: new Date(rollbackUntilMs).toISOString() },
      }),
      { release: true },
    );
    this.#o.logger.info('re-index active', { job: job.id, to: job.to, rollbackUntilMs });
  }

  /** Embeds one batch's chunks with the target model, retrying the embedder. */
  async #embedBatch(
    ctx: { row: JobRow },
    queue: Awaited<ReturnType<RegionModels['queue']>>,
    batch: MissingDoc[],
    job: ReindexJob,
  ): Promise<Float32Array[]> {
    const texts = batch.flatMap((doc) => doc.event.chunks.map((c) => doc.event.text.slice(c.start, c.end)));
    let failures = 0;
    let vectors: Float32Array[] | undefined;
    for (let attempt = 1; vectors === undefined; attempt++) {
      try {
        // Bulk work of the region, behind every tenant's queries in the fair queue.
        vectors = await queue.embed(batch[0]?.event.tenant ?? '_reindex', texts, 'bulk');
      } catch (err) {
        this.#o.onEmbedError?.();
        const transient = isMeshError(err) && (err.retryable || err.code === ErrorCode.RateLimited);
        if (!transient && ++failures >= EMBED_FAILURES_MAX) throw err;
        this.#o.logger.warn('re-index embedder call failed; backing off', { job: job.id, attempt, err });
        await sleep(backoffDelayMs(EMBED_RETRY, Math.min(attempt, 16)));
        this.#assertOpen();
        // Keeps the lease while the embedder is away, and notices an abort.
        await this.#progress(ctx, (s) => s);
      }
    }
    return vectors;
  }

  /** Publishes one re-embedding event per document of the batch. */
  async #publishBatch(batch: MissingDoc[], vectors: Float32Array[], job: ReindexJob): Promise<void> {
    const model = modelRefOf(job.to);
    const key = modelKeyOf(model);
    let next = 0;
    await Promise.all(
      batch.map((doc) => {
        const { event } = doc;
        const chunks = event.chunks.map((c) => ({
          start: c.start,
          end: c.end,
          vector: encodeVector(vectors[next++] as Float32Array),
        }));
        const embedding: EmbeddingEvent = {
          v: 1,
          type: 'embedding',
          tenant: event.tenant,
          id: event.id,
          version: doc.version,
          text: event.text,
          chunks,
          metadata: event.metadata,
          scope: event.scope,
          model,
          job: job.id,
          ...(event.expiresAt === undefined ? {} : { expiresAt: event.expiresAt }),
          ts: Date.now(),
          source: { region: this.#o.region, agent: this.#o.agentId },
        };
        return this.#o.publisher.publish({
          subject: embeddingSubject(
            this.#o.region,
            doc.shard,
            event.tenant,
            docKeyOf(event.tenant, event.id),
            key,
          ),
          data: encodeEvent(embedding),
          // One event per document version and model: a resumed runner's repeat is dropped.
          msgId: sha256Hex(`embedding/${event.tenant}/${event.id}/${doc.version}/${key}`),
        });
      }),
    );
  }

  /** Writes the runner's progress (renewing its lease); JobLost when the job changed hands. */
  async #progress(
    ctx: { row: JobRow },
    change: (stored: StoredJob) => StoredJob,
    { release = false }: { release?: boolean } = {},
  ): Promise<void> {
    const next = change(ctx.row.stored);
    // Finished (active or failed): the lease is given up; otherwise every write renews it.
    const leased = release ? { ...next, lease: undefined } : this.#leased(next);
    const written = await writeJob(this.#o.routing, this.#o.region, leased, ctx.row.version);
    if (!written) {
      const now = await readJob(this.#o.routing, this.#o.region);
      throw new JobLost(
        now?.stored.job.id !== ctx.row.stored.job.id
          ? 'another job replaced it'
          : `it is ${now.stored.job.state}${now.stored.lease ? ` and held by ${now.stored.lease.owner}` : ''}`,
      );
    }
    ctx.row = written;
    this.#o.onProgress?.(written.stored.job);
  }

  #lastProgressLogMs = 0;
  #lastProgressDone = 0;

  /** A progress line at most every PROGRESS_LOG_MS: done of total, and the rate since the last. */
  #logProgress(job: ReindexJob): void {
    const now = Date.now();
    if (now - this.#lastProgressLogMs < PROGRESS_LOG_MS) return;
    const seconds = this.#lastProgressLogMs === 0 ? 0 : (now - this.#lastProgressLogMs) / 1000;
    const docsPerSecond = seconds > 0 ? Math.round((job.done - this.#lastProgressDone) / seconds) : undefined;
    this.#o.logger.info('re-index progress', {
      job: job.id,
      done: job.done,
      total: job.total,
      embedded: job.embedded,
      ...(docsPerSecond !== undefined ? { docsPerSecond } : {}),
    });
    this.#lastProgressLogMs = now;
    this.#lastProgressDone = job.done;
  }

  #assertOpen(): void {
    if (this.#closed) throw new JobLost('the agent is stopping');
  }

  async #publishState(
    job: string,
    phase: string,
    state: Pick<ModelState, 'active'> & Partial<Pick<ModelState, 'target' | 'previous' | 'rollbackUntilMs'>>,
  ): Promise<void> {
    const record: ModelState = { v: 1, type: 'model', region: this.#o.region, job, ...state, ts: Date.now() };
    await this.#o.publisher.publish({
      subject: modelStateSubject(this.#o.region),
      data: new TextEncoder().encode(JSON.stringify(record)),
      msgId: sha256Hex(`model/${job}/${phase}`),
    });
    // This agent follows at once; the others within their follow interval.
    await this.#o.views.followModels();
  }
}

/** Documents in batches of about `chunksMax` chunks (a document is never split). */
function* batches(docs: MissingDoc[], chunksMax: number): Generator<MissingDoc[]> {
  let batch: MissingDoc[] = [];
  let chunks = 0;
  for (const doc of docs) {
    if (batch.length > 0 && chunks + doc.event.chunks.length > chunksMax) {
      yield batch;
      batch = [];
      chunks = 0;
    }
    batch.push(doc);
    chunks += doc.event.chunks.length;
  }
  if (batch.length > 0) yield batch;
}
