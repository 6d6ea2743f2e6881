/**
 * @module region
 * The region service behind the HTTP API: the operations' facade. It owns the NATS
 * connection, the hosted views and the parts (embedder, cache, indexes); each operation checks
 * the connection and the tenant's placement here, once, and passes the policy down to writes
 * (writes.ts), reads (reads.ts) and search (search.ts).
 */
import { connectBus, createAuditLog, createPublisher, type Publisher, watchConnection } from '@memmesh/bus';
import { createTenantVersions, type TenantVersions } from '@memmesh/cache';
import {
  deadLetterStreamName,
  type EmbedderSpec,
  type ErasureReceipt,
  LIMITS,
  type Memory,
  type MemoryHistory,
  type MemoryInput,
  type MemoryList,
  regionInboxPrefix,
  type SearchInput,
  type SearchResponse,
  streamName,
  type WriteResult,
} from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import type { Logger } from '@memmesh/telemetry';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionAgentConfig } from '../config/config.ts';
import { createEraser, type Eraser, type EraserMetrics } from '../erasure/eraser.ts';
import { instrumentParts, instrumentPublisher } from '../parts/instrument.ts';
import { specOfEmbedder } from '../parts/parts.ts';
import type { RegionParts, RegionTelemetry } from '../parts/types.ts';
import { reindexMetrics } from '../reindex/metrics.ts';
import { createReindexer, type Reindexer } from '../reindex/runner.ts';
import { type ExpirySweeper, startExpirySweeper } from '../shards/expiry-sweep.ts';
import { trackConsumerLag } from '../shards/lag.ts';
import { openViews, type Views } from '../shards/views.ts';
import { createTenantBudgets } from './budgets.ts';
import type { RegionHandles } from './handles.ts';
import { memoryHistory } from './history.ts';
import { type ListInput, listMemories } from './list.ts';
import { type LoadHooks, type LoadReport, LoadTracker } from './load.ts';
import { createRegionModels } from './models.ts';
import { requireHome, requireReadable } from './policy.ts';
import { getMemory } from './reads.ts';
import { search } from './search.ts';
import { type BatchItemResult, deleteMemory, type WriteOptions, writeBatch, writeOne } from './writes.ts';

export type { BatchItemResult, WriteOptions } from './writes.ts';

export interface ShardStatus {
  origin: string;
  shard: string;
  appliedSeq: number;
  caughtUp: boolean;
  docs: number;
  chunks: number;
}

/** The models of one origin's views here: what queries are embedded with, and during a re-index what is built. */
export interface ModelStatus {
  origin: string;
  serving: EmbedderSpec;
  target?: EmbedderSpec;
  previous?: EmbedderSpec;
}

export interface SearchOptions {
  /** Longest wait for `minVersion`, capped by the configured maximum. */
  waitMs?: number | undefined;
}

export interface Region {
  readonly region: string;
  /**
   * Before a write's body is read: refuses (429) a tenant whose budgets cannot hold what a
   * body of `bodyBytes` will at least cost, so that a flooder's refused batches do not cost
   * their reading and parsing first. The exact charge comes after parsing.
   */
  admitWrite(tenant: string, bodyBytes: number | undefined): void;
  write(tenant: string, input: MemoryInput, options: WriteOptions): Promise<WriteResult>;
  writeBatch(tenant: string, inputs: MemoryInput[], options: WriteOptions): Promise<BatchItemResult[]>;
  get(tenant: string, id: string): Promise<Memory>;
  /** The versions of a memory the log still holds, newest first. */
  history(tenant: string, id: string): Promise<MemoryHistory>;
  /** A page of the tenant's memories, newest first. */
  list(tenant: string, input: ListInput): Promise<MemoryList>;
  delete(
    tenant: string,
    id: string,
    options: WriteOptions & { ifVersion?: number | undefined },
  ): Promise<WriteResult>;
  search(tenant: string, input: SearchInput, options?: SearchOptions): Promise<SearchResponse>;
  status(tenant: string): { region: string; ready: boolean; shards: ShardStatus[]; models: ModelStatus[] };
  /** The operator's view of the load on this agent's shards and tenants, hot ones marked. */
  load(): LoadReport & { region: string; agentId: string };
  /** Re-indexing this region to another embedding model: the admin routes' jobs. */
  readonly reindex: Reindexer;
  /**
   * Erases the tenant's memories in `scope` (`{all: true}`: every one) from every region
   * and store; answers at once with the erasure's id (the tenant's home only).
   */
  erase(
    tenant: string,
    scope: unknown,
    actor: { kind: 'operator' | 'tenant_key'; source: string },
  ): Promise<{ id: string; state: ErasureReceipt['state'] }>;
  /** An erasure's receipt; `tenant` undefined for the operator. */
  erasure(tenant: string | undefined, id: string): Promise<ErasureReceipt>;
  readonly ready: boolean;
  /** Stops consumers, writes final snapshots and drains NATS. */
  close(): Promise<void>;
}

export interface OpenRegionOptions {
  config: RegionAgentConfig;
  parts: RegionParts;
  routing: RoutingTable;
  logger: Logger;
  telemetry?: RegionTelemetry | undefined;
}

export async function openRegion(options: OpenRegionOptions): Promise<Region> {
  const { config } = options;
  const nc = await connectBus({
    servers: config.natsUrl,
    name: config.agentId,
    credsFile: config.natsCredsFile,
    tls: config.natsTlsCaFile
      ? { caFile: config.natsTlsCaFile, certFile: config.natsTlsCertFile, keyFile: config.natsTlsKeyFile }
      : undefined,
    // The region agent role may subscribe to replies only under its region's prefix.
    inboxPrefix: regionInboxPrefix(config.region),
  });
  try {
    const parts = options.telemetry ? instrumentParts(options.parts, options.telemetry) : options.parts;
    return await RegionService.open({ ...options, parts }, nc);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** The re-index jobs of the region, run by one of its agents at a time. */
function reindexerOf(options: OpenRegionOptions, handles: RegionHandles): Reindexer {
  const { config, telemetry } = options;
  return createReindexer({
    region: config.region,
    agentId: config.agentId,
    routing: options.routing,
    views: handles.views,
    models: handles.models,
    publisher: handles.publisher,
    logger: options.logger,
    cannotEmbed: options.parts.cannotEmbed,
    leaseMs: config.reindexLeaseMs,
    rollbackMs: config.reindexRollbackMs,
    batchChunksMax: config.reindexBatchChunks,
    ...(telemetry ? reindexMetrics(telemetry.metrics) : {}),
  });
}

/** The erasures of tenants this region holds, run step by step by whichever agent takes each. */
function eraserOf(options: OpenRegionOptions, handles: RegionHandles, js: JetStreamClient): Eraser {
  const { config } = options;
  return createEraser({
    region: config.region,
    agentId: config.agentId,
    routing: options.routing,
    js,
    jsm: handles.jsm,
    stream: handles.stream,
    deadLetterStream: deadLetterStreamName(config.region),
    views: handles.views,
    cache: handles.parts.cache,
    publisher: handles.publisher,
    audit: createAuditLog(handles.nc, config.region),
    logger: options.logger,
    leaseMs: config.erasureLeaseMs,
    batchDocsMax: config.erasureBatchDocs,
    docsMax: config.erasureDocsMax,
    idleMsMax: 30_000,
    waitAppliedMsMax: 60_000,
    cacheKeysMax: 1_000_000,
    metrics: options.telemetry ? erasureMetricsOf(options.telemetry) : undefined,
    deadLettersMax: 100_000,
  });
}

/**
 * Embedder calls at once when the configuration does not say: the local and MiniLM embedders
 * compute on this process's CPU, where a second call only waits; OpenAI's are network
 * round trips, which overlap.
 */
const DEFAULT_EMBED_CONCURRENCY = { local: 1, minilm: 1, openai: 4 } as const;

class RegionService implements Region {
  readonly region: string;
  readonly #options: OpenRegionOptions;
  readonly #handles: RegionHandles;
  readonly #tenantVersions: TenantVersions;
  readonly #link: ReturnType<typeof watchConnection>;
  readonly #timers: ReturnType<typeof setInterval>[];
  readonly #stopLag: () => void;
  readonly reindex: Reindexer;
  readonly #eraser: Eraser;
  readonly #sweeper: ExpirySweeper;
  #fatal: unknown;

  static async open(options: OpenRegionOptions, nc: NatsConnection): Promise<RegionService> {
    const { config, logger, telemetry } = options;
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    // Result-cache keys carry the tenant's token, kept in the cache itself so that replicas
    // sharing a Redis share results; applying an event of a tenant replaces its token.
    const load = new LoadTracker(config, telemetry ? loadHooksOf(telemetry) : undefined);
    const tenantVersions = createTenantVersions(options.parts.cache, {
      region: config.region,
      onError: (err) =>
        logger.warn('result cache invalidation failed; tenant answers uncached until it succeeds', { err }),
    });
    let service: RegionService | undefined;
    const views = await openViews({
      config,
      parts: options.parts,
      routing: options.routing,
      // A server in a cluster (a region of the supercluster) gets the stream placed in it.
      placementCluster: nc.info?.cluster,
      baseSpec: specOfEmbedder(config.embedder ?? 'local', options.parts.embedder),
      hosts: {
        region: config.region,
        agentId: config.agentId,
        readRepair: config.readRepair,
        nc,
        js,
        jsm,
        logger,
        onApplied: (tenant, _version, where) => {
          tenantVersions.bump(tenant);
          load.applied(where.origin, where.shard, tenant);
        },
        onFatal: (err) => service?.fail(err),
        telemetry,
      },
    });
    const published = createPublisher(js, jsm, { stream: streamName(config.region) });
    const publisher = telemetry ? instrumentPublisher(published, telemetry) : published;
    service = new RegionService(options, { nc, jsm, views, publisher, tenantVersions, load });
    return service;
  }

  private constructor(
    options: OpenRegionOptions,
    opened: {
      nc: NatsConnection;
      jsm: RegionHandles['jsm'];
      views: Views;
      publisher: Publisher;
      tenantVersions: TenantVersions;
      load: LoadTracker;
    },
  ) {
    const { config, logger, telemetry } = options;
    this.region = config.region;
    this.#options = options;
    this.#tenantVersions = opened.tenantVersions;
    this.#link = watchConnection(opened.nc);
    this.#handles = {
      config,
      parts: options.parts,
      models: createRegionModels({
        region: config.region,
        parts: options.parts,
        base: specOfEmbedder(config.embedder ?? 'local', options.parts.embedder),
        views: () => opened.views,
        queueOptions: {
          pieceCharsMax: config.embedPieceCharsMax,
          concurrency: config.embedConcurrency ?? DEFAULT_EMBED_CONCURRENCY[config.embedder ?? 'local'],
          pendingCharsMax: config.embedQueueCharsMax,
          tenantPendingCharsMax: config.tenantEmbedQueueCharsMax,
        },
      }),
      budgets: createTenantBudgets(config),
      load: opened.load,
      nc: opened.nc,
      jsm: opened.jsm,
      publisher: opened.publisher,
      stream: streamName(config.region),
      views: opened.views,
      chunkOptions: {
        chunkChars: config.chunkChars,
        overlapChars: config.chunkOverlapChars,
        chunksMax: LIMITS.chunksPerDocMax,
      },
      logger,
    };
    const { views } = opened;
    const stopLag = telemetry
      ? trackConsumerLag(telemetry.metrics, () => views.all(), logger)
      : () => undefined;
    // The fair embedder queue's backlog: what a tenant's search may wait behind.
    const stopQueue = telemetry
      ? telemetry.metrics.onScrape(() =>
          telemetry.metrics.embedQueueChars.set(this.#handles.models.pendingChars),
        )
      : () => undefined;
    const stopLoad = telemetry
      ? telemetry.metrics.onScrape(() => publishLoad(telemetry.metrics, this.#handles.load.report()))
      : () => undefined;
    this.#stopLag = () => {
      stopLag();
      stopQueue();
      stopLoad();
    };
    this.#timers = [
      setInterval(() => void views.snapshotAll(), config.snapshotIntervalMs),
      setInterval(() => {
        views.reconcile().catch((err: unknown) => logger.warn('replication reconcile failed', { err }));
      }, config.replicationReconcileMs),
      // The region's model is state in the log: a re-index changes it while the agent runs.
      setInterval(() => {
        views.followModels().catch((err: unknown) => logger.warn('model state follow failed', { err }));
      }, config.modelFollowMs),
    ];
    this.reindex = reindexerOf(options, this.#handles);
    this.#eraser = eraserOf(options, this.#handles, jetstream(opened.nc));
    this.#timers.push(setInterval(() => void this.#eraser.tick(), config.erasureFollowMs));
    this.#timers.push(
      setInterval(() => {
        this.reindex.tick().catch((err: unknown) => logger.warn('re-index check failed', { err }));
      }, config.modelFollowMs),
    );
    for (const timer of this.#timers) timer.unref();
    this.#sweeper = startExpirySweeper(
      {
        jsm: opened.jsm,
        stream: this.#handles.stream,
        hosts: () => views.all(),
        docsMax: config.expirySweepDocsMax,
        logger,
        onExpired: (tenant) => opened.tenantVersions.bump(tenant),
      },
      config.expirySweepIntervalMs,
    );
  }

  /** A shard consumer stopped for good: the agent is no longer ready. */
  fail(err: unknown): void {
    this.#fatal = err;
    this.#options.logger.error('shard consumer stopped', { err });
  }

  get ready(): boolean {
    return this.#fatal === undefined && this.#link.connected && this.#handles.views.caughtUp;
  }

  admitWrite(tenant: string, bodyBytes: number | undefined): void {
    this.#handles.budgets.admitWrite(tenant, bodyBytes);
  }

  async write(tenant: string, input: MemoryInput, options: WriteOptions): Promise<WriteResult> {
    this.#link.ensureConnected('write');
    const policy = await requireHome(this.#options.routing, this.region, tenant);
    return writeOne(this.#handles, policy, input, options);
  }

  async writeBatch(tenant: string, inputs: MemoryInput[], options: WriteOptions): Promise<BatchItemResult[]> {
    this.#link.ensureConnected('write');
    const policy = await requireHome(this.#options.routing, this.region, tenant);
    return writeBatch(this.#handles, policy, inputs, options);
  }

  async get(tenant: string, id: string): Promise<Memory> {
    this.#link.ensureConnected('read');
    return getMemory(this.#handles, await requireReadable(this.#options.routing, this.region, tenant), id);
  }

  async history(tenant: string, id: string): Promise<MemoryHistory> {
    this.#link.ensureConnected('read');
    return memoryHistory(
      this.#handles,
      await requireReadable(this.#options.routing, this.region, tenant),
      id,
    );
  }

  async list(tenant: string, input: ListInput): Promise<MemoryList> {
    this.#link.ensureConnected('read');
    return listMemories(
      this.#handles,
      await requireReadable(this.#options.routing, this.region, tenant),
      input,
    );
  }

  async delete(
    tenant: string,
    id: string,
    options: WriteOptions & { ifVersion?: number | undefined },
  ): Promise<WriteResult> {
    this.#link.ensureConnected('delete');
    await requireHome(this.#options.routing, this.region, tenant);
    return deleteMemory(this.#handles, tenant, id, options);
  }

  async erase(
    tenant: string,
    scope: unknown,
    actor: { kind: 'operator' | 'tenant_key'; source: string },
  ): Promise<{ id: string; state: ErasureReceipt['state'] }> {
    this.#link.ensureConnected('erase');
    const policy = await requireHome(this.#options.routing, this.region, tenant);
    const accepted = await this.#eraser.request({ tenant, policy, scope, actor });
    // Starts at once rather than at the next tick.
    void this.#eraser.tick();
    return accepted;
  }

  erasure(tenant: string | undefined, id: string): Promise<ErasureReceipt> {
    return this.#eraser.get(tenant, id);
  }

  async search(tenant: string, input: SearchInput, options: SearchOptions = {}): Promise<SearchResponse> {
    this.#link.ensureConnected('search');
    const policy = await requireReadable(this.#options.routing, this.region, tenant);
    const { waitAppliedMsMax } = this.#handles.config;
    const waitMs = Math.min(options.waitMs ?? waitAppliedMsMax, waitAppliedMsMax);
    return search(this.#handles, policy, input, { tenantVersions: this.#tenantVersions, waitMs });
  }

  load(): LoadReport & { region: string; agentId: string } {
    return { region: this.region, agentId: this.#handles.config.agentId, ...this.#handles.load.report() };
  }

  status(tenant: string): { region: string; ready: boolean; shards: ShardStatus[]; models: ModelStatus[] } {
    const origins = new Set<string>();
    const shards = this.#handles.views.all().map((h) => {
      origins.add(h.origin);
      const { docs, chunks } = h.index.stats(tenant);
      const { appliedSeq, caughtUp } = h.consumer;
      return { origin: h.origin, shard: h.shard, appliedSeq, caughtUp, docs, chunks };
    });
    const models = [...origins].map((origin): ModelStatus => {
      const view = this.#handles.views.get(origin);
      const state = view?.state;
      return {
        origin,
        serving: view?.serving.spec ?? this.#handles.models.base,
        ...(state?.target ? { target: state.target } : {}),
        ...(state?.previous ? { previous: state.previous } : {}),
      };
    });
    return { region: this.region, ready: this.ready, shards, models };
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await this.reindex.close();
    await this.#eraser.close();
    this.#stopLag();
    await this.#sweeper.stop();
    await this.#handles.views.close();
    await this.#tenantVersions.flush();
    await this.#handles.nc.drain().catch(() => undefined);
    await this.#handles.models.close();
    await this.#handles.parts.embedder.close();
    await this.#handles.parts.cache.close();
  }
}

function loadHooksOf(telemetry: RegionTelemetry): LoadHooks {
  const { metrics } = telemetry;
  return {
    shardQuery: (origin, shard, seconds) =>
      metrics.shardQueryDurationSeconds.observe({ origin, shard }, seconds),
    shed: (reason) => metrics.searchesShed.inc({ reason }),
    stale: () => metrics.staleAnswers.inc(),
  };
}

/** The load report as gauges: in flight per shard, hot shards and tenants, the busiest tenants' rates. */
function publishLoad(metrics: RegionTelemetry['metrics'], report: LoadReport): void {
  // Tenants come and go from the busiest: last scrape's series are dropped, not left at their value.
  metrics.hot.reset();
  metrics.tenantLoad.reset();
  for (const s of report.shards) {
    const labels = { origin: s.origin, shard: s.shard };
    metrics.shardQueriesInFlight.set(labels, s.inFlight);
    metrics.hot.set({ kind: 'shard', id: `${s.origin}/${s.shard}` }, s.hot ? 1 : 0);
  }
  for (const t of report.tenants) {
    if (t.hot) metrics.hot.set({ kind: 'tenant', id: t.tenant }, 1);
    metrics.tenantLoad.set({ tenant: t.tenant, rate: 'queries' }, t.queriesPerSecond);
    metrics.tenantLoad.set({ tenant: t.tenant, rate: 'applies' }, t.appliesPerSecond);
  }
}

function erasureMetricsOf(telemetry: RegionTelemetry): EraserMetrics {
  const { metrics } = telemetry;
  return {
    ended: (state, documents) => {
      metrics.erasures.inc({ state });
      metrics.erasedDocuments.inc(documents);
    },
    stepFailed: () => metrics.erasureStepErrors.inc(),
  };
}
