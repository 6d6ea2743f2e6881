/**
 * @module gateway
 * Assembles a gateway: the routing table behind a read cache (stale-while-revalidate), the
 * region probes, and the app. main.ts adds the environment, socket and signals; tests use
 * this directly. The region list is re-read every `routingCacheTtlMs`, so regions, endpoints
 * and statuses changed in the table reach the gateway without a restart; while the table is
 * unreachable the gateway keeps routing with what it last read.
 */
import {
  loadDynamoRoutingTable,
  openSeededRoutingTable,
  type RoutingTable,
  withReadCache,
} from '@memmesh/routing';
import {
  createMetrics,
  type GatewayMetrics,
  type Logger,
  type TracerProvider,
  tracerOf,
} from '@memmesh/telemetry';
import type { Hono } from 'hono';
import { createGatewayApp } from './app.ts';
import { type AdminAudit, openAdminAudit } from './audit.ts';
import type { GatewayConfig } from './config.ts';
import { type Probes, startProbes } from './probes.ts';
import { createRegionClient } from './proxy.ts';

export interface Gateway {
  readonly app: Hono;
  readonly probes: Probes;
  /** The table as the gateway reads it: through its cache. */
  readonly routing: RoutingTable;
  /** Whether the region list has been read at least once (the app's /readyz). */
  readonly ready: boolean;
  /** Re-reads regions, endpoints and statuses from the routing table (done periodically too). */
  refreshRegions(): Promise<void>;
  /** The gateway's own registry (served at /metrics). */
  readonly metrics: GatewayMetrics;
  close(): Promise<void>;
}

export interface GatewayTelemetryOptions {
  /** Where spans go (main.ts builds it from OTEL_*; tests use an in-memory exporter). Default: none. */
  tracerProvider?: TracerProvider;
  /** The `region` label of the gateway's metrics: where it runs. Default `global`. */
  region?: string;
}

/** The `region` label of a gateway that does not say where it runs. */
export const GATEWAY_METRICS_REGION_DEFAULT = 'global';

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
  telemetry: GatewayTelemetryOptions = {},
): Promise<Gateway> {
  const metrics = createMetrics({
    region: telemetry.region ?? GATEWAY_METRICS_REGION_DEFAULT,
    service: 'gateway',
  });
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
  metrics.onScrape(() => {
    // Reset first: a region that left the routing table leaves the gauges too.
    metrics.regionProbeRttSeconds.reset();
    metrics.regionUp.reset();
    for (const state of probes.all()) {
      metrics.regionProbeRttSeconds.set({ target_region: state.region }, state.rttMs / 1000);
      metrics.regionUp.set({ target_region: state.region }, state.healthy ? 1 : 0);
    }
  });
  const tracer = tracerOf(telemetry.tracerProvider);
  let audit: AdminAudit;
  try {
    audit = await openAdminAudit(config, log);
  } catch (err) {
    clearInterval(timer);
    await probes.stop();
    throw err;
  }
  const client = createRegionClient();
  const app = createGatewayApp({
    config,
    routing,
    probes,
    log,
    ready: () => ready,
    metrics,
    tracer,
    audit,
    client,
  });
  return {
    app,
    probes,
    routing,
    metrics,
    get ready() {
      return ready;
    },
    refreshRegions,
    async close() {
      clearInterval(timer);
      await probes.stop();
      await audit.close();
      await client.close();
      // An injected table belongs to the caller, who closes it.
      if (!routingOverride) await routing.close();
    },
  };
}

/** DynamoDB (shared with the agents, which record their endpoints there) or seeded memory. */
async function openTable(config: GatewayConfig): Promise<RoutingTable> {
  if (config.routing === 'dynamodb') {
    return loadDynamoRoutingTable({ tableName: config.dynamodbTable, endpoint: config.dynamodbEndpoint });
  }
  return (await openSeededRoutingTable(config.regionsDir)).routing;
}
