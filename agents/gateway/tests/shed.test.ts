/**
 * A region that sheds a search (503 + Retry-After, agents/region/src/ops/load.ts) through the
 * gateway, against scripted regions on loopback: the gateway asks the next region holding the
 * tenant; the client's `Cache-Control: max-stale` reaches the region, and a stale answer comes
 * back marked as one (`X-Memmesh-Stale`, `Age`); when every region sheds, the client gets the
 * region's 503 with its Retry-After, not a 500 or a hang.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openSeededRoutingTable, type RoutingTable } from '@memmesh/routing';
import { silentLogger } from '@memmesh/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';
import { startTestServer, type TestServer } from './scripted-servers.ts';

const REGIONS_DIR = new URL('../../../regions', import.meta.url).pathname;
const SHED = {
  error: { code: 'unavailable', message: 'the tenant has 64 searches in flight here; searches are shed' },
};

let routing: RoutingTable | undefined;
let gateway: Gateway | undefined;
const servers: TestServer[] = [];

afterEach(async () => {
  await gateway?.close();
  await routing?.close();
  for (const s of servers.splice(0)) await s.close();
});

/** Sheds unless the request allows a stale answer, which it then gives. */
function shedding(region: string, seen: (string | undefined)[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const cacheControl = req.headers['cache-control'];
    seen.push(cacheControl);
    if (cacheControl?.includes('max-stale')) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-memmesh-stale': 'true', age: '7' });
      res.end(JSON.stringify({ results: [], region, tookMs: 1, staleSeconds: 7 }));
      return;
    }
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify(SHED));
  };
}

async function start(handlers: Record<string, (req: IncomingMessage, res: ServerResponse) => void>) {
  const endpoints: Record<string, string> = {};
  for (const [region, handler] of Object.entries(handlers)) {
    const server = await startTestServer(handler);
    servers.push(server);
    endpoints[region] = server.url;
  }
  ({ routing } = await openSeededRoutingTable(REGIONS_DIR));
  const config = resolveGatewayConfig({ endpoints, probeIntervalMs: 60_000, hedgeAfterMs: 0 });
  gateway = await startGateway(config, silentLogger, routing);
  await gateway.probes.probeNow();
  return gateway;
}

const search = (g: Gateway, headers: Record<string, string> = {}) =>
  g.app.request('/v1/search', {
    method: 'POST',
    headers: { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: 'what did we decide' }),
  });

describe('gateway and shedding', () => {
  it('shed - a shed search moves on to the next region holding the tenant', async () => {
    const seen: (string | undefined)[] = [];
    const g = await start({
      'us-east-1': shedding('us-east-1', seen),
      'eu-central-1': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ results: [], region: 'eu-central-1', tookMs: 1 }));
      },
    });
    const res = await search(g, { 'x-client-region': 'us-east-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-memmesh-region')).toBe('eu-central-1');
    expect(seen).toHaveLength(1);
  });

  it('shed - max-stale reaches the region, and its stale answer comes back marked as one', async () => {
    const seen: (string | undefined)[] = [];
    const g = await start({ 'us-east-1': shedding('us-east-1', seen) });
    const res = await search(g, { 'cache-control': 'max-stale=60', 'x-client-region': 'us-east-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-memmesh-stale')).toBe('true');
    expect(res.headers.get('age')).toBe('7');
    expect(((await res.json()) as { staleSeconds: number }).staleSeconds).toBe(7);
    expect(seen).toEqual(['max-stale=60']);
  });

  it('shed - when every region holding the tenant sheds, the client gets 503 with the Retry-After', async () => {
    const seen: (string | undefined)[] = [];
    const g = await start({
      'us-east-1': shedding('us-east-1', seen),
      'eu-central-1': shedding('eu-central-1', seen),
      'ap-southeast-1': shedding('ap-southeast-1', seen),
    });
    const res = await search(g);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await res.json()) as typeof SHED).error.code).toBe('unavailable');
    expect(seen.length).toBeGreaterThanOrEqual(2);
  });
});
