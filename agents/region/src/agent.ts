/**
 * @module agent
 * Assembles a region agent from its configuration: the routing table, the embedded parts,
 * the region service and the HTTP app. main.ts adds the environment, the listening socket
 * and signals; tests use this directly.
 */
import { createLruCache, createRedisCache } from '@memmesh/cache';
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  createLocalEmbedder,
  createMiniLmEmbedder,
  createOpenAiEmbedder,
  type Embedder,
} from '@memmesh/embed';
import { createEmbeddedIndex, createMilvusIndex } from '@memmesh/index';
import {
  createMemoryRoutingTable,
  loadTopology,
  openDynamoRoutingTable,
  type RoutingTable,
  seedRoutingTable,
  withReadCache,
} from '@memmesh/routing';
import { type AgentMetrics, createMetrics, type TracerProvider, tracerOf } from '@memmesh/telemetry';
import type { Hono } from 'hono';
import { createApp } from './app.ts';
import { type RegionAgentConfig, type ResolvedRegionAgentConfig, withBackends } from './config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { embedderRetryCounter } from './instrument.ts';
import type { Logger } from './log.ts';
import { openRegion, type Region, type RegionParts } from './region.ts';

export interface RegionAgent {
  readonly config: RegionAgentConfig;
  readonly region: Region;
  readonly routing: RoutingTable;
  readonly app: Hono<{ Variables: { tenant: string } }>;
  /** The agent's own registry (served at /metrics). */
  readonly metrics: AgentMetrics;
  close(): Promise<void>;
}

export interface RegionAgentOverrides {
  parts?: RegionParts;
  /** A routing table shared with others (tests, a gateway in the same process). */
  routing?: RoutingTable;
  /** Where spans go (main.ts builds it from OTEL_*; tests use an in-memory exporter). Default: none. */
  tracerProvider?: TracerProvider;
}

/** The embedded defaults: no server besides nats-server is needed. */
export function embeddedParts(config: RegionAgentConfig): RegionParts {
  return {
    embedder: createLocalEmbedder({ dimensions: config.embedDimensions }),
    cache: createLruCache({ entriesMax: config.cacheEntriesMax }),
    openIndex: (_origin, _shard, dir) => createEmbeddedIndex({ dimensions: config.embedDimensions, dir }),
  };
}

/** The parts the configuration asks for: embedded defaults, with production backends swapped in. */
export async function partsFor(
  config: ResolvedRegionAgentConfig,
  log: Logger,
  metrics?: AgentMetrics,
): Promise<RegionParts> {
  const parts = embeddedParts(config);
  parts.embedder = await embedderFor(config, metrics);
  // The index holds the embedder's vectors, whatever MEMMESH_EMBED_DIMENSIONS says.
  const { dimensions, modelId } = parts.embedder;
  parts.indexBackend = config.index;
  parts.openIndex =
    config.index === 'milvus'
      ? // Milvus keeps the view and its position itself: no snapshot directory.
        (origin, shard) =>
          createMilvusIndex({
            address: config.milvusAddress as string,
            token: config.milvusToken,
            collectionPrefix: config.milvusCollectionPrefix,
            region: origin,
            shard,
            modelId,
            dimensions,
            hnsw: {
              m: config.milvusHnswM,
              efConstruction: config.milvusHnswEfConstruction,
              efSearch: config.milvusHnswEf,
            },
          })
      : (_origin, _shard, dir) => createEmbeddedIndex({ dimensions, dir });
  if (config.cache === 'redis') {
    parts.cache = await createRedisCache({
      url: config.redisUrl as string,
      // Queries go on uncached while Redis is away; the log says so once per outage.
      onError: (err) => log.warn('redis cache unavailable; answering uncached until it is back', { err }),
    });
  }
  return parts;
}

/** The region's embedder; a production one is never replaced by the local one in silence. */
async function embedderFor(
  config: ResolvedRegionAgentConfig,
  metrics: AgentMetrics | undefined,
): Promise<Embedder> {
  switch (config.embedder) {
    case 'local':
      return createLocalEmbedder({ dimensions: config.embedDimensions });
    case 'minilm':
      return createMiniLmEmbedder({ modelDir: config.minilmDir as string });
    case 'openai':
      return createOpenAiEmbedder({
        // A compatible server without authentication (openaiBaseUrl set) still needs a value.
        apiKey: config.openaiApiKey ?? 'none',
        model: config.openaiModel,
        dimensions: config.embedDimensions,
        ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
        ...(metrics ? { onRetry: embedderRetryCounter(metrics, config.openaiModel) } : {}),
      });
  }
}

/**
 * The embedded routing table. Multi-region mode seeds it from the region files, and the
 * region's own file decides its shard count and stream replicas (other regions compute
 * shards of its documents from the same file). Single-region mode makes every tenant of
 * `apiKeys` live here.
 */
export async function embeddedRouting(
  config: RegionAgentConfig,
): Promise<{ routing: RoutingTable; config: ResolvedRegionAgentConfig }> {
  const routing = createMemoryRoutingTable();
  if (config.regionsDir) {
    const topology = await loadTopology(config.regionsDir);
    const own = topology.regions.find((r) => r.id === config.region);
    if (!own)
      throw new MeshError(ErrorCode.Config, `region ${config.region} has no file in ${config.regionsDir}`);
    await seedRoutingTable(routing, topology);
    const sized = { ...config, shardCount: own.shardCount, streamReplicas: own.streamReplicas };
    return { routing, config: withBackends(sized, own.backends) };
  }
  const resolved = withBackends(config, undefined);
  await routing.putRegion({
    id: config.region,
    location: { latitude: 0, longitude: 0 },
    residency: 'local',
    nats: { cluster: config.region, servers: 1 },
    shardCount: config.shardCount,
    streamReplicas: config.streamReplicas,
    backends: { index: resolved.index, cache: resolved.cache, embedder: resolved.embedder },
  });
  for (const [key, tenant] of Object.entries(config.apiKeys)) {
    if (!(await routing.getTenant(tenant))) await routing.putTenant({ tenant, home: config.region });
    await routing.putApiKey(key, tenant);
  }
  return { routing, config: resolved };
}

/**
 * The routing table the configuration asks for. DynamoDB mode reads the region's own
 * settings from the table (created and seeded with `npm run routing:create -- --seed`), and
 * records this region's public URL there for gateways.
 */
export async function routingFor(
  config: RegionAgentConfig,
): Promise<{ routing: RoutingTable; config: ResolvedRegionAgentConfig }> {
  if (config.routing === 'memory') return embeddedRouting(config);
  const routing = withReadCache(
    openDynamoRoutingTable({ tableName: config.dynamodbTable, endpoint: config.dynamodbEndpoint }),
    { ttlMs: config.routingCacheTtlMs },
  );
  const own = await routing.getRegion(config.region);
  if (!own) {
    throw new MeshError(
      ErrorCode.Config,
      `region ${config.region} is not in routing table ${config.dynamodbTable}: create and seed it with npm run routing:create -- --seed`,
    );
  }
  if (config.publicUrl) await routing.setRegionStatus(config.region, 'up', config.publicUrl);
  const sized = { ...config, shardCount: own.config.shardCount, streamReplicas: own.config.streamReplicas };
  return { routing, config: withBackends(sized, own.config.backends) };
}

/** A routing table handed in: the region's record there, if any, decides the backends. */
async function withSharedRouting(
  config: RegionAgentConfig,
  routing: RoutingTable,
): Promise<{ routing: RoutingTable; config: ResolvedRegionAgentConfig }> {
  const own = await routing.getRegion(config.region);
  return { routing, config: withBackends(config, own?.config.backends) };
}

export async function startRegionAgent(
  baseConfig: RegionAgentConfig,
  log: Logger,
  overrides: RegionAgentOverrides = {},
): Promise<RegionAgent> {
  const { routing, config } = overrides.routing
    ? await withSharedRouting(baseConfig, overrides.routing)
    : await routingFor(baseConfig);
  const metrics = createMetrics({ region: config.region, service: 'region-agent' });
  const telemetry = { metrics, tracer: tracerOf(overrides.tracerProvider) };
  const lock = config.dataDir ? await lockDataDir(config.dataDir, config.region, config.agentId) : undefined;
  let region: Region;
  try {
    const parts = overrides.parts ?? (await partsFor(config, log, metrics));
    region = await openRegion(config, parts, routing, log, telemetry);
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const app = createApp({
    region,
    routing,
    tenantRequestsPerSecond: config.tenantRequestsPerSecond,
    tenantBurst: config.tenantBurst,
    log,
    telemetry,
  });
  return {
    config,
    region,
    routing,
    app,
    metrics,
    async close() {
      await region.close();
      await lock?.release();
    },
  };
}
