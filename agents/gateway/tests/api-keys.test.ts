/**
 * API keys and failed-authentication throttling, against a live region agent (real
 * nats-server) and a live gateway in front of it, both over HTTP on loopback and sharing one
 * routing table (the gateway reads it through its cache, as in production): scopes by route
 * kind (403), rotation with at most two active keys (409), revocation within the cache's TTL,
 * expiry (401 saying so), tenants managing their own keys, the admin key compared in constant
 * time, and throttling per source address and per key prefix (429 with Retry-After) — through
 * the gateway and straight at the agent. Sources are told apart by binding clients to other
 * loopback addresses (127.0.0.x).
 */
import * as crypto from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { silentLogger } from '@memmesh/telemetry';
import { type HttpServer, type NatsServer, serveHttp, startNatsServer } from '@memmesh/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

// A spy that calls through: it shows that secrets are compared with timingSafeEqual.
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

const ADMIN_KEY = 'api-keys-test-admin-key';
const CACHE_TTL_MS = 300;
const FAILURES_MAX = 5;

let nats: NatsServer;
let agent: RegionAgent;
let gateway: Gateway;
const served: HttpServer[] = [];
const urls = { agent: '', gateway: '' };

beforeAll(async () => {
  nats = await startNatsServer();
  const throttle = { authFailuresMax: FAILURES_MAX };
  agent = await startRegionAgent(
    resolveConfig({ region: 'us-east-1', natsUrl: nats.url, port: 0, ...throttle }),
    silentLogger,
  );
  for (const tenant of ['scoped', 'rotating', 'expiring', 'selfserve']) {
    await agent.routing.putTenant({ tenant, home: 'us-east-1' });
  }
  served.push(await serveHttp(agent.app.fetch));
  urls.agent = served[0]?.url as string;
  const config = resolveGatewayConfig({
    endpoints: { 'us-east-1': urls.agent },
    adminKey: ADMIN_KEY,
    routingCacheTtlMs: CACHE_TTL_MS,
    ...throttle,
  });
  gateway = await startGateway(config, silentLogger, agent.routing);
  served.push(await serveHttp(gateway.app.fetch));
  urls.gateway = served[1]?.url as string;
}, 60_000);

afterAll(async () => {
  for (const server of served) await server.close();
  await gateway?.close();
  await agent?.close();
  await nats?.stop();
});

/**
 * The source of the functional cases, one per case: their failed attempts (revoked, expired
 * keys) are meant, and must not add up to the throttle's limit across cases.
 */
let functionalSource = '127.0.3.1';
let functionalCases = 0;

interface Reply {
  status: number;
  body: any;
  retryAfter: string | undefined;
}

/** One request over HTTP, from `from` (a loopback address the client binds to). */
function call(
  base: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; from?: string } = {},
): Promise<Reply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        localAddress: options.from ?? functionalSource,
        headers: {
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            body: text ? JSON.parse(text) : undefined,
            retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const admin = (method: string, path: string, body?: unknown, key = ADMIN_KEY) =>
  call(urls.gateway, method, `/v1/admin/tenants${path}`, { key, body });
const createKey = async (tenant: string, body: unknown, key = ADMIN_KEY) => {
  const res = await admin('POST', `/${tenant}/keys`, body, key);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { key: string; keyId: string; scopes: string[] };
};
const write = (base: string, key: string, text: string) =>
  call(base, 'POST', '/v1/memories?wait=true', { key, body: { text } });
const search = (base: string, key: string) =>
  call(base, 'POST', '/v1/search', { key, body: { query: 'lighthouse' } });
const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('api keys', () => {
  beforeEach(() => {
    functionalCases += 1;
    functionalSource = `127.0.3.${functionalCases}`;
  });

  it('api keys - a read-only key reads but cannot write (403); a write key writes; through the gateway and at the agent', async () => {
    const reader = await createKey('scoped', { scopes: ['read'] });
    const writer = await createKey('scoped', { scopes: ['write'] });
    expect(reader.scopes).toEqual(['read']);
    for (const base of [urls.gateway, urls.agent]) {
      const refused = await write(base, reader.key, 'The lighthouse keeper logs the fog.');
      expect(refused.status, base).toBe(403);
      expect(refused.body.error.code).toBe('forbidden');
      expect(refused.body.error.message).toContain('write scope');
      expect((await write(base, writer.key, 'The lighthouse keeper logs the fog.')).status, base).toBe(202);
      expect((await search(base, reader.key)).status, base).toBe(200);
      // Scopes are not ranks: a write-only key cannot read.
      expect((await search(base, writer.key)).status, base).toBe(403);
    }
  });

  it('api keys - rotation: two keys work, a third is refused (409), a revoked one is refused (401)', async () => {
    const old = await createKey('rotating', { scopes: ['read', 'write'] });
    const next = await createKey('rotating', { scopes: ['read', 'write'] });
    for (const key of [old.key, next.key]) expect((await search(urls.gateway, key)).status).toBe(200);
    const third = await admin('POST', '/rotating/keys', { scopes: ['read'] });
    expect(third.status).toBe(409);
    expect(third.body.error.message).toMatch(/already has 2 active API keys.*revoke one/);
    const listed = await admin('GET', '/rotating/keys');
    expect(listed.status).toBe(200);
    expect(listed.body.keys.map((k: { keyId: string }) => k.keyId)).toEqual([old.keyId, next.keyId]);
    expect(JSON.stringify(listed.body)).not.toContain(old.key);
    expect(Object.keys(listed.body.keys[0]).sort()).toEqual(['createdAtMs', 'keyId', 'scopes', 'tenant']);

    expect((await admin('DELETE', `/rotating/keys/${old.keyId}`)).status).toBe(204);
    for (const base of [urls.gateway, urls.agent]) {
      const res = await search(base, old.key);
      expect(res.status, base).toBe(401);
      expect(res.body.error.message).toBe('unknown API key');
    }
    expect((await search(urls.gateway, next.key)).status).toBe(200);
    expect((await admin('DELETE', `/rotating/keys/${old.keyId}`)).status).toBe(404);
  });

  it('api keys - a key revoked behind the gateway’s cache is refused by the gateway within the cache TTL', async () => {
    const [current] = (await agent.routing.listApiKeys('rotating')).filter((k) => k.scopes.includes('read'));
    const created = await createKey('rotating', { scopes: ['read'] });
    expect((await search(urls.gateway, created.key)).status).toBe(200);
    // Revoked in the table, as another gateway or an operator's tool would: not through this cache.
    await agent.routing.revokeApiKey('rotating', created.keyId);
    await sleepMs(CACHE_TTL_MS + 50);
    expect((await search(urls.gateway, created.key)).status).toBe(401);
    expect(current).toBeDefined();
  });

  it('api keys - an expired key is refused with 401 saying it expired', async () => {
    const soon = await createKey('expiring', { scopes: ['read'], expiresAtMs: Date.now() + 400 });
    expect((await search(urls.gateway, soon.key)).status).toBe(200);
    await sleepMs(500);
    for (const base of [urls.gateway, urls.agent]) {
      const res = await search(base, soon.key);
      expect(res.status, base).toBe(401);
      expect(res.body.error.message).toContain(`API key ${soon.keyId} expired at`);
    }
    const listed = await admin('GET', '/expiring/keys');
    expect(listed.body.keys[0].expiresAtMs).toBeLessThan(Date.now());
  });

  it('api keys - a tenant key with the admin scope manages its own tenant’s keys, and only within its scopes', async () => {
    const manager = await createKey('selfserve', { scopes: ['admin', 'read'] });
    const reader = await createKey('selfserve', { scopes: ['read'] }, manager.key);
    expect((await search(urls.gateway, reader.key)).status).toBe(200);
    // The two active keys are taken: the manager must revoke one first.
    expect((await admin('POST', '/selfserve/keys', { scopes: ['read'] }, manager.key)).status).toBe(409);
    expect((await admin('DELETE', `/selfserve/keys/${reader.keyId}`, undefined, manager.key)).status).toBe(
      204,
    );
    const stronger = await admin('POST', '/selfserve/keys', { scopes: ['write'] }, manager.key);
    expect([stronger.status, stronger.body.error.code]).toEqual([403, 'forbidden']);
    expect((await admin('GET', '/selfserve/keys', undefined, manager.key)).status).toBe(200);
    expect((await admin('GET', '/scoped/keys', undefined, manager.key)).status).toBe(403);
    // Placement policies stay the operator's.
    expect((await admin('GET', '/selfserve', undefined, manager.key)).status).toBe(401);
    // A key without the admin scope manages nothing.
    expect((await admin('GET', '/selfserve/keys', undefined, 'acme-dev-key')).status).toBe(403);
  });

  it('api keys - the admin key is compared in constant time', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    expect((await admin('GET', '/acme', undefined, `${ADMIN_KEY}-wrong`)).status).toBe(401);
    expect((await admin('GET', '/acme')).status).toBe(200);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('api keys - bodies are strict and bounded: unknown fields, bad scopes and bad ids are 400', async () => {
    for (const body of [
      { scopes: ['read'], extra: 1 },
      { scopes: [] },
      { scopes: ['root'] },
      { scopes: 'read' },
    ]) {
      expect((await admin('POST', '/scoped/keys', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await admin('POST', '/scoped/keys', { scopes: ['read'], pad: 'x'.repeat(2000) })).status).toBe(
      413,
    );
    expect((await admin('DELETE', '/scoped/keys/XYZ')).status).toBe(400);
    expect((await admin('GET', '/nobody/keys')).status).toBe(404);
  });
});

describe.each(['gateway', 'agent'] as const)('auth throttle - %s', (service) => {
  // Each service's cases use their own loopback addresses, so that their counts are apart.
  const net = service === 'gateway' ? '127.0.1' : '127.0.2';

  it('auth throttle - bad keys from one source: then 429 with Retry-After, even for a good key; another source still works', async () => {
    const base = urls[service];
    const from = `${net}.1`;
    for (let i = 0; i < FAILURES_MAX; i++) {
      const res = await call(base, 'GET', '/v1/stats', { key: crypto.randomBytes(16).toString('hex'), from });
      expect(res.status).toBe(401);
    }
    const throttled = await call(base, 'GET', '/v1/stats', {
      key: crypto.randomBytes(16).toString('hex'),
      from,
    });
    expect([throttled.status, throttled.body.error.code]).toEqual([429, 'rate_limited']);
    expect(Number(throttled.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await call(base, 'GET', '/v1/stats', { key: 'acme-dev-key', from })).status).toBe(429);
    expect((await call(base, 'GET', '/v1/stats', { key: 'acme-dev-key', from: `${net}.2` })).status).toBe(
      200,
    );
  });

  it('auth throttle - guesses at one key prefix from many sources: that prefix gets 429 from any source', async () => {
    const base = urls[service];
    const prefix = crypto.randomBytes(4).toString('hex');
    for (let i = 0; i < FAILURES_MAX; i++) {
      const key = `${prefix}${crypto.randomBytes(8).toString('hex')}`;
      expect((await call(base, 'GET', '/v1/stats', { key, from: `${net}.${10 + i}` })).status).toBe(401);
    }
    const key = `${prefix}${crypto.randomBytes(8).toString('hex')}`;
    const res = await call(base, 'GET', '/v1/stats', { key, from: `${net}.30` });
    expect(res.status).toBe(429);
    expect(res.retryAfter).toBeDefined();
    // Other keys from that same fresh source are unaffected.
    expect((await call(base, 'GET', '/v1/stats', { key: 'acme-dev-key', from: `${net}.30` })).status).toBe(
      200,
    );
  });
});
