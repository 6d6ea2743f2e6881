/**
 * @module shard-host
 * One shard hosted by this agent replica: its vector index (the view), the consumer that
 * feeds it from the log, and the query subscription that answers searches over it.
 *
 * A shard belongs to an origin region: the region's own shards have origin = region, and a
 * region that replicates tenants of another home region hosts views of that home's shards,
 * fed by the events sourced into its own stream under their original subjects.
 */
import {
  type AppliedEvent,
  type DeadLetter,
  requestQuery,
  type ShardConsumer,
  serveQueries,
  sourcedSequence,
  startShardConsumer,
  toMeshError,
} from '@memmesh/bus';
import {
  deadLetterStreamName,
  deadLetterSubject,
  decodeVector,
  ErrorCode,
  FilterSchema,
  MeshError,
  querySubject,
  shardFilter,
  streamName,
  tenantShardFilter,
  type UpsertEvent,
} from '@memmesh/core';
import type { VectorHit, VectorIndex } from '@memmesh/index';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { instrumentApply, type RegionTelemetry } from './instrument.ts';
import type { Logger } from './log.ts';

/** What a shard query carries over NATS. */
const ShardQuerySchema = z.strictObject({
  tenant: z.string(),
  vector: z.string(),
  topK: z.number().int().min(1),
  filter: FilterSchema.optional(),
  minVersion: z.number().int().min(0).optional(),
  waitMs: z.number().int().min(0),
});
export type ShardQuery = z.infer<typeof ShardQuerySchema>;

/** A shard reply stays under NATS's default 1 MiB max_payload with room for headers. */
export const SHARD_REPLY_BYTES_MAX = 960 * 1024;

export interface ShardHostOptions {
  region: string;
  /** Home region of the events this view materialises. */
  origin: string;
  shard: string;
  agentId: string;
  index: VectorIndex;
  /**
   * The embedding model of this region's queries. A view never mixes models: an event
   * embedded by another model would be searched with vectors from a different space.
   */
  modelId: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  /** Called with (tenant, version) after a document version is applied. */
  onApplied: (tenant: string, version: number) => void;
  onFatal: (err: unknown) => void;
  /** Apply metrics, and the tracer of the apply and query spans. */
  telemetry?: RegionTelemetry | undefined;
}

export interface ShardHost {
  readonly origin: string;
  readonly shard: string;
  readonly index: VectorIndex;
  readonly consumer: ShardConsumer;
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function startShardHost(options: ShardHostOptions): Promise<ShardHost> {
  const { region, origin, shard, index, log, telemetry } = options;
  const apply = (applied: AppliedEvent) => applyEvent(index, options.modelId, applied, options.onApplied);
  const consumer = await startShardConsumer(options.js, options.jsm, {
    stream: streamName(region),
    deadLetterStream: deadLetterStreamName(region),
    deadLetterSubject: deadLetterSubject(region, shard),
    filterSubject: shardFilter(origin, shard),
    consumerName: `${options.agentId}_${origin}_${shard}`,
    appliedSeq: index.appliedSeq,
    apply: telemetry ? instrumentApply(telemetry.metrics, origin, shard, apply) : apply,
    onPosition: (seq) => index.markApplied(seq),
    onDeadLetter: (letter: DeadLetter) => {
      telemetry?.metrics.deadLetters.inc({ origin, shard });
      log.warn('event dead-lettered', { origin, shard, ...letter });
    },
    onFatal: options.onFatal,
    tracer: telemetry?.tracer,
  });
  const subject = querySubject(region, origin, shard);
  const subscription: Subscription = serveQueries(
    options.nc,
    { subject, queue: subject, tracer: telemetry?.tracer },
    (data) => answerQuery(options, consumer, data),
  );
  return {
    origin,
    shard,
    index,
    consumer,
    async stop() {
      // Stop answering first, then stop applying; the caller snapshots afterwards.
      subscription.unsubscribe();
      await consumer.stop();
    },
  };
}

async function applyEvent(
  index: VectorIndex,
  modelId: string,
  { version, event }: AppliedEvent,
  onApplied: (tenant: string, version: number) => void,
): Promise<void> {
  const changed =
    event.type === 'delete'
      ? await index.delete(event.tenant, event.id, version)
      : await index.upsert(toDoc(index, modelId, event, version));
  if (changed) onApplied(event.tenant, version);
}

function toDoc(index: VectorIndex, modelId: string, event: UpsertEvent, version: number) {
  if (event.model.id !== modelId) {
    // Also deterministic. Regions that share tenants must run the same embedder (placement
    // checks it); this catches a region whose embedder changed under an existing log.
    throw new MeshError(
      ErrorCode.InvalidEvent,
      `event embedded by model ${event.model.id}, but this region embeds queries with ${modelId}`,
    );
  }
  if (event.model.dim !== index.dimensions) {
    // Deterministic: retrying cannot help, so this is a poison event for this view.
    throw new MeshError(
      ErrorCode.InvalidEvent,
      `event embedding dimension ${event.model.dim} does not match index dimension ${index.dimensions}`,
    );
  }
  const chunks = event.chunks.map((chunk) => {
    const vector = decodeVector(chunk.vector, event.model.dim);
    if (!vector) throw new MeshError(ErrorCode.InvalidEvent, 'chunk vector does not decode to finite floats');
    if (chunk.end > event.text.length || chunk.start >= chunk.end) {
      throw new MeshError(ErrorCode.InvalidEvent, 'chunk offsets are outside the text');
    }
    return { start: chunk.start, end: chunk.end, vector };
  });
  return {
    tenant: event.tenant,
    id: event.id,
    version,
    text: event.text,
    metadata: event.metadata,
    scope: event.scope,
    chunks,
  };
}

async function answerQuery(
  options: ShardHostOptions,
  consumer: ShardConsumer,
  data: Uint8Array,
): Promise<Uint8Array> {
  const parsed = ShardQuerySchema.safeParse(JSON.parse(decoder.decode(data)));
  if (!parsed.success) throw new MeshError(ErrorCode.BadRequest, 'malformed shard query');
  const query = parsed.data;
  const vector = decodeVector(query.vector, options.index.dimensions);
  if (!vector) throw new MeshError(ErrorCode.BadRequest, 'query vector has the wrong dimension');
  if (query.minVersion !== undefined) await ensureMinVersion(options, consumer, query);
  const hits = await options.index.search({
    tenant: query.tenant,
    vector,
    topK: query.topK,
    filter: query.filter,
  });
  return encodeReply(hits, consumer.appliedSeq);
}

/**
 * Waits until this shard has applied every event of the tenant up to `minVersion` (a home
 * version). A shard whose position is behind may still be complete for the tenant: the
 * stream is asked for the tenant's next event on this shard after the position, and only if
 * that event's version is within `minVersion` does the shard wait for it. For a replica
 * view the region first made sure those events have arrived from the home stream.
 */
async function ensureMinVersion(
  options: ShardHostOptions,
  consumer: ShardConsumer,
  query: ShardQuery,
): Promise<void> {
  const minVersion = query.minVersion ?? 0;
  const deadline = Date.now() + query.waitMs;
  const filter = tenantShardFilter(options.origin, options.shard, query.tenant);
  // For the region's own shards positions are versions: a position at or past minVersion says it all.
  const ownOrigin = options.origin === options.region;
  while (!(ownOrigin && consumer.appliedSeq >= minVersion)) {
    // The stream API (not direct get) answers from the leader, so a replica lag cannot hide an event.
    const next = await options.jsm.streams
      .getMessage(streamName(options.region), { seq: consumer.appliedSeq + 1, next_by_subj: filter } as never)
      .catch(noMessageAsNull);
    if (!next || (sourcedSequence(next.header) ?? next.seq) > minVersion) return;
    const left = deadline - Date.now();
    if (left <= 0 || !(await consumer.waitApplied(next.seq, left))) {
      throw new MeshError(
        ErrorCode.Unavailable,
        `shard ${options.shard} has not applied version ${minVersion} yet`,
        {
          retryAfterMs: 200,
        },
      );
    }
  }
}

function noMessageAsNull(err: unknown): null {
  if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
  throw toMeshError(err, 'minVersion check');
}

function encodeReply(hits: VectorHit[], appliedSeq: number): Uint8Array {
  let kept = hits;
  for (;;) {
    const bytes = encoder.encode(
      JSON.stringify({ hits: kept, appliedSeq, truncated: kept.length < hits.length }),
    );
    // Only a topK of many near-maximal texts comes close; the lowest-ranked hits go first.
    if (bytes.byteLength <= SHARD_REPLY_BYTES_MAX || kept.length === 0) return bytes;
    kept = kept.slice(0, Math.floor(kept.length * 0.8));
  }
}

export async function queryShard(
  nc: NatsConnection,
  region: string,
  origin: string,
  shard: string,
  query: ShardQuery,
  timeoutMs: number,
): Promise<VectorHit[]> {
  const reply = (await requestQuery(
    nc,
    querySubject(region, origin, shard),
    encoder.encode(JSON.stringify(query)),
    timeoutMs,
  )) as {
    hits: VectorHit[];
  };
  return reply.hits;
}
