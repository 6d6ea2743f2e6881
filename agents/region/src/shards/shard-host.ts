/**
 * @module shard-host
 * One shard hosted by this agent replica: its vector index (the view), the consumer that
 * feeds it from the log, and the shard-query responder that answers searches over it.
 *
 * A shard belongs to an origin region: the region's own shards have origin = region, and a
 * region that replicates tenants of another home region hosts views of that home's shards,
 * fed by the events sourced into its own stream under their original subjects.
 */
import {
  type DeadLetter,
  type ShardConsumer,
  type ShardListQuery,
  type ShardQuery,
  type ShardServer,
  serveShard,
  startShardConsumer,
} from '@memmesh/bus';
import {
  deadLetterStreamName,
  deadLetterSubject,
  decodeVector,
  ErrorCode,
  MeshError,
  shardFilter,
  streamName,
} from '@memmesh/core';
import type { VectorIndex } from '@memmesh/index';
import type { Logger } from '@memmesh/telemetry';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionTelemetry } from '../parts/types.ts';
import { applyEvent } from './apply.ts';
import { instrumentApply } from './apply-metrics.ts';
import { ensureMinVersion } from './min-version.ts';

/** The NATS handles and callbacks every shard host of a region shares. */
export interface ShardHostContext {
  region: string;
  agentId: string;
  /**
   * The embedding model of this region's queries. A view never mixes models: an event
   * embedded by another model would be searched with vectors from a different space.
   */
  modelId: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  logger: Logger;
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

export async function startShardHost(
  ctx: ShardHostContext,
  where: { origin: string; shard: string; index: VectorIndex },
): Promise<ShardHost> {
  const { region, telemetry } = ctx;
  const { origin, shard, index } = where;
  const consumer = await startConsumer(ctx, where);
  const server: ShardServer = serveShard(
    ctx.nc,
    { region, origin, shard, tracer: telemetry?.tracer },
    (query) => answer(ctx, { ...where, consumer }, query),
    (query) => answerList({ ...where, consumer }, query),
  );
  return {
    origin,
    shard,
    index,
    consumer,
    async stop() {
      // Stop answering first, then stop applying; the caller snapshots afterwards.
      await server.stop();
      await consumer.stop();
    },
  };
}

function startConsumer(
  ctx: ShardHostContext,
  { origin, shard, index }: { origin: string; shard: string; index: VectorIndex },
): Promise<ShardConsumer> {
  const { region, logger, telemetry } = ctx;
  const apply = (applied: Parameters<typeof applyEvent>[2]) =>
    applyEvent(index, ctx.modelId, applied, ctx.onApplied);
  return startShardConsumer(ctx.js, ctx.jsm, {
    stream: streamName(region),
    deadLetterStream: deadLetterStreamName(region),
    deadLetterSubject: deadLetterSubject(region, shard),
    filterSubject: shardFilter(origin, shard),
    consumerName: `${ctx.agentId}_${origin}_${shard}`,
    appliedSeq: index.appliedSeq,
    apply: telemetry ? instrumentApply(telemetry.metrics, origin, shard, apply) : apply,
    onPosition: (seq) => index.markApplied(seq),
    onDeadLetter: (letter: DeadLetter) => {
      telemetry?.metrics.deadLetters.inc({ origin, shard });
      logger.warn('event dead-lettered', { origin, shard, ...letter });
    },
    onFatal: ctx.onFatal,
    tracer: telemetry?.tracer,
  });
}

/** A shard query, already validated by the protocol: this view's top hits for the tenant. */
async function answer(
  ctx: ShardHostContext,
  view: { origin: string; shard: string; index: VectorIndex; consumer: ShardConsumer },
  query: ShardQuery,
) {
  const vector = decodeVector(query.vector, view.index.dimensions);
  if (!vector) throw new MeshError(ErrorCode.BadRequest, 'query vector has the wrong dimension');
  if (query.minVersion !== undefined) {
    await ensureMinVersion(
      { jsm: ctx.jsm, region: ctx.region, ...view },
      { tenant: query.tenant, minVersion: query.minVersion, waitMs: query.waitMs },
    );
  }
  const hits = await view.index.search({
    tenant: query.tenant,
    vector,
    topK: query.topK,
    filter: query.filter,
  });
  return { hits: hits.map(withExpiry), appliedSeq: view.consumer.appliedSeq };
}

/** A list query, already validated by the protocol: a page of this view's memories. */
async function answerList(view: { index: VectorIndex; consumer: ShardConsumer }, query: ShardListQuery) {
  const docs = await view.index.list({
    tenant: query.tenant,
    limit: query.limit,
    beforeVersion: query.beforeVersion,
    filter: query.filter,
  });
  const listed = docs.map(({ id, text, metadata, scope, version, expiresAtMs }) =>
    withExpiry({ id, text, metadata, scope, version, expiresAtMs }),
  );
  return { docs: listed, appliedSeq: view.consumer.appliedSeq };
}

/** The index's expiry (ms) as the API gives it: `expiresAt`, ISO 8601, only when there is one. */
function withExpiry<T extends { expiresAtMs?: number | undefined }>({ expiresAtMs, ...rest }: T) {
  return {
    ...rest,
    ...(expiresAtMs === undefined ? {} : { expiresAt: new Date(expiresAtMs).toISOString() }),
  };
}
