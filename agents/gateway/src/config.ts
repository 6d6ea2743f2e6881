/**
 * @module config
 * The gateway's configuration, read from the environment in main.ts only and validated once.
 */
import { parseConfig, parsePairs } from '@memmesh/core';
import { z } from 'zod';

export const GatewayConfigSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(0).max(65_535),
  /** Region files and tenants.json that seed the in-memory routing table. */
  regionsDir: z.string().min(1),
  routing: z.enum(['memory', 'dynamodb']),
  dynamodbTable: z.string().min(3).max(255),
  dynamodbEndpoint: z.url().optional(),
  /** Region → base URL of its agents; overrides the endpoint stored in the routing table. */
  endpoints: z.record(z.string(), z.url()),
  /** Where the gateway runs: the first latency guess is the distance to each region. */
  location: z.strictObject({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
  }),
  probeIntervalMs: z.number().int().min(50),
  probeTimeoutMs: z.number().int().min(10),
  /** Weight of the newest probe in the RTT average. */
  ewmaAlpha: z.number().gt(0).max(1),
  /** Consecutive failed probes that mark a region unhealthy. */
  probeFailuresMax: z.number().int().min(1),
  readTimeoutMs: z.number().int().min(10),
  writeTimeoutMs: z.number().int().min(10),
  /** A second read goes to the next region if the first has not answered by then; 0 = off. */
  hedgeAfterMs: z.number().int().min(0),
  /** How long a replica may wait for a minVersion before the gateway asks the next region. */
  replicaWaitMs: z.number().int().min(0),
  routingCacheTtlMs: z.number().int().min(0),
  /** Bearer key of the admin API (tenant policies); unset = the admin API is off. */
  adminKey: z.string().min(12, 'the admin key must be at least 12 characters').optional(),
});
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export const DEFAULT_GATEWAY_CONFIG = {
  host: '127.0.0.1',
  port: 8080,
  regionsDir: new URL('../../../regions', import.meta.url).pathname,
  routing: 'memory',
  dynamodbTable: 'memmesh-routing',
  endpoints: {},
  location: { latitude: 38.9, longitude: -77.0 },
  probeIntervalMs: 500,
  probeTimeoutMs: 500,
  ewmaAlpha: 0.3,
  probeFailuresMax: 2,
  readTimeoutMs: 2_000,
  // A write with ?wait=true may wait for the home index (MEMMESH_WAIT_APPLIED_MS_MAX, 10 s).
  writeTimeoutMs: 15_000,
  hedgeAfterMs: 0,
  replicaWaitMs: 250,
  routingCacheTtlMs: 5_000,
} as const satisfies Omit<GatewayConfig, never>;

export const GATEWAY_ENV_NAMES = {
  host: 'MEMMESH_GATEWAY_HOST',
  port: 'MEMMESH_GATEWAY_PORT',
  regionsDir: 'MEMMESH_REGIONS_DIR',
  routing: 'MEMMESH_ROUTING',
  dynamodbTable: 'MEMMESH_DYNAMODB_TABLE',
  dynamodbEndpoint: 'MEMMESH_DYNAMODB_ENDPOINT',
  endpoints: 'MEMMESH_REGION_ENDPOINTS',
  location: 'MEMMESH_GATEWAY_LOCATION',
  probeIntervalMs: 'MEMMESH_PROBE_INTERVAL_MS',
  probeTimeoutMs: 'MEMMESH_PROBE_TIMEOUT_MS',
  ewmaAlpha: 'MEMMESH_PROBE_EWMA_ALPHA',
  probeFailuresMax: 'MEMMESH_PROBE_FAILURES_MAX',
  readTimeoutMs: 'MEMMESH_READ_TIMEOUT_MS',
  writeTimeoutMs: 'MEMMESH_WRITE_TIMEOUT_MS',
  hedgeAfterMs: 'MEMMESH_HEDGE_AFTER_MS',
  replicaWaitMs: 'MEMMESH_REPLICA_WAIT_MS',
  routingCacheTtlMs: 'MEMMESH_ROUTING_CACHE_TTL_MS',
  adminKey: 'MEMMESH_GATEWAY_ADMIN_KEY',
} as const satisfies Record<keyof GatewayConfig, string>;

export function resolveGatewayConfig(overrides: Partial<GatewayConfig>): GatewayConfig {
  return parseConfig(GatewayConfigSchema, { ...DEFAULT_GATEWAY_CONFIG, ...overrides }, GATEWAY_ENV_NAMES);
}

export function gatewayConfigFromEnv(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const overrides: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(GATEWAY_ENV_NAMES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (field === 'endpoints') overrides[field] = parsePairs(value);
    else if (field === 'location') {
      const [latitude, longitude] = value.split(',').map(Number);
      overrides[field] = { latitude, longitude };
    } else if (
      ['host', 'regionsDir', 'routing', 'dynamodbTable', 'dynamodbEndpoint', 'adminKey'].includes(field)
    )
      overrides[field] = value;
    else overrides[field] = Number(value);
  }
  return resolveGatewayConfig(overrides as Partial<GatewayConfig>);
}
