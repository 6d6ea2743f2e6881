/**
 * @module @memmesh/region-agent
 * The region agent as a library, for tests, the local mesh and the bench.
 */

export {
  embeddedParts,
  embeddedRouting,
  partsFor,
  type RegionAgent,
  type RegionAgentOverrides,
  routingFor,
  startRegionAgent,
} from './agent.ts';
export { type AppOptions, createApp } from './app.ts';
export {
  configFromEnv,
  DEFAULT_API_KEYS,
  DEFAULT_REGION_AGENT_CONFIG,
  ENV_NAMES,
  type RegionAgentConfig,
  resolveConfig,
} from './config.ts';
export {
  DEFAULT_INDEX_BACKEND,
  embedderRetryCounter,
  instrumentCache,
  instrumentEmbedder,
  instrumentIndex,
  instrumentParts,
  instrumentPublisher,
  type RegionTelemetry,
} from './instrument.ts';
export { createLogger, type Logger, silentLogger } from './log.ts';
export { openApiDocument } from './openapi.ts';
export { openRegion, type Region, type RegionParts, type SearchOptions } from './region.ts';
export { type ShutdownOptions, shutDownOnSignals } from './shutdown.ts';
