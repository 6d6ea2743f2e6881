/**
 * @module app
 * The Hono app of the region agent: the public API of DESIGN §6, mounted from the route
 * table of `@memmesh/http`. Tenant routes are authenticated (a key holding the scope of the
 * route's kind; failed attempts throttled) and rate-limited before their handler runs; one error answer turns every error into `{error: {code, message}}` with the
 * status of its code, so bad input is a 4xx and never a 500. Every answer of a tenant route
 * says which region gave it (`X-Memmesh-Region`), as it does through the gateway. `/mcp` is
 * the gateway's stateless MCP endpoint (@memmesh/mcp), here behind the agent's own key check.
 */
import {
  API,
  AUTH_THROTTLE_CONFIG,
  type AuthThrottleConfig,
  answerErrors,
  authThrottleOf,
  createRateLimiter,
  HEADERS,
  httpTelemetry,
  mountRoutes,
  openApiDocument,
  scopeOfKind,
  serviceHandlers,
  sourceAddressOf,
} from '@memmesh/http';
import { mountMcp } from '@memmesh/mcp';
import type { ApiKeyScope, RoutingTable } from '@memmesh/routing';
import { createMetrics, type Logger, tracerOf } from '@memmesh/telemetry';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { Region } from '../ops/region.ts';
import type { RegionTelemetry } from '../parts/types.ts';
import { checkAdminKey, isAdminKey, loadHandlers, reindexHandlers } from './admin.ts';
import { tenantOfRequest } from './auth.ts';
import { erasureHandlers } from './erasure.ts';
import { type AgentEnv, memoryHandlers } from './handlers.ts';

export interface AppOptions {
  region: Region;
  routing: RoutingTable;
  tenantRequestsPerSecond: number;
  tenantBurst: number;
  /** The operator's admin key: the admin routes (re-indexing) are off without it. */
  adminKey?: string | undefined;
  /** Failed authentications allowed per source and key prefix, and whose address counts; defaults when omitted. */
  authThrottle?: AuthThrottleConfig;
  logger: Logger;
  /** Metrics served at /metrics and the tracer of the server spans; fresh ones when omitted. */
  telemetry?: RegionTelemetry;
}

export function createApp(options: AppOptions): Hono<AgentEnv> {
  const { region, logger } = options;
  const limiter = createRateLimiter(options.tenantRequestsPerSecond, options.tenantBurst);
  const throttleConfig = options.authThrottle ?? AUTH_THROTTLE_CONFIG.defaults;
  const throttle = authThrottleOf(throttleConfig);
  const { httpTrustedProxyHops } = throttleConfig;
  const telemetry = options.telemetry ?? {
    metrics: createMetrics({ region: region.region, service: 'region-agent' }),
    tracer: tracerOf(),
  };
  const app = new Hono<AgentEnv>();
  app.use('*', agentHttpTelemetry(telemetry));
  app.use('/v1/*', servedBy(region.region));
  answerErrors(app, logger);
  /** The caller's tenant, with a key of `scope`, within its limit here (429 past it). */
  const tenantOf = async (c: Context<AgentEnv>, scope: ApiKeyScope) => {
    const tenant = await tenantOfRequest(options.routing, throttle, {
      authorization: c.req.header('authorization'),
      source: sourceAddressOf(c, httpTrustedProxyHops),
      scope,
    });
    limiter.take(tenant);
    return tenant;
  };
  // The same stateless MCP endpoint as the gateway's, for agents that talk to a region directly.
  mountMcp(app, {
    authenticate: (c) => tenantOf(c, 'read'),
    onError: (err) => logger.warn('mcp request failed', { err }),
  });
  mountRoutes(app, {
    table: API,
    service: 'agent',
    handlers: {
      ...serviceHandlers({
        readiness: () => ({ ready: region.ready }),
        registry: telemetry.metrics.registry,
        openapi: openApiDocument(API, 'agent'),
      }),
      ...memoryHandlers(region),
      ...reindexHandlers(region),
      ...loadHandlers(region),
      ...erasureHandlers(region, (c) => sourceAddressOf(c, httpTrustedProxyHops)),
    },
    async guard(c, route) {
      if (route.auth === 'admin') {
        const source = sourceAddressOf(c, httpTrustedProxyHops);
        return checkAdminKey(options.adminKey, throttle, {
          authorization: c.req.header('authorization'),
          source,
        });
      }
      if (route.auth !== 'tenant') return;
      // A tenant's admin route (erasing the tenant) also takes the operator's key.
      if (route.kind === 'admin' && isAdminKey(options.adminKey, c.req.header('authorization'))) {
        c.set('operator', true);
        return;
      }
      c.set('tenant', await tenantOf(c, scopeOfKind(route.kind)));
    },
  });
  return app;
}

/** `X-Memmesh-Region` on every answer, errors included. */
function servedBy(region: string): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.res.headers.set(HEADERS.region, region);
  };
}

/** Server spans and `memmesh_http_*` metrics for every request of the agent's app. */
function agentHttpTelemetry(telemetry: RegionTelemetry): MiddlewareHandler {
  const { metrics } = telemetry;
  return httpTelemetry({
    tracer: telemetry.tracer,
    onAnswered({ route, method, status, durationSeconds }) {
      metrics.httpRequests.inc({ route, method, status: String(status) });
      metrics.httpRequestDurationSeconds.observe({ route, method }, durationSeconds);
    },
  });
}
