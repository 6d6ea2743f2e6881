/**
 * @module views
 * The shard views this agent hosts, per origin region: its own region's shards, plus the
 * shards of every home region whose tenants it replicates. Also keeps the region stream's
 * replication sources in line with the routing table.
 */
import { join } from 'node:path';
import { DEFAULT_REGION_STREAM_OPTIONS, ensureRegionStreams } from '@memmesh/bus';
import { shardNames } from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import type { RegionAgentConfig } from '../config/config.ts';
import type { RegionParts } from '../parts/types.ts';
import { replicationPlan } from './replication.ts';
import { type ShardHost, type ShardHostContext, startShardHost } from './shard-host.ts';

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
  /** What every shard host shares: NATS handles, callbacks, telemetry. */
  hosts: ShardHostContext;
  /** The NATS cluster to place the region's streams in (undefined on a standalone server). */
  placementCluster: string | undefined;
}

export async function openViews(options: ViewsOptions): Promise<Views> {
  const views = new HostedViews(options);
  await views.reconcile();
  await views.ensureOrigin(options.config.region, options.config.shardCount);
  return views;
}

class HostedViews implements Views {
  readonly #options: ViewsOptions;
  readonly #origins = new Map<string, OriginView>();
  /** The replication sources last set on the stream, to set them again only when they change. */
  #sourcesKey: string | undefined;

  constructor(options: ViewsOptions) {
    this.#options = options;
  }

  get(origin: string): OriginView | undefined {
    return this.#origins.get(origin);
  }

  all(): ShardHost[] {
    return [...this.#origins.values()].flatMap((v) => [...v.hosts.values()]);
  }

  get caughtUp(): boolean {
    return this.all().every((h) => h.consumer.caughtUp);
  }

  async ensureOrigin(origin: string, shardCount: number): Promise<void> {
    if (this.#origins.has(origin)) return;
    const { config, parts, hosts } = this.#options;
    const view: OriginView = { origin, shardCount, hosts: new Map() };
    this.#origins.set(origin, view);
    for (const shard of shardNames(shardCount)) {
      const dir = config.dataDir ? join(config.dataDir, config.region, origin, shard) : undefined;
      const index = await parts.openIndex(origin, shard, dir);
      view.hosts.set(shard, await startShardHost(hosts, { origin, shard, index }));
      hosts.logger.info('shard started', { origin, shard, appliedSeq: index.appliedSeq });
    }
  }

  async reconcile(): Promise<void> {
    const { config, routing, hosts } = this.#options;
    const { sources, origins: wanted } = await replicationPlan(routing, config.region, hosts.logger);
    const key = JSON.stringify(sources);
    if (key !== this.#sourcesKey) {
      // Sources are part of the stream configuration: set them together with every other setting.
      await ensureRegionStreams(hosts.jsm, {
        region: config.region,
        ...DEFAULT_REGION_STREAM_OPTIONS,
        historyPerSubject: config.historyPerSubject,
        replicas: config.streamReplicas,
        placementCluster: this.#options.placementCluster,
        sources,
      });
      this.#sourcesKey = key;
      hosts.logger.info('replication sources set', { sources });
    }
    for (const [origin, shardCount] of wanted) await this.ensureOrigin(origin, shardCount);
  }

  async snapshotAll(): Promise<void> {
    for (const host of this.all()) {
      await host.index
        .snapshot()
        .catch((err: unknown) =>
          this.#options.hosts.logger.error('snapshot failed', { shard: host.shard, err }),
        );
    }
  }

  async close(): Promise<void> {
    for (const host of this.all()) await host.stop();
    await this.snapshotAll();
    for (const host of this.all()) await host.index.close();
  }
}
