/**
 * @module routing
 * The routing table a region agent reads, and the configuration it settles: the region's own
 * record (its file in regions/, or its DynamoDB row) decides its shard count, stream replicas
 * and backends.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  createMemoryRoutingTable,
  loadDynamoRoutingTable,
  openSeededRoutingTable,
  type RoutingTable,
  withReadCache,
} from '@memmesh/routing';
import { type RegionAgentConfig, type ResolvedRegionAgentConfig, withBackends } from './config.ts';

/** A routing table and the configuration it settled. */
export interface SettledRouting {
  routing: RoutingTable;
  config: ResolvedRegionAgentConfig;
}

/**
 * The embedded routing table. Multi-region mode seeds it from the region files, and the
 * region's own file decides its shard count and stream replicas (other regions compute
 * shards of its documents from the same file). Single-region mode makes every tenant of
 * `apiKeys` live here.
 */
export async function embeddedRouting(config: RegionAgentConfig): Promise<SettledRouting> {
  if (config.regionsDir) {
    const { routing, topology } = await openSeededRoutingTable(config.regionsDir);
    const own = topology.regions.find((r) => r.id === config.region);
    if (!own)
      throw new MeshError(ErrorCode.Config, `region ${config.region} has no file in ${config.regionsDir}`);
    const sized = { ...config, shardCount: own.shardCount, streamReplicas: own.streamReplicas };
    return { routing, config: withBackends(sized, own.backends) };
  }
  const resolved = withBackends(config, undefined);
  const routing = createMemoryRoutingTable();
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
export async function routingFor(config: RegionAgentConfig): Promise<SettledRouting> {
  if (config.routing === 'memory') return embeddedRouting(config);
  const routing = withReadCache(
    await loadDynamoRoutingTable({ tableName: config.dynamodbTable, endpoint: config.dynamodbEndpoint }),
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
export async function withSharedRouting(
  config: RegionAgentConfig,
  routing: RoutingTable,
): Promise<SettledRouting> {
  const own = await routing.getRegion(config.region);
  return { routing, config: withBackends(config, own?.config.backends) };
}
