/**
 * @module views
 * The shard views this agent hosts, per origin region: its own region's shards, plus the
 * shards of every home region whose tenants it replicates. Also keeps the region stream's
 * replication sources in line with the routing table.
 */
import { join } from 'node:path';
import { DEFAULT_REGION_STREAM_OPTIONS, ensureRegionStreams, type ReplicationSource } from '@memmesh/bus';
import { shardNames } from '@memmesh/core';
import { checkPlacement, type RoutingTable } from '@memmesh/routing';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionAgentConfig } from './config.ts';
import type { RegionParts } from './context.ts';
import type { RegionTelemetry } from './instrument.ts';
import type { Logger } from './log.ts';
import { type ShardHost, startShardHost } from './shard-host.ts';

export interface OriginView {
  origin: string;
  shardCount: number;
  hosts: Map<string, ShardHost>;
}

export interface Views {
  get(origin: string): OriginView | undefined;
  all(): ShardHost[];
  readonly caughtUp: boolean;
  /** Brings stream sources and hosted origins in line with the routing table. */
  reconcile(): Promise<void>;
  snapshotAll(): Promise<void>;
  /** Stops every host, snapshots and closes every index. */
  close(): Promise<void>;
}

export interface ViewsOptions {
  config: RegionAgentConfig;
  parts: RegionParts;
  routing: RoutingTable;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  /** The NATS cluster to place the region's streams in (undefined on a standalone server). */
  placementCluster: string | undefined;
  onApplied: (tenant: string, version: number) => void;
  onFatal: (err: unknown) => void;
  /** Handed to every shard host. */
  telemetry?: RegionTelemetry | undefined;
}

export async function openViews(options: ViewsOptions): Promise<Views> {
  const { config, routing, log } = options;
  const origins = new Map<string, OriginView>();
  let sourcesKey: string | undefined;

  const ensureOrigin = async (origin: string, shardCount: number) => {
    if (origins.has(origin)) return;
    const view: OriginView = { origin, shardCount, hosts: new Map() };
    origins.set(origin, view);
    for (const shard of shardNames(shardCount)) {
      const dir = config.dataDir ? join(config.dataDir, config.region, origin, shard) : undefined;
      const index = await options.parts.openIndex(origin, shard, dir);
      const host = await startShardHost({
        ...options,
        region: config.region,
        origin,
        shard,
        agentId: config.agentId,
        index,
        modelId: options.parts.embedder.modelId,
      });
      view.hosts.set(shard, host);
      log.info('shard started', { origin, shard, appliedSeq: index.appliedSeq });
    }
  };

  const reconcile = async () => {
    const { sources, origins: wanted } = await replicationPlan(routing, config.region, log);
    const key = JSON.stringify(sources);
    if (key !== sourcesKey) {
      // Sources are part of the stream configuration: set them together with every other setting.
      await ensureRegionStreams(options.jsm, {
        region: config.region,
        ...DEFAULT_REGION_STREAM_OPTIONS,
        replicas: config.streamReplicas,
        placementCluster: options.placementCluster,
        sources,
      });
      sourcesKey = key;
      log.info('replication sources set', { sources });
    }
    for (const [origin, shardCount] of wanted) await ensureOrigin(origin, shardCount);
  };

  await reconcile();
  await ensureOrigin(config.region, config.shardCount);

  const all = () => [...origins.values()].flatMap((v) => [...v.hosts.values()]);
  const snapshotAll = async () => {
    for (const host of all()) {
      await host.index
        .snapshot()
        .catch((err: unknown) => log.error('snapshot failed', { shard: host.shard, err }));
    }
  };
  return {
    get: (origin) => origins.get(origin),
    all,
    get caughtUp() {
      return all().every((h) => h.consumer.caughtUp);
    },
    reconcile,
    snapshotAll,
    async close() {
      for (const host of all()) await host.stop();
      await snapshotAll();
      for (const host of all()) await host.index.close();
    },
  };
}

/**
 * The tenants this region replicates (their home is elsewhere and their policy lists this
 * region as a replica) and the origins whose views it must host. Placement is checked again
 * here, so that even a bad row in the routing table cannot pull a tenant's events into a
 * region outside its residency zone.
 */
async function replicationPlan(
  routing: RoutingTable,
  region: string,
  log: Logger,
): Promise<{ sources: ReplicationSource[]; origins: Map<string, number> }> {
  const regions = new Map((await routing.listRegions()).map((r) => [r.config.id, r.config]));
  const sources: ReplicationSource[] = [];
  const origins = new Map<string, number>();
  for (const policy of await routing.listTenants()) {
    if (policy.home === region || !policy.replicas.includes(region)) continue;
    try {
      checkPlacement(policy, regions);
    } catch (err) {
      log.error('refusing to replicate a tenant against its placement rules', { tenant: policy.tenant, err });
      continue;
    }
    const home = regions.get(policy.home);
    if (!home) continue;
    sources.push({ homeRegion: policy.home, tenant: policy.tenant });
    origins.set(policy.home, home.shardCount);
  }
  sources.sort((a, b) => `${a.homeRegion}/${a.tenant}`.localeCompare(`${b.homeRegion}/${b.tenant}`));
  return { sources, origins };
}
