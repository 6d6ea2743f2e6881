/**
 * @module region
 * The region service behind the HTTP API. It owns the NATS connection, the routing table,
 * the hosted views and the parts (embedder, cache, indexes), and exposes the operations of
 * the API: writes to the home log (writes.ts), reads from the region's stream and views
 * (reads.ts).
 */
import { connectBus, createPublisher, watchConnection } from '@memmesh/bus';
import { createTenantVersions } from '@memmesh/cache';
import {
  LIMITS,
  type Memory,
  type MemoryInput,
  type SearchInput,
  type SearchResponse,
  streamName,
  type WriteResult,
} from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionAgentConfig } from './config.ts';
import type { Context, RegionParts } from './context.ts';
import {
  instrumentParts,
  instrumentPublisher,
  type RegionTelemetry,
  trackConsumerLag,
} from './instrument.ts';
import type { Logger } from './log.ts';
import { getMemory, search } from './reads.ts';
import { openViews } from './views.ts';
import { type BatchItemResult, deleteMemory, type WriteOptions, writeBatch, writeOne } from './writes.ts';

export type { RegionParts } from './context.ts';
export type { BatchItemResult, WriteOptions } from './writes.ts';

export interface ShardStatus {
  origin: string;
  shard: string;
  appliedSeq: number;
  caughtUp: boolean;
  docs: number;
  chunks: number;
}

export interface SearchOptions {
  /** Longest wait for `minVersion`, capped by the configured maximum. */
  waitMs?: number | undefined;
}

export interface Region {
  readonly region: string;
  write(tenant: string, input: MemoryInput, options: WriteOptions): Promise<WriteResult>;
  writeBatch(tenant: string, inputs: MemoryInput[], options: WriteOptions): Promise<BatchItemResult[]>;
  get(tenant: string, id: string): Promise<Memory>;
  delete(
    tenant: string,
    id: string,
    options: WriteOptions & { ifVersion?: number | undefined },
  ): Promise<WriteResult>;
  search(tenant: string, input: SearchInput, options?: SearchOptions): Promise<SearchResponse>;
  status(tenant: string): { region: string; ready: boolean; shards: ShardStatus[] };
  readonly ready: boolean;
  /** Stops consumers, writes final snapshots and drains NATS. */
  close(): Promise<void>;
}

export async function openRegion(
  config: RegionAgentConfig,
  parts: RegionParts,
  routing: RoutingTable,
  log: Logger,
  telemetry?: RegionTelemetry,
): Promise<Region> {
  const nc = await connectBus({ servers: config.natsUrl, name: config.agentId });
  try {
    const measured = telemetry ? instrumentParts(parts, telemetry) : parts;
    return await wireRegion(nc, config, measured, routing, log, telemetry);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

async function wireRegion(
  nc: NatsConnection,
  config: RegionAgentConfig,
  parts: RegionParts,
  routing: RoutingTable,
  log: Logger,
  telemetry: RegionTelemetry | undefined,
): Promise<Region> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stream = streamName(config.region);
  const link = watchConnection(nc);
  // Result-cache keys carry the tenant's token, kept in the cache itself so that replicas
  // sharing a Redis share results; applying an event of a tenant replaces its token.
  const tenantVersions = createTenantVersions(parts.cache, {
    region: config.region,
    onError: (err) =>
      log.warn('result cache invalidation failed; tenant answers uncached until it succeeds', { err }),
  });
  let fatal: unknown;

  const views = await openViews({
    config,
    parts,
    routing,
    nc,
    js,
    jsm,
    log,
    // A server in a cluster (a region of the supercluster) gets the stream placed in it.
    placementCluster: nc.info?.cluster,
    onApplied: (tenant) => tenantVersions.bump(tenant),
    onFatal: (err) => {
      fatal = err;
      log.error('shard consumer stopped', { err });
    },
    telemetry,
  });
  const published = createPublisher(js, jsm, { stream });
  const publisher = telemetry ? instrumentPublisher(published, telemetry) : published;
  const stopLag = telemetry ? trackConsumerLag(telemetry.metrics, views, log) : () => undefined;
  const ctx: Context = {
    config,
    parts,
    routing,
    nc,
    jsm,
    publisher,
    stream,
    views,
    chunkOptions: {
      chunkChars: config.chunkChars,
      overlapChars: config.chunkOverlapChars,
      chunksMax: LIMITS.chunksPerDocMax,
    },
    log,
  };

  const timers = [
    setInterval(() => void views.snapshotAll(), config.snapshotIntervalMs),
    setInterval(() => {
      views.reconcile().catch((err: unknown) => log.warn('replication reconcile failed', { err }));
    }, config.replicationReconcileMs),
  ];
  for (const timer of timers) timer.unref();
  const isReady = () => fatal === undefined && link.connected && views.caughtUp;

  return {
    region: config.region,
    get ready() {
      return isReady();
    },
    write(tenant, input, options) {
      link.ensureConnected('write');
      return writeOne(ctx, tenant, input, options);
    },
    writeBatch(tenant, inputs, options) {
      link.ensureConnected('write');
      return writeBatch(ctx, tenant, inputs, options);
    },
    get(tenant, id) {
      link.ensureConnected('read');
      return getMemory(ctx, tenant, id);
    },
    delete(tenant, id, options) {
      link.ensureConnected('delete');
      return deleteMemory(ctx, tenant, id, options);
    },
    search(tenant, input, options = {}) {
      link.ensureConnected('search');
      const waitMs = Math.min(options.waitMs ?? config.waitAppliedMsMax, config.waitAppliedMsMax);
      return search(ctx, tenant, input, tenantVersions, waitMs);
    },
    status(tenant) {
      const shards = views.all().map((h) => {
        const { docs, chunks } = h.index.stats(tenant);
        return {
          origin: h.origin,
          shard: h.shard,
          appliedSeq: h.consumer.appliedSeq,
          caughtUp: h.consumer.caughtUp,
          docs,
          chunks,
        };
      });
      return { region: config.region, ready: isReady(), shards };
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      stopLag();
      await views.close();
      await tenantVersions.flush();
      await nc.drain().catch(() => undefined);
      await parts.embedder.close();
      await parts.cache.close();
    },
  };
}
