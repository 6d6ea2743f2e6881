/**
 * @module gateway
 * Assembles a gateway: the routing table behind a read cache (stale-while-revalidate), the
 * region probes, and the app. main.ts adds the environment, socket and signals; tests use
 * this directly. The region list is re-read every `routingCacheTtlMs`, so regions, endpoints
 * and statuses changed in the table reach the gateway without a restart; while the table is
 * unreachable the gateway keeps routing with what it last read.
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
  /** The table as the gateway reads it: through its cache. */
  readonly routing: RoutingTable;
  /** Whether the region list has been read at least once (the app's /readyz). */
  readonly ready: boolean;
  /** Re-reads regions, endpoints and statuses from the routing table (done periodically too). */
  refreshRegions(): Promise<void>;
  close(): Promise<void>;
}

/** How often the region list is re-read when routingCacheTtlMs is 0 (no cache). */
const REGION_REFRESH_MS_DEFAULT = 5_000;

/**
 * Starts a gateway. A table passed as `routingOverride` is used instead of the one the
 * configuration names (tests share one with in-process agents). A routing table that cannot
 * be read at start is not fatal: the gateway starts unready and keeps trying.
 */
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
    log,
  });
  let ready = false;
  const refreshRegions = async () => {
    const regions = await routing.listRegions();
    probes.update(
      regions.map((r) => ({
        config: r.config,
        endpoint: config.endpoints[r.config.id] ?? r.endpoint,
        status: r.status,
      })),
    );
    ready = true;
  };
  const refresh = () =>
    refreshRegions().catch((err: unknown) => log.warn('region list refresh failed', { err }));
  await refresh();
  // The first requests should not have to guess: one round of probes before serving.
  await probes.probeNow();
  const timer = setInterval(() => void refresh(), config.routingCacheTtlMs || REGION_REFRESH_MS_DEFAULT);
  timer.unref();
  const app = createGatewayApp({ config, routing, probes, log, ready: () => ready });
  return {
    app,
    probes,
    routing,
    get ready() {
      return ready;
    },
    refreshRegions,
    async close() {
      clearInterval(timer);
      await probes.stop();
      // An injected table belongs to the caller, who closes it.
      if (!routingOverride) await routing.close();
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
