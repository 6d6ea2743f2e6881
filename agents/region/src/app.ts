/**
 * @module app
 * The Hono app of the region agent: the public API of DESIGN §6. Routes validate with the
 * shared zod schemas; one `onError` turns every error into `{error: {code, message}}` with
 * the status of its code, so bad input is a 4xx and never a 500.
 */
import {
  BatchInputSchema,
  DocIdSchema,
  describeIssues,
  ErrorCode,
  httpStatusOf,
  LIMITS,
  MemoryInputSchema,
  MeshError,
  SearchInputSchema,
} from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import { createMetrics, metricsHandler, tracerOf } from '@memmesh/telemetry';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { createRateLimiter, tenantOfAuthorization } from './auth.ts';
import { agentHttpTelemetry, type RegionTelemetry } from './instrument.ts';
import type { Logger } from './log.ts';
import { openApiDocument } from './openapi.ts';
import type { Region } from './region.ts';

export interface AppOptions {
  region: Region;
  routing: RoutingTable;
  tenantRequestsPerSecond: number;
  tenantBurst: number;
  log: Logger;
  /** Metrics served at /metrics and the tracer of the server spans; fresh ones when omitted. */
  telemetry?: RegionTelemetry;
}

type Env = { Variables: { tenant: string } };

export function createApp(options: AppOptions): Hono<Env> {
  const { region, log } = options;
  const limiter = createRateLimiter(options.tenantRequestsPerSecond, options.tenantBurst);
  const app = new Hono<Env>();
  const openapi = JSON.stringify(openApiDocument());
  const telemetry = options.telemetry ?? {
    metrics: createMetrics({ region: region.region, service: 'region-agent' }),
    tracer: tracerOf(),
  };

  app.use('*', agentHttpTelemetry(telemetry));
  app.onError((err, c) => errorResponse(c, err, log));
  app.notFound((c) =>
    errorResponse(c, new MeshError(ErrorCode.NotFound, `no route ${c.req.method} ${c.req.path}`), log),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) =>
    region.ready ? c.json({ status: 'ready' }) : c.json({ status: 'not ready' }, 503),
  );
  app.get('/openapi.json', (c) => c.body(openapi, 200, { 'content-type': 'application/json' }));
  // Unauthenticated, like /healthz: labels carry no tenant data, and scrapers hold no API keys.
  app.get('/metrics', metricsHandler(telemetry.metrics.registry));

  app.use('/v1/*', async (c, next) => {
    const tenant = await tenantOfAuthorization(options.routing, c.req.header('authorization'));
    limiter.take(tenant);
    c.set('tenant', tenant);
    await next();
  });

  app.post('/v1/memories/batch', limitBody(LIMITS.batchBodyBytesMax), async (c) => {
    const input = await parseBody(c, BatchInputSchema);
    const results = await region.writeBatch(c.get('tenant'), input.memories, { wait: waitParam(c) });
    return c.json({ results }, 202);
  });

  app.post('/v1/memories', limitBody(LIMITS.bodyBytesMax), async (c) => {
    const input = await parseBody(c, MemoryInputSchema);
    return c.json(await region.write(c.get('tenant'), input, { wait: waitParam(c) }), 202);
  });

  app.get(`${MEMORY_PREFIX}*`, async (c) => c.json(await region.get(c.get('tenant'), idParam(c))));

  app.delete(`${MEMORY_PREFIX}*`, async (c) => {
    const ifVersion = versionParam(c.req.query('ifVersion'), 'ifVersion');
    return c.json(await region.delete(c.get('tenant'), idParam(c), { wait: waitParam(c), ifVersion }), 202);
  });

  app.post('/v1/search', limitBody(LIMITS.bodyBytesMax), async (c) => {
    const input = await parseBody(c, SearchInputSchema);
    // A gateway asks replicas for a short minVersion wait, so that it can fail over quickly.
    const waitMs = versionParam(c.req.header('x-memmesh-wait-ms'), 'X-Memmesh-Wait-Ms');
    return c.json(await region.search(c.get('tenant'), input, { waitMs }));
  });

  app.get('/v1/stats', (c) => c.json(region.status(c.get('tenant'))));

  return app;
}

function limitBody(maxSize: number) {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new MeshError(ErrorCode.PayloadTooLarge, `request body is larger than ${maxSize} bytes`);
    },
  });
}

async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await c.req.text();
  if (text.trim() === '') throw new MeshError(ErrorCode.BadRequest, 'request body is empty; send JSON');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MeshError(ErrorCode.BadRequest, 'request body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, 'request body does not match the schema', {
      details: describeIssues(parsed.error),
    });
  }
  return parsed.data;
}

const MEMORY_PREFIX = '/v1/memories/';

/** The id is the rest of the path, percent-decoded: ids may contain '/' and any byte may be sent. */
function idParam(c: Context): string {
  const raw = new URL(c.req.url).pathname.slice(MEMORY_PREFIX.length);
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new MeshError(ErrorCode.BadRequest, 'memory id is not valid percent-encoding');
  }
  const parsed = DocIdSchema.safeParse(id);
  if (!parsed.success)
    throw new MeshError(ErrorCode.BadRequest, 'bad memory id', { details: describeIssues(parsed.error) });
  return parsed.data;
}

function waitParam(c: Context): boolean {
  const value = c.req.query('wait');
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw new MeshError(ErrorCode.BadRequest, `wait must be true or false, got '${value}'`);
}

function versionParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new MeshError(ErrorCode.BadRequest, `${name} must be a non-negative integer, got '${value}'`);
  }
  return n;
}

/** Retry-After of a 503 or 429 whose cause did not say. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

function errorResponse(c: Context, err: unknown, log: Logger): Response {
  const mesh =
    err instanceof MeshError ? err : new MeshError(ErrorCode.Internal, 'internal error', { cause: err });
  const status = httpStatusOf[mesh.code] as ContentfulStatusCode;
  if (status >= 500 && mesh.code !== ErrorCode.Unavailable && mesh.code !== ErrorCode.Timeout) {
    // A 500 is a bug: log everything needed to find it.
    log.error('request failed', { method: c.req.method, path: c.req.path, err: mesh.cause ?? mesh });
  }
  const headers: Record<string, string> = {};
  // Every 503 and 429 says when to come back (DESIGN §6), also when the cause named no time.
  const retryAfterMs =
    mesh.retryAfterMs ?? (status === 503 || status === 429 ? DEFAULT_RETRY_AFTER_MS : undefined);
  if (retryAfterMs !== undefined)
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  if (mesh.code === ErrorCode.Unauthorized) headers['www-authenticate'] = 'Bearer';
  const body = {
    error: { code: mesh.code, message: mesh.message, ...(mesh.details ? { details: mesh.details } : {}) },
  };
  return c.json(body, status, headers);
}
