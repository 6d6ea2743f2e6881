/**
 * The gateway's own per-tenant limit (across every region: a region's 429 is relayed, never
 * retried elsewhere, so only this limit bounds a tenant in all): past its burst a tenant gets
 * 429 with Retry-After from the gateway itself, before any region is asked, and other tenants
 * are not affected.
 */
import { openSeededRoutingTable, type RoutingTable } from '@memmesh/routing';
import { silentLogger } from '@memmesh/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

const REGIONS_DIR = new URL('../../../regions', import.meta.url).pathname;
const BURST = 3;

let routing: RoutingTable;
let gateway: Gateway;

beforeAll(async () => {
  ({ routing } = await openSeededRoutingTable(REGIONS_DIR));
  const config = resolveGatewayConfig({
    tenantRequestsPerSecond: 1,
    tenantBurst: BURST,
    probeIntervalMs: 60_000,
  });
  gateway = await startGateway(config, silentLogger, routing);
});

afterAll(async () => {
  await gateway?.close();
  await routing?.close();
});

const ask = (key: string, path = '/v1/regions', init: RequestInit = {}) =>
  gateway.app.request(path, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });

describe('gateway limits', () => {
  it('limits - past its burst a tenant gets 429 with Retry-After from the gateway, on every route', async () => {
    for (let i = 0; i < BURST; i++) expect((await ask('acme-dev-key')).status).toBe(200);
    const over = await ask('acme-dev-key');
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // A proxied route is refused before any region is asked (no region would answer here: 503).
    const search = await ask('acme-dev-key', '/v1/search', {
      method: 'POST',
      body: JSON.stringify({ query: 'x' }),
    });
    expect([search.status, search.headers.get('x-memmesh-region')]).toEqual([429, null]);
    // Another tenant has a budget of its own.
    expect((await ask('globex-dev-key')).status).toBe(200);
  });
});
