/**
 * @module @memmesh/gateway
 * The gateway as a library, for tests, the local mesh and the bench.
 */
export { createGatewayApp, type GatewayAppOptions, NO_SERVING_REGION } from './app.ts';
export {
  DEFAULT_GATEWAY_CONFIG,
  GATEWAY_ENV_NAMES,
  type GatewayConfig,
  GatewayConfigSchema,
  gatewayConfigFromEnv,
  resolveGatewayConfig,
} from './config.ts';
export {
  createDispatcher,
  type Dispatcher,
  type DispatchTelemetry,
  UNAVAILABLE_RETRY_AFTER_MS,
} from './dispatch.ts';
export {
  GATEWAY_METRICS_REGION_DEFAULT,
  type Gateway,
  type GatewayTelemetryOptions,
  startGateway,
} from './gateway.ts';
export {
  distanceGuessMs,
  type ProbeOptions,
  type Probes,
  type RegionEntry,
  type RegionState,
  startProbes,
} from './probes.ts';
export {
  type Answer,
  type AnswerHeaders,
  createRegionClient,
  type FailureKind,
  type Forward,
  isRetryableStatus,
  type Outcome,
  type RegionClient,
  type RegionClientOptions,
} from './proxy.ts';
export { candidates, type RegionLookup, type RequestKind } from './routes.ts';
export { createTenantLookups, type TenantLookups } from './tenants.ts';
