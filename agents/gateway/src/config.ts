/**
 * @module config
 * The gateway's configuration: typed, with named defaults, read from the environment in one
 * place (`gatewayConfigFromEnv`, called only by main.ts) and validated once at start-up.
 */
import {
  ApiKeySchema,
  type EnvParser,
  LIMITS,
  numberParsersOf,
  parseConfig,
  REGION_PATTERN,
  ReadableFileSchema,
  readEnv,
} from '@memmesh/core';
import { AUTH_THROTTLE_CONFIG, HTTP_SERVER_CONFIG } from '@memmesh/http';
import { LogLevelSchema } from '@memmesh/telemetry';
import { z } from 'zod';

export const GatewayConfigSchema = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65_535),
    /** Region files and tenants.json that seed the in-memory routing table. */
    regionsDir: z.string().min(1),
    routing: z.enum(['memory', 'dynamodb']),
    dynamodbTable: z.string().min(3).max(255),
    dynamodbEndpoint: z.url().optional(),
    /** Region → base URL of its agents; overrides the endpoint stored in the routing table. */
    endpoints: z.record(z.string(), z.url()),
    /** The region the gateway runs in, as the `region` label of its metrics; unset = `global`. */
    region: z.string().regex(REGION_PATTERN, 'region must look like us-east-1').optional(),
    /** Where the gateway runs: before a region has answered a probe, distance is the RTT guess. */
    location: z.strictObject({
      latitude: z.number().min(-90).max(90),
      longitude: z.number().min(-180).max(180),
    }),
    probeIntervalMs: z.number().int().min(50),
    probeTimeoutMs: z.number().int().min(10),
    /** Weight of the newest probe in the RTT average. */
    ewmaAlpha: z.number().gt(0).max(1),
    /** Consecutive failed probes that mark a region unhealthy (a refused connection marks it at once). */
    probeFailuresMax: z.number().int().min(1),
    /** One attempt of a read; then the next region is asked. */
    readTimeoutMs: z.number().int().min(10),
    /** One attempt of a write; then the client gets 504 (the write may or may not be stored). */
    writeTimeoutMs: z.number().int().min(10),
    /** One attempt of a `?wait=true` write, which also waits for the home index. */
    writeWaitTimeoutMs: z.number().int().min(10),
    /**
     * Attempts of one request in all: regions tried by a read (hedges included), or sends of a
     * write to its home (repeated only after a refused connection, when nothing was sent).
     */
    attemptsMax: z.number().int().min(1).max(8),
    /** A second read goes to the next region if the first has not answered by then; 0 = off. */
    hedgeAfterMs: z.number().int().min(0),
    /** How long a replica may wait for a minVersion before the gateway asks the next region. */
    replicaWaitMs: z.number().int().min(0),
    routingCacheTtlMs: z.number().int().min(0),
    /** Largest request body the gateway reads and forwards (agents apply their own, smaller limits). */
    bodyBytesMax: z.number().int().min(1),
    /** Request header in which a client names its own region, to be served from there when healthy. */
    clientRegionHeader: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name'),
    shutdownTimeoutMs: z.number().int().min(100),
    /** Bearer key of the admin API (tenant policies); unset = the admin API is off. */
    adminKey: ApiKeySchema.optional(),
    /**
     * NATS of the gateway's region, where every admin change is appended to the region's
     * audit log (AUDIT_<REGION>); unset = admin changes are audited in the gateway's log only.
     */
    natsUrl: z.string().min(1).optional(),
    /** The gateway's NATS user (an nkey seed or a .creds file), and TLS to NATS as for agents. */
    natsCredsFile: ReadableFileSchema.optional(),
    natsTlsCaFile: ReadableFileSchema.optional(),
    logLevel: LogLevelSchema,
    /** Requests per second per tenant across every region, and the burst above it. */
    tenantRequestsPerSecond: z.number().min(1),
    tenantBurst: z.number().int().min(1),
    ...HTTP_SERVER_CONFIG.fields,
    /** Failed authentications per source and per key prefix before 429 (lib/http auth-throttle). */
    ...AUTH_THROTTLE_CONFIG.fields,
  })
  .refine(...HTTP_SERVER_CONFIG.timeoutsAgree)
  .refine((c) => c.natsUrl === undefined || c.region !== undefined, {
    path: ['region'],
    message: "is required with MEMMESH_GATEWAY_NATS_URL: the audit log is that region's",
  });
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export const DEFAULT_GATEWAY_CONFIG = {
  host: '127.0.0.1',
  port: 8080,
  regionsDir: new URL('../../../regions', import.meta.url).pathname,
  routing: 'memory',
  dynamodbTable: 'memmesh-routing',
  endpoints: {},
  // us-east-1's location: the local mesh runs the gateway "there".
  location: { latitude: 38.9, longitude: -77.0 },
  probeIntervalMs: 500,
  probeTimeoutMs: 500,
  ewmaAlpha: 0.3,
  probeFailuresMax: 2,
  // A read that takes longer is better asked elsewhere: searches answer in milliseconds.
  readTimeoutMs: 1_000,
  // Writes embed at ingest (a remote model in production) and a batch holds up to 100
  // documents: a slow write is normal, and a timed-out write is an uncertain one.
  writeTimeoutMs: 10_000,
  // The write plus the agents' MEMMESH_WAIT_APPLIED_MS_MAX (10 s), so that the agent answers first.
  writeWaitTimeoutMs: 20_000,
  attemptsMax: 3,
  hedgeAfterMs: 0,
  replicaWaitMs: 250,
  routingCacheTtlMs: 5_000,
  bodyBytesMax: LIMITS.batchBodyBytesMax,
  clientRegionHeader: 'X-Client-Region',
  shutdownTimeoutMs: 10_000,
  logLevel: 'info',
  // The agents' own default in each region: a tenant gets at most one region's worth in all.
  tenantRequestsPerSecond: 2_000,
  tenantBurst: 4_000,
  ...HTTP_SERVER_CONFIG.defaults,
  ...AUTH_THROTTLE_CONFIG.defaults,
} as const satisfies Omit<
  GatewayConfig,
  'dynamodbEndpoint' | 'adminKey' | 'region' | 'natsUrl' | 'natsCredsFile' | 'natsTlsCaFile'
>;

/** Environment variable of each field, documented in the README. */
export const GATEWAY_ENV_NAMES = {
  host: 'MEMMESH_GATEWAY_HOST',
  port: 'MEMMESH_GATEWAY_PORT',
  regionsDir: 'MEMMESH_REGIONS_DIR',
  routing: 'MEMMESH_ROUTING',
  dynamodbTable: 'MEMMESH_DYNAMODB_TABLE',
  dynamodbEndpoint: 'MEMMESH_DYNAMODB_ENDPOINT',
  endpoints: 'MEMMESH_REGION_ENDPOINTS',
  region: 'MEMMESH_GATEWAY_REGION',
  location: 'MEMMESH_GATEWAY_LOCATION',
  probeIntervalMs: 'MEMMESH_PROBE_INTERVAL_MS',
  probeTimeoutMs: 'MEMMESH_PROBE_TIMEOUT_MS',
  ewmaAlpha: 'MEMMESH_PROBE_EWMA_ALPHA',
  probeFailuresMax: 'MEMMESH_PROBE_FAILURES_MAX',
  readTimeoutMs: 'MEMMESH_READ_TIMEOUT_MS',
  writeTimeoutMs: 'MEMMESH_WRITE_TIMEOUT_MS',
  writeWaitTimeoutMs: 'MEMMESH_WRITE_WAIT_TIMEOUT_MS',
  attemptsMax: 'MEMMESH_GATEWAY_ATTEMPTS_MAX',
  hedgeAfterMs: 'MEMMESH_HEDGE_AFTER_MS',
  replicaWaitMs: 'MEMMESH_REPLICA_WAIT_MS',
  routingCacheTtlMs: 'MEMMESH_ROUTING_CACHE_TTL_MS',
  bodyBytesMax: 'MEMMESH_GATEWAY_BODY_BYTES_MAX',
  clientRegionHeader: 'MEMMESH_CLIENT_REGION_HEADER',
  shutdownTimeoutMs: 'MEMMESH_SHUTDOWN_TIMEOUT_MS',
  adminKey: 'MEMMESH_GATEWAY_ADMIN_KEY',
  natsUrl: 'MEMMESH_GATEWAY_NATS_URL',
  natsCredsFile: 'MEMMESH_GATEWAY_NATS_CREDS',
  natsTlsCaFile: 'MEMMESH_GATEWAY_NATS_TLS_CA',
  logLevel: 'MEMMESH_LOG_LEVEL',
  tenantRequestsPerSecond: 'MEMMESH_TENANT_RPS',
  tenantBurst: 'MEMMESH_TENANT_BURST',
  ...HTTP_SERVER_CONFIG.envNames,
  ...AUTH_THROTTLE_CONFIG.envNames,
} as const satisfies Record<keyof GatewayConfig, string>;

/** How each variable that is not a plain string is read: numbers by the schema, and the lists. */
const ENV_PARSERS: Partial<Record<keyof GatewayConfig, EnvParser>> = {
  ...numberParsersOf(GatewayConfigSchema),
  endpoints: 'pairs',
  location: parseLocation,
};

export function resolveGatewayConfig(overrides: Partial<GatewayConfig>): GatewayConfig {
  return parseConfig(GatewayConfigSchema, { ...DEFAULT_GATEWAY_CONFIG, ...overrides }, GATEWAY_ENV_NAMES);
}

/** Reads the MEMMESH_* variables of GATEWAY_ENV_NAMES; unset ones keep their defaults. */
export function gatewayConfigFromEnv(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  return resolveGatewayConfig(readEnv(env, GATEWAY_ENV_NAMES, ENV_PARSERS) as Partial<GatewayConfig>);
}

/** `lat,lon` in degrees; anything else becomes NaN and is refused by the schema. */
function parseLocation(value: string): { latitude: number; longitude: number } {
  const parts = value.split(',');
  if (parts.length !== 2) return { latitude: Number.NaN, longitude: Number.NaN };
  return { latitude: Number(parts[0]), longitude: Number(parts[1]) };
}
