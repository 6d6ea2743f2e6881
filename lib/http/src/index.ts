/**
 * @module @memmesh/http
 * The HTTP layer of both services (the region agent and the gateway): the API's route table
 * and the OpenAPI document generated from it, mounting a service's handlers from the table,
 * one error answer with one Retry-After rule, API key checks (scopes, expiry) and throttling
 * of failed authentication, bodies read within their byte limits, request
 * telemetry (server spans and per-route metrics), the service routes (health, readiness,
 * metrics, OpenAPI), serving on a socket and graceful shutdown.
 */
export {
  API,
  ApiKeyCreateBodySchema,
  ApiKeyCreatedSchema,
  ApiKeyListSchema,
  type ApiTable,
  HEADERS,
  type LoadResponse,
  LoadResponseSchema,
  type OperationId,
  RESPONSE_HEADERS,
  RegionsResponseSchema,
  type StatsResponse,
  StatsResponseSchema,
  TenantPolicyBodySchema,
} from './api.ts';
export { bearerKeyOf, checkApiKey, missingBearer, scopeOfKind } from './api-key-auth.ts';
export {
  AUTH_THROTTLE_CONFIG,
  type AuthThrottle,
  type AuthThrottleConfig,
  type AuthThrottleOptions,
  authThrottleOf,
  createAuthThrottle,
  KEY_PREFIX_CHARS,
  sourceAddressOf,
  UNKNOWN_SOURCE,
} from './auth-throttle.ts';
export { parseJsonBody, readBody } from './body.ts';
export {
  answerErrors,
  asMeshError,
  DEFAULT_RETRY_AFTER_MS,
  errorHeaders,
  errorResponse,
  retryAfterSeconds,
} from './errors.ts';
export {
  type Handlers,
  type MountOptions,
  mountRoutes,
  type RouteHandler,
  type RouteRequest,
  type ServedIds,
  UNDECLARED_BODY_BYTES_MAX,
} from './mount.ts';
export { DEFAULT_OPENAPI_INFO, type OpenApiInfo, openApiDocument } from './openapi.ts';
export { booleanParam, integerParam, maxStaleParam, memoryIdParam } from './params.ts';
export {
  type Charge,
  type CostLimiter,
  type CostLimiterOptions,
  createCostLimiter,
  createRateLimiter,
  type RateLimiter,
  takeAll,
} from './rate-limit.ts';
export {
  allowedMethods,
  type BodyOf,
  type HeaderSpec,
  type HttpMethod,
  honoPath,
  matchesPath,
  type ParamSpec,
  type ResponseSpec,
  type RouteAuth,
  type RouteKind,
  type RouteSpec,
  type RouteTable,
  routesOf,
  type Service,
} from './route-table.ts';
export {
  configOrExit,
  DEFAULT_HTTP_SERVER_LIMITS,
  type HttpServerLimits,
  type Served,
  type ServeOptions,
  type ServeUntilSignalledOptions,
  serveApp,
  serveUntilSignalled,
} from './serve.ts';
export { HTTP_SERVER_CONFIG, type HttpServerConfig, httpLimitsOf } from './server-config.ts';
export {
  type Readiness,
  type ServiceHandlers,
  type ServiceRoutesOptions,
  serviceHandlers,
} from './service-routes.ts';
export { type ShutdownOptions, shutDownOnSignals } from './shutdown.ts';
export {
  type AnsweredRequest,
  type HttpTelemetryOptions,
  httpTelemetry,
  metricsHandler,
  UNMATCHED_ROUTE,
} from './telemetry.ts';
