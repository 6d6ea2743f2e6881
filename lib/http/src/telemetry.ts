/**
 * @module telemetry
 * The Hono middleware that agents and the gateway put in front of every route: it continues
 * the caller's trace (W3C `traceparent`) in a server span, and reports each answered request
 * with its route template, so that metrics are labelled `/v1/memories/*`, never with a raw
 * path that carries a document id.
 */
import { extractTraceContext, SpanKind, SpanStatusCode, type Tracer } from '@memmesh/telemetry';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Registry } from 'prom-client';

/** Route label of a request that matched no route (a 404 from `notFound`). */
export const UNMATCHED_ROUTE = 'unmatched';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface AnsweredRequest {
  /** The route template (`/v1/memories/*`), or `unmatched`. */
  route: string;
  /** The method, or `OTHER` for a method outside the standard set (labels stay bounded). */
  method: string;
  status: number;
  durationSeconds: number;
  /** The answer, e.g. for a header saying which region served it. */
  response: Response;
}

export interface HttpTelemetryOptions {
  tracer: Tracer;
  /** Told of every answered request, after the answer is complete (metrics). */
  onAnswered?: (answered: AnsweredRequest) => void;
}

export function httpTelemetry(options: HttpTelemetryOptions): MiddlewareHandler {
  const { tracer, onAnswered } = options;
  return async (c, next) => {
    const started = performance.now();
    const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : 'OTHER';
    const parent = extractTraceContext(c.req.raw.headers);
    const attributes = { 'http.request.method': method };
    await tracer.startActiveSpan(method, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
      try {
        await next();
      } finally {
        // Hono's onError has already turned a thrown error into c.res.
        const route = routeTemplate(c);
        const status = c.res.status;
        span.updateName(`${method} ${route}`);
        span.setAttribute('http.route', route);
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) {
          if (c.error) span.recordException(c.error);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
        const durationSeconds = (performance.now() - started) / 1000;
        onAnswered?.({ route, method, status, durationSeconds, response: c.res });
      }
    });
  };
}

/** The last matched route registered for a method (middleware is registered for ALL). */
function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    if (route && route.method !== 'ALL') return route.path;
  }
  return UNMATCHED_ROUTE;
}

/** Answers a Prometheus scrape from `registry`, in the text format, without authentication. */
export function metricsHandler(registry: Registry): (c: Context) => Promise<Response> {
  return async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
}
