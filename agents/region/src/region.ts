/**
 * @module region
 * The region service behind the HTTP API: it turns writes into events on the region's log,
 * reads documents back from the log, and answers searches by scattering over the shards.
 * It owns the NATS connection, the shard hosts and the parts (embedder, cache, indexes).
 */
import { join } from 'node:path';
import {
  connectBus,
  createPublisher,
  DEFAULT_REGION_STREAM_OPTIONS,
  decodeEvent,
  encodeEvent,
  ensureRegionStreams,
  type Publisher,
  toMeshError,
  watchConnection,
} from '@memmesh/bus';
import type { Cache } from '@memmesh/cache';
import { embeddingCacheKey, resultCacheKey } from '@memmesh/cache';
import {
  type ChunkOptions,
  chunkText,
  decodeVector,
  docKeyOf,
  docSubject,
  ErrorCode,
  encodeVector,
  isMeshError,
  LIMITS,
  type Memory,
  type MemoryEvent,
  type MemoryInput,
  MeshError,
  newDocId,
  type SearchInput,
  type SearchResponse,
  sha256Hex,
  shardNames,
  shardOf,
  streamName,
  type WriteResult,
} from '@memmesh/core';
import type { Embedder } from '@memmesh/embed';
import type { VectorIndex } from '@memmesh/index';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionAgentConfig } from './config.ts';
import type { Logger } from './log.ts';
import { queryShard, type ShardHost, startShardHost } from './shard-host.ts';

export interface RegionParts {
  embedder: Embedder;
  cache: Cache;
  /** Opens (or restores from `dir`) the view of one shard. */
  openIndex: (shard: string, dir: string | undefined) => Promise<VectorIndex>;
}

export interface WriteOptions {
  wait: boolean;
}

export interface ShardStatus {
  shard: string;
  appliedSeq: number;
  caughtUp: boolean;
  docs: number;
  chunks: number;
}

export interface Region {
  readonly region: string;
  write(tenant: string, input: MemoryInput, options: WriteOptions): Promise<WriteResult>;
  writeBatch(
    tenant: string,
    inputs: MemoryInput[],
    options: WriteOptions,
  ): Promise<(WriteResult | { id: string; error: { code: string; message: string } })[]>;
  get(tenant: string, id: string): Promise<Memory>;
  delete(
    tenant: string,
    id: string,
    options: WriteOptions & { ifVersion?: number | undefined },
  ): Promise<WriteResult>;
  search(tenant: string, input: SearchInput): Promise<SearchResponse>;
  status(tenant: string): { region: string; ready: boolean; shards: ShardStatus[] };
  readonly ready: boolean;
  /** Stops consumers, writes final snapshots and drains NATS. */
  close(): Promise<void>;
}

/** Embedding cache entries live long: the same text always embeds the same way. */
const EMBEDDING_CACHE_TTL_MS = 3_600_000;
/** Attempts of a delete that races concurrent writes to the same document. */
const DELETE_ATTEMPTS_MAX = 3;

export async function openRegion(
  config: RegionAgentConfig,
  parts: RegionParts,
  log: Logger,
): Promise<Region> {
  const nc = await connectBus({ servers: config.natsUrl, name: config.agentId });
  try {
    return await wireRegion(nc, config, parts, log);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

async function wireRegion(
  nc: NatsConnection,
  config: RegionAgentConfig,
  parts: RegionParts,
  log: Logger,
): Promise<Region> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = streamName(config.region);
  await ensureRegionStreams(jsm, {
    region: config.region,
    ...DEFAULT_REGION_STREAM_OPTIONS,
    replicas: config.streamReplicas,
  });
  const publisher = createPublisher(js, jsm, { stream });
  const link = watchConnection(nc);
  const tenantVersions = new Map<string, number>();
  // Result-cache keys carry this epoch: an in-process cache starts empty, but a shared one
  // must never serve entries computed by an earlier life of the region against its versions.
  const epoch = Date.now().toString(36);
  let fatal: unknown;

  const hosts = new Map<string, ShardHost>();
  for (const shard of shardNames(config.shardCount)) {
    const dir = config.dataDir ? join(config.dataDir, config.region, shard) : undefined;
    const index = await parts.openIndex(shard, dir);
    const host = await startShardHost({
      region: config.region,
      shard,
      agentId: config.agentId,
      index,
      nc,
      js,
      jsm,
      log,
      onApplied: (tenant, version) => {
        if ((tenantVersions.get(tenant) ?? 0) < version) tenantVersions.set(tenant, version);
      },
      onFatal: (err) => {
        fatal = err;
        log.error('shard consumer stopped', { shard, err });
      },
    });
    hosts.set(shard, host);
    log.info('shard started', { shard, appliedSeq: index.appliedSeq, dir });
  }

  const snapshotTimer = setInterval(() => {
    for (const host of hosts.values()) {
      host.index.snapshot().catch((err: unknown) => log.error('snapshot failed', { shard: host.shard, err }));
    }
  }, config.snapshotIntervalMs);
  snapshotTimer.unref();

  const chunkOptions: ChunkOptions = {
    chunkChars: config.chunkChars,
    overlapChars: config.chunkOverlapChars,
    chunksMax: LIMITS.chunksPerDocMax,
  };
  const ctx: Context = { config, parts, publisher, jsm, stream, hosts, chunkOptions };

  return {
    region: config.region,
    get ready() {
      return fatal === undefined && link.connected && [...hosts.values()].every((h) => h.consumer.caughtUp);
    },
    write: (tenant, input, options) => {
      link.ensureConnected('write');
      return writeOne(ctx, tenant, input, options);
    },
    writeBatch: (tenant, inputs, options) => {
      link.ensureConnected('write');
      return writeBatch(ctx, tenant, inputs, options);
    },
    get: (tenant, id) => {
      link.ensureConnected('read');
      return getMemory(ctx, tenant, id);
    },
    delete: (tenant, id, options) => {
      link.ensureConnected('delete');
      return deleteMemory(ctx, tenant, id, options);
    },
    search: (tenant, input) => {
      link.ensureConnected('search');
      return search(ctx, nc, tenant, input, `${epoch}.${tenantVersions.get(tenant) ?? 0}`);
    },
    status: (tenant) => ({
      region: config.region,
      ready: fatal === undefined && [...hosts.values()].every((h) => h.consumer.caughtUp),
      shards: [...hosts.values()].map((h) => {
        const stats = h.index.stats(tenant);
        return {
          shard: h.shard,
          appliedSeq: h.consumer.appliedSeq,
          caughtUp: h.consumer.caughtUp,
          docs: stats.docs,
          chunks: stats.chunks,
        };
      }),
    }),
    async close() {
      clearInterval(snapshotTimer);
      for (const host of hosts.values()) await host.stop();
      for (const host of hosts.values()) {
        await host.index
          .snapshot()
          .catch((err: unknown) => log.error('final snapshot failed', { shard: host.shard, err }));
        await host.index.close();
      }
      await nc.drain().catch(() => undefined);
      await parts.embedder.close();
      await parts.cache.close();
    },
  };
}

interface Context {
  config: RegionAgentConfig;
  parts: RegionParts;
  publisher: Publisher;
  jsm: JetStreamManager;
  stream: string;
  hosts: Map<string, ShardHost>;
  chunkOptions: ChunkOptions;
}

interface PreparedWrite {
  id: string;
  shard: string;
  subject: string;
  event: MemoryEvent;
  msgId: string;
  ifVersion: number | undefined;
}

/** Chunks and embeds a batch of inputs, in embedder-sized batches, and builds their events. */
async function prepareWrites(ctx: Context, tenant: string, inputs: MemoryInput[]): Promise<PreparedWrite[]> {
  const { embedder } = ctx.parts;
  const spansPerDoc = inputs.map((input) => chunkText(input.text, ctx.chunkOptions));
  const texts = inputs.flatMap((input, i) =>
    (spansPerDoc[i] ?? []).map((s) => input.text.slice(s.start, s.end)),
  );
  const vectors: Float32Array[] = [];
  for (let at = 0; at < texts.length; at += embedder.batchSizeMax) {
    vectors.push(...(await embedder.embed(texts.slice(at, at + embedder.batchSizeMax))));
  }
  let next = 0;
  return inputs.map((input, i) => {
    const id = input.id ?? newDocId();
    const shard = shardOf(tenant, id, ctx.config.shardCount);
    const chunks = (spansPerDoc[i] ?? []).map((span) => ({
      ...span,
      vector: encodeVector(vectors[next++] as Float32Array),
    }));
    const event: MemoryEvent = {
      v: 1,
      type: 'upsert',
      tenant,
      id,
      text: input.text,
      chunks,
      metadata: input.metadata ?? {},
      scope: input.scope ?? {},
      model: { id: embedder.modelId, dim: embedder.dimensions },
      ts: Date.now(),
      source: { region: ctx.config.region, agent: ctx.config.agentId },
    };
    // Content hash: the same write retried inside the duplicate window is dropped by NATS.
    const msgId = sha256Hex(
      JSON.stringify([tenant, id, 'upsert', input.text, event.metadata, event.scope, embedder.modelId]),
    );
    return {
      id,
      shard,
      subject: docSubject(ctx.config.region, shard, tenant, docKeyOf(tenant, id)),
      event,
      msgId,
      ifVersion: input.ifVersion,
    };
  });
}

async function publishPrepared(
  ctx: Context,
  prepared: PreparedWrite,
  options: WriteOptions,
): Promise<WriteResult> {
  const { seq } = await ctx.publisher.publish({
    subject: prepared.subject,
    data: encodeEvent(prepared.event),
    msgId: prepared.msgId,
    expectLastSubjectSeq: prepared.ifVersion,
  });
  const applied = options.wait ? await waitApplied(ctx, prepared.shard, seq) : false;
  return { id: prepared.id, version: seq, region: ctx.config.region, shard: prepared.shard, applied };
}

async function waitApplied(ctx: Context, shard: string, seq: number): Promise<boolean> {
  const host = ctx.hosts.get(shard);
  return host ? host.consumer.waitApplied(seq, ctx.config.waitAppliedMsMax) : false;
}

async function writeOne(
  ctx: Context,
  tenant: string,
  input: MemoryInput,
  options: WriteOptions,
): Promise<WriteResult> {
  const [prepared] = await prepareWrites(ctx, tenant, [input]);
  return publishPrepared(ctx, prepared as PreparedWrite, options);
}

async function writeBatch(ctx: Context, tenant: string, inputs: MemoryInput[], options: WriteOptions) {
  const ids = inputs.map((i) => i.id).filter((id): id is string => id !== undefined);
  if (new Set(ids).size !== ids.length) {
    throw new MeshError(ErrorCode.BadRequest, 'a batch must not name the same id twice');
  }
  const prepared = await prepareWrites(ctx, tenant, inputs);
  const settled = await Promise.allSettled(prepared.map((p) => publishPrepared(ctx, p, options)));
  const failures = settled.filter((s) => s.status === 'rejected');
  // When nothing was stored because the log is down, say so as a whole: 503, retry later.
  if (
    failures.length === settled.length &&
    failures.every((f) => isMeshError(f.reason) && f.reason.retryable)
  ) {
    throw failures[0]?.reason;
  }
  return settled.map((s, i) => {
    if (s.status === 'fulfilled') return s.value;
    const err = toMeshError(s.reason, 'write');
    return { id: prepared[i]?.id ?? '', error: { code: err.code, message: err.message } };
  });
}

async function lastEvent(ctx: Context, tenant: string, id: string) {
  const shard = shardOf(tenant, id, ctx.config.shardCount);
  const subject = docSubject(ctx.config.region, shard, tenant, docKeyOf(tenant, id));
  let stored: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;
  try {
    // The stream API answers from the stream leader: a read right after a write sees it.
    stored = await ctx.jsm.streams.getMessage(ctx.stream, { last_by_subj: subject });
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) stored = null;
    else throw toMeshError(err, 'read');
  }
  if (!stored) return { shard, subject, seq: 0, event: undefined };
  // Same checks as the shard consumer: a message that the view dead-lettered (malformed, or
  // claiming another tenant) is not a version of this document for readers either.
  const decoded = decodeEvent(stored.data, stored.subject);
  if (!decoded.ok) {
    throw new MeshError(
      ErrorCode.NotFound,
      `memory ${id} not found: its newest event is invalid (${decoded.reason})`,
    );
  }
  return { shard, subject, seq: stored.seq, event: decoded.event };
}

async function getMemory(ctx: Context, tenant: string, id: string): Promise<Memory> {
  const { shard, seq, event } = await lastEvent(ctx, tenant, id);
  if (!event || event.type === 'delete' || event.tenant !== tenant) {
    throw new MeshError(ErrorCode.NotFound, `memory ${id} not found`);
  }
  return {
    id,
    text: event.text,
    metadata: event.metadata,
    scope: event.scope,
    version: seq,
    region: ctx.config.region,
    shard,
  };
}

async function deleteMemory(
  ctx: Context,
  tenant: string,
  id: string,
  options: WriteOptions & { ifVersion?: number | undefined },
): Promise<WriteResult> {
  for (let attempt = 1; ; attempt++) {
    const last = await lastEvent(ctx, tenant, id);
    if (!last.event || last.event.type === 'delete')
      throw new MeshError(ErrorCode.NotFound, `memory ${id} not found`);
    if (options.ifVersion !== undefined && options.ifVersion !== last.seq) {
      throw new MeshError(
        ErrorCode.VersionConflict,
        `expected version ${options.ifVersion}, current is ${last.seq}`,
      );
    }
    const event: MemoryEvent = {
      v: 1,
      type: 'delete',
      tenant,
      id,
      ts: Date.now(),
      source: { region: ctx.config.region, agent: ctx.config.agentId },
    };
    try {
      // Expecting the version just read makes the delete exact; a concurrent write makes it retry.
      return await publishPrepared(
        ctx,
        {
          id,
          shard: last.shard,
          subject: last.subject,
          event,
          msgId: sha256Hex(`${tenant}/${id}/delete/${last.seq}`),
          ifVersion: last.seq,
        },
        options,
      );
    } catch (err) {
      if (
        !isMeshError(err, ErrorCode.VersionConflict) ||
        options.ifVersion !== undefined ||
        attempt >= DELETE_ATTEMPTS_MAX
      )
        throw err;
    }
  }
}

async function embedQuery(ctx: Context, query: string): Promise<Float32Array> {
  const { embedder, cache } = ctx.parts;
  const key = embeddingCacheKey(embedder.modelId, query);
  const cached = await cache.get(key).catch(() => undefined);
  const decoded = cached ? decodeVector(cached, embedder.dimensions) : undefined;
  if (decoded) return decoded;
  const [vector] = await embedder.embed([query]);
  await cache.set(key, encodeVector(vector as Float32Array), EMBEDDING_CACHE_TTL_MS).catch(() => undefined);
  return vector as Float32Array;
}

async function search(
  ctx: Context,
  nc: NatsConnection,
  tenant: string,
  input: SearchInput,
  tenantVersion: string,
): Promise<SearchResponse> {
  const started = performance.now();
  const topK = input.topK ?? LIMITS.topKDefault;
  const { cache } = ctx.parts;
  // minVersion answers depend on waiting for the log, so they are never served from cache.
  const key =
    input.minVersion === undefined
      ? resultCacheKey({ tenant, tenantVersion, query: input.query, topK, filter: input.filter ?? {} })
      : undefined;
  if (key) {
    const cached = await cache.get(key).catch(() => undefined);
    if (cached) return { ...(JSON.parse(cached) as SearchResponse), tookMs: performance.now() - started };
  }
  const vector = encodeVector(await embedQuery(ctx, input.query));
  const query = {
    tenant,
    vector,
    topK,
    filter: input.filter,
    minVersion: input.minVersion,
    waitMs: ctx.config.waitAppliedMsMax,
  };
  // A minVersion query may wait for its shard to catch up; others get the plain timeout.
  const timeoutMs = ctx.config.shardQueryTimeoutMs + (input.minVersion === undefined ? 0 : query.waitMs);
  const perShard = await Promise.all(
    shardNames(ctx.config.shardCount).map((shard) =>
      queryShard(nc, ctx.config.region, shard, query, timeoutMs),
    ),
  );
  const results = perShard
    .flat()
    .sort((a, b) => b.score - a.score)
    .slice(0, topK)
    .map(({ id, score, text, metadata, scope, version }) => ({ id, score, text, metadata, scope, version }));
  const response = { results, region: ctx.config.region, tookMs: performance.now() - started };
  if (key && ctx.config.resultCacheTtlMs > 0) {
    await cache.set(key, JSON.stringify(response), ctx.config.resultCacheTtlMs).catch(() => undefined);
  }
  return response;
}
