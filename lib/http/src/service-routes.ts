/**
 * @module service-routes
 * The routes every service answers about itself, without a key: liveness, readiness (what
 * "ready" means is the service's), Prometheus metrics, and its own OpenAPI document.
 */
import type { Registry } from 'prom-client';
import type { RouteHandler } from './mount.ts';
import { metricsHandler } from './telemetry.ts';

export interface Readiness {
  ready: boolean;
  /** Anything the service adds to the readiness body (the gateway's region counts). */
  details?: Record<string, unknown>;
}

export interface ServiceRoutesOptions {
  readiness: () => Readiness;
  registry: Registry;
  /** The service's OpenAPI document, serialized once. */
  openapi: Record<string, unknown>;
}

export interface ServiceHandlers {
  health: RouteHandler<undefined>;
  ready: RouteHandler<undefined>;
  metrics: RouteHandler<undefined>;
  openapi: RouteHandler<undefined>;
}

export function serviceHandlers(options: ServiceRoutesOptions): ServiceHandlers {
  const openapi = JSON.stringify(options.openapi);
  const metrics = metricsHandler(options.registry);
  return {
    health: (c) => c.json({ status: 'ok' }),
    ready: (c) => {
      const { ready, details } = options.readiness();
      return c.json({ status: ready ? 'ready' : 'not ready', ...details }, ready ? 200 : 503);
    },
    // Unauthenticated, like /healthz: labels carry no tenant data, and scrapers hold no API keys.
    metrics: (c) => metrics(c),
    openapi: (c) => c.body(openapi, 200, { 'content-type': 'application/json' }),
  };
}
