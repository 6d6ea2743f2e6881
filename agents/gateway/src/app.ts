/**
 * @module app
 * The gateway's Hono app: authenticate (API key → tenant), look up where the tenant lives,
 * and send the request to the best region for it — the home for writes, the nearest healthy
 * holder for reads, failing over in order. Every proxied answer says which region served it
 * (`X-Memmesh-Region`). A write is sent to the home region once: if the home cannot be
 * reached the client gets 503 with Retry-After, never an acknowledgement of a write that was
 * not stored, and never a write in another region. Retrying such a write is safe: the region
 * drops a repeat of the same content (content-hash Nats-Msg-Id).
 */
import { ErrorCode, httpStatusOf, LIMITS, MeshError, sleep } from '@memmesh/core';
import { type Logger, openApiDocument } from '@memmesh/region-agent';
import type { RoutingTable, TenantPolicy } from '@memmesh/routing';
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { mountAdmin } from './admin.ts';
import type { GatewayConfig } from './config.ts';
import type { Probes } from './probes.ts';
import { type Forward, forward, type Outcome } from './proxy.ts';
import { candidates, type RequestKind } from './routes.ts';

export interface GatewayAppOptions {
  config: GatewayConfig;
  /** Read through a cache (withReadCache): every request looks up its key and policy. */
  routing: RoutingTable;
  probes: Probes;
  log: Logger;
}

const UNAVAILABLE_RETRY_AFTER_MS = 1_000;

export function createGatewayApp(options: GatewayAppOptions): Hono {
  const { config, routing, probes, log } = options;
  const app = new Hono();

  app.onError((err, c) => errorResponse(c, err, log));
  app.notFound((c) =>
    errorResponse(c, new MeshError(ErrorCode.NotFound, `no route ${c.req.method} ${c.req.path}`), log),
  );
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => c.json({ status: 'ready' }));
  // The gateway serves the same public API as the region agents, so it publishes the same spec.
  const openapi = JSON.stringify(openApiDocument());
  app.get('/openapi.json', (c) => c.body(openapi, 200, { 'content-type': 'application/json' }));

  app.get('/v1/regions', async (c) => {
    await tenantOf(c);
    return c.json({ regions: probes.all() });
  });

  mountAdmin(app, routing, config.adminKey);

  app.all('/v1/*', async (c) => {
    const tenant = await tenantOf(c);
    const policy = await routing.getTenant(tenant);
    if (!policy) throw new MeshError(ErrorCode.WrongRegion, `tenant ${tenant} has no placement policy`);
    const kind = kindOf(c.req.method, c.req.path);
    const body = await readBody(c);
    const order = candidates(policy, kind, probes, c.req.header('x-client-region'));
    const request: Forward = {
      method: c.req.method,
      pathAndQuery: c.req.url.slice(c.req.url.indexOf('/', c.req.url.indexOf('//') + 2)),
      headers: forwardedHeaders(c),
      body,
      timeoutMs: kind === 'write' ? config.writeTimeoutMs : config.readTimeoutMs,
    };
    const outcome =
      kind === 'write' ? await sendWrite(policy, request) : await sendRead(policy, order, request);
    return relay(outcome);
  });

  async function tenantOf(c: Context): Promise<string> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!match)
      throw new MeshError(
        ErrorCode.Unauthorized,
        'missing bearer token: send Authorization: Bearer <api key>',
      );
    const key = match[1] as string;
    const tenant = await routing.tenantOfApiKey(key);
    if (!tenant) throw new MeshError(ErrorCode.Unauthorized, 'unknown API key');
    return tenant;
  }

  async function sendWrite(policy: TenantPolicy, request: Forward): Promise<Outcome> {
    const endpoint = probes.state(policy.home)?.endpoint;
    if (!endpoint) throw unavailable(`home region ${policy.home} has no endpoint`);
    const outcome = await forward(policy.home, endpoint, request);
    if (outcome.kind === 'retry' && outcome.unreachable) probes.reportFailure(policy.home);
    if (outcome.kind === 'retry' && !outcome.response) {
      throw unavailable(
        `home region ${policy.home} is ${outcome.reason}; the write was not acknowledged, retry later`,
      );
    }
    return outcome;
  }

  /**
   * Tries the candidates in order until one answers. With hedging on, a candidate that has
   * not answered after hedgeAfterMs gets company: the next candidate is asked too, the first
   * answer wins and the other request is aborted.
   */
  async function sendRead(policy: TenantPolicy, order: string[], request: Forward): Promise<Outcome> {
    const targets = order.filter((region) => probes.state(region)?.endpoint);
    const attempt = async (region: string, signal: AbortSignal): Promise<Outcome> => {
      const endpoint = probes.state(region)?.endpoint as string;
      // A replica that lacks a requested version says so quickly, so the next region can answer.
      const headers =
        region === policy.home
          ? request.headers
          : { ...request.headers, 'x-memmesh-wait-ms': String(config.replicaWaitMs) };
      const outcome = await forward(region, endpoint, { ...request, headers }, signal);
      if (outcome.kind === 'answer') return outcome;
      if (outcome.unreachable) probes.reportFailure(region);
      if (!signal.aborted) log.warn('read failed over', { region, reason: outcome.reason });
      throw outcome;
    };
    let last: Outcome | undefined;
    for (let i = 0; i < targets.length; ) {
      const controllers = [new AbortController()];
      const racers = [attempt(targets[i] as string, (controllers[0] as AbortController).signal)];
      const hedge = config.hedgeAfterMs > 0 ? targets[i + 1] : undefined;
      if (hedge) {
        const controller = new AbortController();
        controllers.push(controller);
        racers.push(
          sleep(config.hedgeAfterMs).then(() => {
            if (controller.signal.aborted)
              throw { kind: 'retry', region: hedge, reason: 'not needed', unreachable: false };
            return attempt(hedge, controller.signal);
          }),
        );
      }
      try {
        const answer = await Promise.any(racers);
        for (const c of controllers) c.abort();
        return answer;
      } catch (err) {
        const failed = (err as AggregateError).errors as Outcome[];
        last = failed.find((o) => o.kind === 'retry' && o.response) ?? failed[0] ?? last;
        i += racers.length;
      }
    }
    if (last?.kind === 'retry' && last.response) return last;
    throw unavailable(`no region holding tenant ${policy.tenant} answered`);
  }

  function relay(outcome: Outcome): Response {
    const { response, body } = outcome as { response: Response; body: Uint8Array };
    const headers = new Headers({ 'x-memmesh-region': outcome.region });
    for (const name of ['content-type', 'retry-after', 'www-authenticate']) {
      const value = response.headers.get(name);
      if (value) headers.set(name, value);
    }
    return new Response(body, { status: response.status, headers });
  }

  return app;
}

function kindOf(method: string, path: string): RequestKind {
  if (method === 'POST' && (path === '/v1/memories' || path === '/v1/memories/batch')) return 'write';
  if (method === 'DELETE') return 'write';
  return 'read';
}

async function readBody(c: Context): Promise<Uint8Array | undefined> {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return undefined;
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > LIMITS.batchBodyBytesMax) throw tooLarge();
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.byteLength > LIMITS.batchBodyBytesMax) throw tooLarge();
  return body;
}

const tooLarge = () =>
  new MeshError(ErrorCode.PayloadTooLarge, `request body is larger than ${LIMITS.batchBodyBytesMax} bytes`);
const unavailable = (message: string) =>
  new MeshError(ErrorCode.Unavailable, message, { retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS });

function forwardedHeaders(c: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'content-type']) {
    const value = c.req.header(name);
    if (value) headers[name] = value;
  }
  return headers;
}

function errorResponse(c: Context, err: unknown, log: Logger): Response {
  const mesh =
    err instanceof MeshError ? err : new MeshError(ErrorCode.Internal, 'internal error', { cause: err });
  const status = httpStatusOf[mesh.code] as ContentfulStatusCode;
  if (mesh.code === ErrorCode.Internal)
    log.error('gateway request failed', { method: c.req.method, path: c.req.path, err: mesh.cause });
  const headers: Record<string, string> = {};
  if (mesh.retryAfterMs !== undefined)
    headers['retry-after'] = String(Math.max(1, Math.ceil(mesh.retryAfterMs / 1000)));
  if (mesh.code === ErrorCode.Unauthorized) headers['www-authenticate'] = 'Bearer';
  return c.json({ error: { code: mesh.code, message: mesh.message } }, status, headers);
}
