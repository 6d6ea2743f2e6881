/**
 * @module gateway
 * Assembles a gateway: the routing table (seeded from the region files in the embedded
 * default), region probes, and the app. main.ts adds the environment, socket and signals.
 */
import type { Logger } from '@memmesh/region-agent';
import {
  createMemoryRoutingTable,
  loadTopology,
  openDynamoRoutingTable,
  type RoutingTable,
  seedRoutingTable,
  withReadCache,
} from '@memmesh/routing';
import type { Hono } from 'hono';
import { createGatewayApp } from './app.ts';
import type { GatewayConfig } from './config.ts';
import { type Probes, startProbes } from './probes.ts';

export interface Gateway {
  readonly app: Hono;
  readonly probes: Probes;
  readonly routing: RoutingTable;
  /** Re-reads regions and endpoints from the routing table (done periodically too). */
  refreshRegions(): Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(
  config: GatewayConfig,
  log: Logger,
  routingOverride?: RoutingTable,
): Promise<Gateway> {
  const routing = withReadCache(routingOverride ?? (await openTable(config)), {
    ttlMs: config.routingCacheTtlMs,
    onRefreshError: (err) => log.warn('routing refresh failed; serving the last known value', { err }),
  });
  const probes = startProbes({
    intervalMs: config.probeIntervalMs,
    timeoutMs: config.probeTimeoutMs,
    ewmaAlpha: config.ewmaAlpha,
    failuresMax: config.probeFailuresMax,
    location: config.location,
  });
  const refreshRegions = async () => {
    const regions = await routing.listRegions();
    probes.update(
      regions.map((r) => ({ config: r.config, endpoint: config.endpoints[r.config.id] ?? r.endpoint })),
    );
  };
  await refreshRegions();
  await probes.probeNow();
  const timer = setInterval(() => {
    refreshRegions().catch((err: unknown) => log.warn('region refresh failed', { err }));
  }, config.routingCacheTtlMs || 5_000);
  timer.unref();
  const app = createGatewayApp({ config, routing, probes, log });
  return {
    app,
    probes,
    routing,
    refreshRegions,
    async close() {
      clearInterval(timer);
      probes.stop();
    },
  };
}

/** DynamoDB (shared with the agents, which record their endpoints there) or seeded memory. */
async function openTable(config: GatewayConfig): Promise<RoutingTable> {
  if (config.routing === 'dynamodb') {
    return openDynamoRoutingTable({ tableName: config.dynamodbTable, endpoint: config.dynamodbEndpoint });
  }
  const table = createMemoryRoutingTable();
  await seedRoutingTable(table, await loadTopology(config.regionsDir));
  return table;
}
