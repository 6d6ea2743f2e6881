/**
 * @module agent
 * Assembles a region agent from its configuration: the routing table, the parts, the region
 * service and the HTTP app. main.ts adds the environment, the listening socket and signals;
 * tests, the local mesh and the bench use this directly.
 */

import type { RoutingTable } from '@memmesh/routing';
import {
  type AgentMetrics,
  createMetrics,
  type Logger,
  type TracerProvider,
  tracerOf,
} from '@memmesh/telemetry';
import type { Hono } from 'hono';
import type { RegionAgentConfig } from './config/config.ts';
import { routingFor, withSharedRouting } from './config/routing.ts';
import { createApp } from './http/app.ts';
import type { AgentEnv } from './http/handlers.ts';
import { openRegion, type Region } from './ops/region.ts';
import { partsFor } from './parts/parts.ts';
import type { RegionParts } from './parts/types.ts';
import { lockDataDir } from './shards/data-dir-lock.ts';

export interface RegionAgent {
  readonly config: RegionAgentConfig;
  readonly region: Region;
  readonly routing: RoutingTable;
  readonly app: Hono<AgentEnv>;
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

export async function startRegionAgent(
  baseConfig: RegionAgentConfig,
  logger: Logger,
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
    const parts = overrides.parts ?? (await partsFor(config, logger, metrics));
    region = await openRegion({ config, parts, routing, logger, telemetry });
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const { tenantRequestsPerSecond, tenantBurst } = config;
  const app = createApp({
    region,
    routing,
    tenantRequestsPerSecond,
    tenantBurst,
    adminKey: config.adminKey,
    authThrottle: config,
    logger,
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
