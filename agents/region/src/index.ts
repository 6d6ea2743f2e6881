/**
 * @module @memmesh/region-agent
 * The region agent as a library, for tests, the local mesh and the bench.
 */

export { type RegionAgent, type RegionAgentOverrides, startRegionAgent } from './agent.ts';
export {
  configFromEnv,
  DEFAULT_API_KEYS,
  DEFAULT_REGION_AGENT_CONFIG,
  ENV_NAMES,
  type RegionAgentConfig,
  resolveConfig,
} from './config/config.ts';
export { embeddedRouting, routingFor, type SettledRouting } from './config/routing.ts';
export { type AppOptions, createApp } from './http/app.ts';
export type { AgentEnv } from './http/handlers.ts';
export { type OpenRegionOptions, openRegion, type Region, type SearchOptions } from './ops/region.ts';
export {
  DEFAULT_INDEX_BACKEND,
  embedderRetryCounter,
  instrumentCache,
  instrumentEmbedder,
  instrumentIndex,
  instrumentParts,
  instrumentPublisher,
} from './parts/instrument.ts';
export { embeddedParts, partsFor } from './parts/parts.ts';
export type { RegionParts, RegionTelemetry } from './parts/types.ts';
