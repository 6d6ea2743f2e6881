/**
 * @module app
 * The gateway's Hono app: the public API of DESIGN §6, in front of the region agents. It
 * authenticates (API key → tenant) itself, so that bad keys never leave the gateway; looks
 * up where the tenant lives; and sends the request to the best region for it — the home for
 * writes, the nearest healthy holder for reads, failing over in order (dispatch.ts). Every
 * proxied answer says which region served it (`X-Memmesh-Region`). The agents check the
 * key again: the gateway forwards `Authorization` unchanged.
 */
import { ErrorCode, httpStatusOf, MeshError } from '@memmesh/core';
import { type Logger, openApiDocument } from '@memmesh/region-agent';
import type { RoutingTable, TenantPolicy } from '@memmesh/routing';
import {
  createMetrics,
  type GatewayMetrics,
  httpTelemetry,
  metricsHandler,
  type Tracer,
  tracerOf,
} from '@memmesh/telemetry';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { mountAdmin } from './admin.ts';
import type { GatewayConfig } from './config.ts';
import { createDispatcher, UNAVAILABLE_RETRY_AFTER_MS } from './dispatch.ts';
import type { Probes } from './probes.ts';
import type { Answer, Forward } from './proxy.ts';
import { candidates, type RequestKind } from './routes.ts';
import { createTenantLookups } from './tenants.ts';

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
}

/** `serving_region` of an answer the gateway gave itself (auth, limits, no region reachable). */
export const NO_SERVING_REGION = 'none';

/** Request headers the agents need; everything else (cookies, hop-by-hop) stays here. */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept'] as const;
/** Answer headers the client needs besides the body. */
const RELAYED_RESPONSE_HEADERS = ['content-type', 'retry-after', 'www-authenticate'] as const;

export function createGatewayApp(options: GatewayAppOptions): Hono {
  const { config, probes, log } = options;
  const metrics = options.metrics ?? createMetrics({ region: 'global', service: 'gateway' });
  const tracer = options.tracer ?? tracerOf();
  const dispatch = createDispatcher(config, probes, log, { metrics, tracer });
  const { tenantOf, policyOf } = createTenantLookups(options.routing, log);
  const app = new Hono();
  // The gateway serves the same public API as the region agents, so it publishes the same spec.
  const openapi = JSON.stringify(openApiDocument());

  app.use('*', gatewayHttpTelemetry(metrics, tracer));
  app.onError((err, c) => errorResponse(c, err, log));
  app.notFound((c) =>
    errorResponse(c, new MeshError(ErrorCode.NotFound, `no route ${c.req.method} ${c.req.path}`), log),
  );
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const regions = probes.all();
    const body = { regions: regions.length, healthy: regions.filter((r) => r.healthy).length };
    const ready = (options.ready?.() ?? true) && regions.length > 0;
    return ready ? c.json({ status: 'ready', ...body }) : c.json({ status: 'not ready', ...body }, 503);
  });
  app.get('/openapi.json', (c) => c.body(openapi, 200, { 'content-type': 'application/json' }));
  // Unauthenticated, like /healthz: labels carry no tenant data, and scrapers hold no API keys.
  app.get('/metrics', metricsHandler(metrics.registry));

  // Tenants see what the gateway sees: RTT and health per region. Internal addresses (the
  // endpoints, and failure reasons that quote them) are left out: they are operators' business.
  app.get('/v1/regions', async (c) => {
    await tenantOf(c.req.header('authorization'));
    const regions = probes
      .all()
      .map(({ region, status, rttMs, healthy, probed }) => ({ region, status, rttMs, healthy, probed }));
    return c.json({ regions });
  });
  // The admin API has its own key; tenant keys do not open it.
  mountAdmin(app, options.routing, config.adminKey);

  const proxy = (kind: RequestKind) => async (c: Context) => {
    const policy = await policyOf(await tenantOf(c.req.header('authorization')));
    const url = new URL(c.req.url);
    const request: Forward = {
      method: c.req.method,
      pathAndQuery: `${url.pathname}${url.search}`,
      headers: forwardedHeaders(c),
      body: await readBody(c.req.raw, config.bodyBytesMax),
      timeoutMs: attemptTimeoutMs(config, kind, url),
    };
    const signal = c.req.raw.signal;
    const answer =
      kind === 'write'
        ? await dispatch.write(policy.home, request, signal)
        : await dispatch.read(policy.home, readOrder(policy, c), request, signal);
    return relay(answer);
  };
  app.post('/v1/memories', proxy('write'));
  app.post('/v1/memories/batch', proxy('write'));
  app.get('/v1/memories/*', proxy('read'));
  app.delete('/v1/memories/*', proxy('write'));
  app.post('/v1/search', proxy('read'));
  app.get('/v1/stats', proxy('read'));

  function readOrder(policy: TenantPolicy, c: Context): string[] {
    return candidates(policy, 'read', probes, c.req.header(config.clientRegionHeader));
  }

  return app;
}

/** Server spans and `memmesh_gateway_request*` metrics, labelled with the region that answered. */
function gatewayHttpTelemetry(metrics: GatewayMetrics, tracer: Tracer): MiddlewareHandler {
  return httpTelemetry({
    tracer,
    onAnswered({ route, method, status, durationSeconds, response }) {
      const servingRegion = response.headers.get('x-memmesh-region') ?? NO_SERVING_REGION;
      metrics.requests.inc({ route, method, status: String(status), serving_region: servingRegion });
      metrics.requestDurationSeconds.observe({ route, method }, durationSeconds);
    },
  });
}

/** A `?wait=true` write also waits for the home index, so its attempt may last longer. */
function attemptTimeoutMs(config: GatewayConfig, kind: RequestKind, url: URL): number {
  if (kind === 'read') return config.readTimeoutMs;
  const wait = url.searchParams.get('wait');
  return wait === null || wait === 'false' || wait === '0'
    ? config.writeTimeoutMs
    : config.writeWaitTimeoutMs;
}

function relay(answer: Answer): Response {
  const headers = new Headers({ 'x-memmesh-region': answer.region });
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

/**
 * The body, read as it arrives and refused as soon as it passes `bytesMax`, so that a client
 * cannot make the gateway hold more than that (a declared Content-Length is checked first).
 */
async function readBody(request: Request, bytesMax: number): Promise<Uint8Array | undefined> {
  const tooLarge = () =>
    new MeshError(ErrorCode.PayloadTooLarge, `request body is larger than ${bytesMax} bytes`);
  if (Number(request.headers.get('content-length') ?? 0) > bytesMax) throw tooLarge();
  if (!request.body) return undefined;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Bounded: every round adds at least one byte, and the loop stops past bytesMax.
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (size === 0) return undefined;
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** The gateway's own errors, in the agents' format: `{error: {code, message, details?}}`. */
function errorResponse(c: Context, err: unknown, log: Logger): Response {
  const mesh =
    err instanceof MeshError ? err : new MeshError(ErrorCode.Internal, 'internal error', { cause: err });
  if (httpStatusOf[mesh.code] === 500) {
    // A 500 is a bug: log what is needed to find it.
    log.error('gateway request failed', { method: c.req.method, path: c.req.path, err: mesh.cause ?? mesh });
  }
  const headers: Record<string, string> = {};
  const retryAfterMs = mesh.retryAfterMs ?? (mesh.retryable ? UNAVAILABLE_RETRY_AFTER_MS : undefined);
  if (retryAfterMs !== undefined)
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  if (mesh.code === ErrorCode.Unauthorized) headers['www-authenticate'] = 'Bearer';
  const error = {
    code: mesh.code,
    message: mesh.message,
    ...(mesh.details ? { details: mesh.details } : {}),
  };
  return c.json({ error }, httpStatusOf[mesh.code] as ContentfulStatusCode, headers);
}
