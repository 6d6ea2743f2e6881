/**
 * @module shard-host
 * The shards hosted by this agent replica. For each shard of an origin region there is one
 * view per live model (its vector index, and the consumer that feeds it from the log), and
 * one shard-query responder that answers searches from the view of the query's model.
 * Outside a re-index an origin has a single model, so a shard has a single view.
 *
 * A shard belongs to an origin region: the region's own shards have origin = region, and a
 * region that replicates tenants of another home region hosts views of that home's shards,
 * fed by the events sourced into its own stream under their original subjects.
 */
import {
  type AppliedEvent,
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
  type ModelRef,
  shardFilter,
  streamName,
} from '@memmesh/core';
import type { VectorIndex } from '@memmesh/index';
import type { Logger } from '@memmesh/telemetry';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionTelemetry } from '../parts/types.ts';
import { applyEvent, type ModelView } from './apply.ts';
import { instrumentApply } from './apply-metrics.ts';
import { ensureMinVersion } from './min-version.ts';
import { searchRepaired } from './read-repair.ts';

/** The NATS handles and callbacks every shard host of a region shares. */
export interface ShardHostContext {
  region: string;
  agentId: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  logger: Logger;
  /** Called with (tenant, version, shard) after a document version is applied to a serving view. */
  onApplied: (tenant: string, version: number, where: { origin: string; shard: string }) => void;
  onFatal: (err: unknown) => void;
  /** Apply metrics, and the tracer of the apply and query spans. */
  telemetry?: RegionTelemetry | undefined;
  /** Hits of a view behind the log are corrected from the log (read-repair.ts). */
  readRepair: boolean;
}

/** One model's view of one shard: its index and the consumer that feeds it. */
export interface ShardHost {
  readonly origin: string;
  readonly shard: string;
  /** The model of the view's vectors, and its key (`modelKeyOf`). */
  readonly model: ModelRef;
  readonly modelKey: string;
  readonly index: VectorIndex;
  readonly consumer: ShardConsumer;
  stop(): Promise<void>;
}

export interface ShardHostPlace {
  origin: string;
  shard: string;
  model: ModelRef;
  modelKey: string;
  /** The consumer's durable name within the agent: one per origin, shard and model. */
  consumerSuffix: string;
  index: VectorIndex;
  /**
   * True once the origin's log has held more than one model: upserts that lack this view's
   * vectors are then left to the re-index events that carry them, instead of dead-lettered.
   */
  skipOtherModels: () => boolean;
  /** Whether events applied here change what the region serves (cache tokens). */
  serving: () => boolean;
}

export async function startShardHost(ctx: ShardHostContext, place: ShardHostPlace): Promise<ShardHost> {
  const consumer = await startConsumer(ctx, place);
  return {
    origin: place.origin,
    shard: place.shard,
    model: place.model,
    modelKey: place.modelKey,
    index: place.index,
    consumer,
    stop: () => consumer.stop(),
  };
}

function startConsumer(ctx: ShardHostContext, place: ShardHostPlace): Promise<ShardConsumer> {
  const { region, logger, telemetry } = ctx;
  const { origin, shard, index } = place;
  const view: ModelView = {
    index,
    model: place.model,
    get building() {
      return place.skipOtherModels();
    },
  };
  const onApplied = (tenant: string, version: number) => {
    if (place.serving()) ctx.onApplied(tenant, version, { origin, shard });
  };
  const apply = (applied: AppliedEvent) => applyEvent(view, applied, onApplied);
  return startShardConsumer(ctx.js, ctx.jsm, {
    stream: streamName(region),
    deadLetterStream: deadLetterStreamName(region),
    deadLetterSubject: deadLetterSubject(region, shard),
    filterSubject: shardFilter(origin, shard),
    consumerName: `${ctx.agentId}_${origin}_${place.consumerSuffix}`,
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

/**
 * Answers one shard's queries from the view of the query's model: `viewOf(undefined)` is the
 * view this agent serves the origin with, `viewOf(key)` the view of that model, if hosted.
 */
export function serveShardViews(
  ctx: ShardHostContext,
  where: { origin: string; shard: string },
  viewOf: (modelKey: string | undefined) => ShardHost | undefined,
): ShardServer {
  return serveShard(
    ctx.nc,
    { region: ctx.region, origin: where.origin, shard: where.shard, tracer: ctx.telemetry?.tracer },
    (query) => {
      const view = viewOf(query.model);
      if (!view) {
        // Only while a region changes model: the asking agent moved on before this one.
        throw new MeshError(
          ErrorCode.Unavailable,
          `shard ${where.shard} holds no view of model ${query.model}`,
          {
            retryAfterMs: 200,
          },
        );
      }
      return answer(ctx, view, query);
    },
    (query) => {
      // A list holds no vectors: any model's view of the shard has the same documents.
      const view = viewOf(undefined);
      if (!view) throw new MeshError(ErrorCode.Unavailable, `shard ${where.shard} is not hosted here`);
      return answerList(view, query);
    },
  );
}

/** A shard query, already validated by the protocol: this view's top hits for the tenant. */
async function answer(ctx: ShardHostContext, view: ShardHost, query: ShardQuery) {
  const vector = decodeVector(query.vector, view.index.dimensions);
  if (!vector) throw new MeshError(ErrorCode.BadRequest, 'query vector has the wrong dimension');
  if (query.minVersion !== undefined) {
    await ensureMinVersion(
      { jsm: ctx.jsm, region: ctx.region, origin: view.origin, shard: view.shard, consumer: view.consumer },
      { tenant: query.tenant, minVersion: query.minVersion, waitMs: query.waitMs },
    );
  }
  const search = () =>
    view.index.search({ tenant: query.tenant, vector, topK: query.topK, filter: query.filter });
  const hits = ctx.readRepair
    ? await searchRepaired(
        {
          jsm: ctx.jsm,
          region: ctx.region,
          onRepair: (kind, where) => ctx.telemetry?.metrics.readRepairs.inc({ ...where, kind }),
        },
        view,
        query.tenant,
        search,
      )
    : await search();
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
