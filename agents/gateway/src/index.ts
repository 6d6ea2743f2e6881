/**
 * @module @memmesh/gateway
 * The gateway as a library, for tests and the local mesh.
 */
export { createGatewayApp, type GatewayAppOptions } from './app.ts';
export {
  DEFAULT_GATEWAY_CONFIG,
  GATEWAY_ENV_NAMES,
  type GatewayConfig,
  gatewayConfigFromEnv,
  resolveGatewayConfig,
} from './config.ts';
export { type Gateway, startGateway } from './gateway.ts';
export { distanceGuessMs, type Probes, type RegionState, startProbes } from './probes.ts';
export { candidates, type RequestKind } from './routes.ts';
