/**
 * @module app
 * The gateway's Hono app: the public API of DESIGN §6, in front of the region agents, mounted
 * from the route table of `@memmesh/http`. It authenticates (API key → tenant) itself, so that
 * bad keys never leave the gateway; looks up where the tenant lives; and sends the request to
 * the best region for it — the home for writes, the nearest healthy holder for reads, failing
 * over in order (dispatch.ts). Every tenant route that agents serve is proxied, so a route
 * added to the table reaches the agents with no edit here. Every proxied answer says which
 * region served it (`X-Memmesh-Region`). A key must hold the scope of the route's kind (403
 * otherwise), and failed authentications are throttled per source and key prefix (429). The
 * agents check the key again: the gateway forwards `Authorization` unchanged.
 */

import { ErrorCode, MeshError } from '@memmesh/core';
import {
  API,
  answerErrors,
  authThrottleOf,
  createRateLimiter,
  type Handlers,
  HEADERS,
  httpTelemetry,
  mountRoutes,
  openApiDocument,
  type RouteHandler,
  type RouteKind,
  readBody,
  routesOf,
  type ServedIds,
  serviceHandlers,
} from '@memmesh/http';
import { mountMcp } from '@memmesh/mcp';
import type { RoutingTable } from '@memmesh/routing';
import { createMetrics, type GatewayMetrics, type Logger, type Tracer, tracerOf } from '@memmesh/telemetry';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { adminGuard, adminHandlers } from './admin.ts';
import { type AdminAudit, logAudit } from './audit.ts';
import type { GatewayConfig } from './config.ts';
import { createDispatcher, type Dispatcher } from './dispatch.ts';
import { erasureHandlers } from './erasure.ts';
import { keyHandlers } from './keys.ts';
import type { Probes } from './probes.ts';
import type { Answer, Forward, RegionClient } from './proxy.ts';
import { reindexHandlers } from './reindex.ts';
import { candidates } from './routes.ts';
import { createTenantLookups, type TenantLookups, unavailableWhenDown } from './tenants.ts';

export interface GatewayAppOptions {
  config: GatewayConfig;
  /** Read through a cache (withReadCache): every request looks up its key and policy. */
  routing: RoutingTable;
  probes: Probes;
  log: Logger;
  /** Readiness: routing data has been loaded. Always ready when omitted. */
  ready?: () => boolean;
  /** Served at /metrics; a fresh registry when omitted. */
  metrics?: GatewayMetrics;
  /** Makes the server and proxy spans; the global tracer (a no-op unless registered) when omitted. */
  tracer?: Tracer;
  /** Where admin changes are recorded; the gateway's log when omitted. */
  audit?: AdminAudit;
  /** Sends requests to the regions; the caller closes it. Pools of the app's own when omitted. */
  client?: RegionClient;
}

/** `serving_region` of an answer the gateway gave itself (auth, limits, no region reachable). */
export const NO_SERVING_REGION = 'none';

/** Request headers the agents need; everything else (cookies, hop-by-hop) stays here. */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept', HEADERS.cacheControl] as const;
/** Answer headers the client needs besides the body. */
const RELAYED_RESPONSE_HEADERS = [
  'content-type',
  HEADERS.retryAfter,
  HEADERS.wwwAuthenticate,
  HEADERS.allow,
  HEADERS.stale,
  HEADERS.age,
] as const;

type GatewayHandlers = Handlers<typeof API, 'gateway'>;
type Api = typeof API;
/** Tenant routes that agents serve: the gateway proxies each of them. */
type ProxiedIds = {
  [K in ServedIds<Api, 'agent'>]: Api['routes'][K]['kind'] extends 'read' | 'write' ? K : never;
}[ServedIds<Api, 'agent'>];

export function createGatewayApp(options: GatewayAppOptions): Hono {
  const { config, probes, log } = options;
  const metrics = options.metrics ?? createMetrics({ region: 'global', service: 'gateway' });
  const tracer = options.tracer ?? tracerOf();
  const dispatch = createDispatcher(config, probes, log, { metrics, tracer }, { client: options.client });
  // One throttle for tenant and admin keys: guesses at either from one source add up.
  const throttle = authThrottleOf(config);
  const trustedProxyHops = config.httpTrustedProxyHops;
  const lookups = createTenantLookups({
    routing: options.routing,
    log,
    throttle,
    trustedProxyHops,
    adminKey: config.adminKey,
  });
  const adminTable = unavailableWhenDown(options.routing, log);
  const audit = options.audit ?? logAudit(log, config.region ?? 'global');
  const limiter = createRateLimiter(config.tenantRequestsPerSecond, config.tenantBurst);
  /** The caller's tenant, with a key of `scope`, within its limit across all regions (429 past it). */
  const tenantOf = async (c: Context, scope: 'read' | 'write') => {
    const { tenant } = await lookups.keyOf(c, scope);
    limiter.take(tenant);
    return tenant;
  };
  const app = new Hono();
  app.use('*', gatewayHttpTelemetry(metrics, tracer));
  answerErrors(app, log);
  const service = serviceHandlers({
    readiness: () => {
      const regions = probes.all();
      const details = { regions: regions.length, healthy: regions.filter((r) => r.healthy).length };
      return { ready: (options.ready?.() ?? true) && regions.length > 0, details };
    },
    registry: metrics.registry,
    // The gateway serves the same public API as the region agents, plus its own routes.
    openapi: openApiDocument(API, 'gateway'),
  });
  const toRegion = regionSender(config, probes, dispatch);
  const handlers: GatewayHandlers = {
    ...service,
    ...proxyHandlers({ config, probes, dispatch, lookups, tenantOf }),
    ...adminHandlers({ routing: adminTable, audit, trustedProxyHops }),
    ...keyHandlers({ routing: adminTable, lookups, audit, trustedProxyHops }),
    ...erasureHandlers(lookups, (c, region, write) => toRegion(c, region, undefined, write)),
    ...reindexHandlers((c, region, body) => toRegion(c, region, body, c.req.method !== 'GET')),
    // The operator's view of a region's load: one of its agents answers (each counts its own).
    getLoad: (c) => {
      const region = c.req.query('region');
      if (!region) throw new MeshError(ErrorCode.BadRequest, 'region is required');
      return toRegion(c, region, undefined, false);
    },
    // Tenants see what the gateway sees: RTT and health per region. Internal addresses (the
    // endpoints, and failure reasons that quote them) are left out: they are operators' business.
    async listRegions(c) {
      await tenantOf(c, 'read');
      const regions = probes
        .all()
        .map(({ region, status, rttMs, healthy, probed }) => ({ region, status, rttMs, healthy, probed }));
      return c.json({ regions });
    },
  };
  const admin = adminGuard({ adminKey: config.adminKey, throttle, trustedProxyHops });
  mountMcp(app, {
    authenticate: (c) => tenantOf(c, 'read'),
    onError: (err) => log.warn('mcp request failed', { err }),
  });
  mountRoutes(app, {
    table: API,
    service: 'gateway',
    handlers,
    guard: (c, route) => (route.auth === 'admin' ? admin(c) : undefined),
  });
  return app;
}

/**
 * Sends an admin request to the one region that holds its job (a re-index's, an erasure's)
 * and relays the answer: no other region is asked instead.
 */
function regionSender(config: GatewayConfig, probes: Probes, dispatch: Dispatcher) {
  return async (c: Context, region: string, body: Uint8Array | undefined, write: boolean) => {
    if (!probes.all().some((p) => p.region === region)) {
      throw new MeshError(ErrorCode.BadRequest, `unknown region ${region}`);
    }
    const url = new URL(c.req.url);
    const request: Forward = {
      method: c.req.method,
      pathAndQuery: `${url.pathname}${url.search}`,
      headers: { ...forwardedHeaders(c), ...(body ? { 'content-type': 'application/json' } : {}) },
      body,
      timeoutMs: config.writeTimeoutMs,
    };
    return relay(
      write
        ? await dispatch.write(region, request, c.req.raw.signal)
        : await dispatch.read(region, [region], request, c.req.raw.signal),
    );
  };
}

interface ProxyDeps {
  config: GatewayConfig;
  probes: Probes;
  dispatch: Dispatcher;
  lookups: TenantLookups;
  tenantOf: (c: Context, scope: 'read' | 'write') => Promise<string>;
}

/** A proxy handler for every tenant route that the agents serve, by its kind. */
function proxyHandlers(deps: ProxyDeps): Pick<GatewayHandlers, ProxiedIds> {
  const handlers: Record<string, RouteHandler<unknown>> = {};
  for (const [id, route] of routesOf(API, 'gateway')) {
    const { kind } = route;
    if (route.servedBy.includes('agent') && (kind === 'read' || kind === 'write'))
      handlers[id] = proxy(deps, kind);
  }
  return handlers as Pick<GatewayHandlers, ProxiedIds>;
}

function proxy(
  { config, probes, dispatch, lookups, tenantOf }: ProxyDeps,
  kind: 'read' | 'write',
): RouteHandler<unknown> {
  return async (c, request) => {
    const policy = await lookups.policyOf(await tenantOf(c, kind));
    const url = new URL(c.req.url);
    const bytes = await readBoundedBody(c, request, config.bodyBytesMax);
    const forward: Forward = {
      method: c.req.method,
      pathAndQuery: `${url.pathname}${url.search}`,
      headers: forwardedHeaders(c),
      body: bytes,
      timeoutMs: attemptTimeoutMs(config, kind, url),
    };
    const signal = c.req.raw.signal;
    if (kind === 'write') return relay(await dispatch.write(policy.home, forward, signal));
    const order = candidates(policy, 'read', probes, c.req.header(config.clientRegionHeader));
    return relay(await dispatch.read(policy.home, order, forward, signal));
  };
}

/** The body within the route's limit and the gateway's own (which may be set lower). */
function readBoundedBody(c: Context, request: Parameters<RouteHandler<unknown>>[1], gatewayBytesMax: number) {
  const routeBytesMax = request.route.bodyBytesMax;
  if (routeBytesMax !== undefined && routeBytesMax <= gatewayBytesMax) return request.bytes();
  return readBody(c, gatewayBytesMax);
}

/** Server spans and `memmesh_gateway_request*` metrics, labelled with the region that answered. */
function gatewayHttpTelemetry(metrics: GatewayMetrics, tracer: Tracer): MiddlewareHandler {
  return httpTelemetry({
    tracer,
    onAnswered({ route, method, status, durationSeconds, response }) {
      const servingRegion = response.headers.get(HEADERS.region) ?? NO_SERVING_REGION;
      metrics.requests.inc({ route, method, status: String(status), serving_region: servingRegion });
      metrics.requestDurationSeconds.observe({ route, method }, durationSeconds);
    },
  });
}

/** A `?wait=true` write also waits for the home index, so its attempt may last longer. */
function attemptTimeoutMs(config: GatewayConfig, kind: RouteKind, url: URL): number {
  if (kind === 'read') return config.readTimeoutMs;
  const wait = url.searchParams.get('wait');
  return wait === null || wait === 'false' || wait === '0'
    ? config.writeTimeoutMs
    : config.writeWaitTimeoutMs;
}

function relay(answer: Answer): Response {
  const headers = new Headers({ [HEADERS.region]: answer.region });
  for (const name of RELAYED_RESPONSE_HEADERS) {
    const value = answer.headers.get(name);
    if (value) headers.set(name, value);
  }
  const empty = answer.status === 204 || answer.status === 205 || answer.status === 304;
  return new Response(empty ? null : answer.body, { status: answer.status, headers });
}

function forwardedHeaders(c: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = c.req.header(name);
    if (value) headers[name] = value;
  }
  return headers;
}
