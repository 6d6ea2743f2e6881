/**
 * The gateway in front of three real regions (a NATS supercluster, one agent per region
 * served over HTTP, each behind a delay proxy standing in for distance): nearest wins,
 * client hints, failover with zero failed reads, home-only writes and 503 when the home is
 * down, auth and limits.
 */
import { LIMITS } from '@memmesh/core';
import { type AgentMesh, REGIONS, type RegionId, startAgentMesh } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { jsonSender, eventually as poll } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';
import { type DelayProxy, startDelayProxy } from './delay-proxy.ts';

/** Simulated distance from the gateway: us is nearest. */
const BASE_DELAY_MS: Record<RegionId, number> = { 'us-east-1': 5, 'eu-central-1': 15, 'ap-southeast-1': 25 };
const ACME = 'Bearer acme-dev-key';

let mesh: AgentMesh;
let gateway: Gateway;
const proxies = {} as Record<RegionId, DelayProxy>;

/** This suite's waits poll every 50 ms, for 15 s unless a wait says otherwise. */
const eventually = <T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs?: number) =>
  poll(what, attempt, { timeoutMs, stepMs: 50 });
const send = jsonSender({ authorization: ACME });
const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  send(gateway.app, method, path, body, headers);

const nearestRegion = async () =>
  (await call('POST', '/v1/search', { query: 'gateway probe note', topK: 1 })).region;

beforeAll(async () => {
  mesh = await startAgentMesh({ name: 'gw', agent: { replicationReconcileMs: 300 } });
  const endpoints: Record<string, string> = {};
  for (const region of REGIONS) {
    proxies[region] = await startDelayProxy(mesh.regions[region].port, BASE_DELAY_MS[region]);
    endpoints[region] = `http://127.0.0.1:${proxies[region].port}`;
  }
  const config = resolveGatewayConfig({
    endpoints,
    probeIntervalMs: 100,
    probeTimeoutMs: 1_000,
    readTimeoutMs: 3_000,
  });
  gateway = await startGateway(config, silentLogger, mesh.routing);
  const w = await call('POST', '/v1/memories?wait=true', { id: 'gw-1', text: 'gateway probe note' });
  expect(w.status).toBe(202);
  for (const region of ['eu-central-1', 'ap-southeast-1'] as const) {
    const got = async () => (await send(mesh.agents[region].app, 'GET', '/v1/memories/gw-1')).status;
    await eventually(`gw-1 in ${region}`, async () => ((await got()) === 200 ? true : undefined));
  }
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  for (const region of REGIONS) await proxies[region]?.close();
  await mesh?.stop();
});

describe('gateway', () => {
  it('gateway - writes go to the home region and every answer names its region', async () => {
    const w = await call('POST', '/v1/memories', { id: 'gw-w', text: 'home only' });
    expect(w.status).toBe(202);
    expect(w.region).toBe('us-east-1');
    expect(w.body.region).toBe('us-east-1');
  });

  it('gateway - nearest wins: a delayed region loses its reads, and gets them back when the delay goes', async () => {
    expect(
      await eventually('us nearest', async () =>
        (await nearestRegion()) === 'us-east-1' ? true : undefined,
      ),
    ).toBe(true);
    proxies['us-east-1'].delayMs = 60;
    expect(
      await eventually('reads shift to eu', async () =>
        (await nearestRegion()) === 'eu-central-1' ? true : undefined,
      ),
    ).toBe(true);
    proxies['us-east-1'].delayMs = BASE_DELAY_MS['us-east-1'];
    expect(
      await eventually('reads come back to us', async () =>
        (await nearestRegion()) === 'us-east-1' ? true : undefined,
      ),
    ).toBe(true);
  }, 60_000);

  it('gateway - X-Client-Region puts that region first', async () => {
    const r = await call(
      'POST',
      '/v1/search',
      { query: 'gateway probe note', topK: 1 },
      { 'x-client-region': 'ap-southeast-1' },
    );
    expect(r.status).toBe(200);
    expect(r.region).toBe('ap-southeast-1');
    expect(r.body.results[0].id).toBe('gw-1');
  });

  it('gateway - failover: reads keep succeeding when the serving region dies, and return when it is back', async () => {
    // The hint pins the serving region (under load, probe jitter could rank another first);
    // a hinted region that is unhealthy is passed over, which is what this test is about.
    const pin = { 'x-client-region': 'us-east-1' };
    const read = () => call('POST', '/v1/search', { query: 'gateway probe note', topK: 1 }, pin);
    await eventually('us serving', async () => ((await read()).region === 'us-east-1' ? true : undefined));
    const failures: number[] = [];
    const servedBy: string[] = [];
    let killedAt = 0;
    let firstElsewhereAt = 0;
    for (let i = 0; i < 150; i++) {
      if (i === 50) {
        killedAt = performance.now();
        await mesh.closeHttp('us-east-1');
        await mesh.supercluster.killRegion('us-east-1');
      }
      const r = await read();
      if (r.status !== 200 || r.body.results[0]?.id !== 'gw-1') failures.push(r.status);
      else servedBy.push(r.region ?? '');
      if (i >= 50 && !firstElsewhereAt && r.status === 200) firstElsewhereAt = performance.now();
    }
    expect(failures).toEqual([]);
    expect(servedBy.slice(0, 50).every((r) => r === 'us-east-1')).toBe(true);
    expect(servedBy.slice(50).every((r) => r !== 'us-east-1')).toBe(true);
    expect(firstElsewhereAt - killedAt).toBeLessThan(1_000);

    await mesh.supercluster.restartRegion('us-east-1');
    await mesh.reopenHttp('us-east-1');
    expect(
      await eventually(
        'reads return to us',
        async () => ((await read()).region === 'us-east-1' ? true : undefined),
        30_000,
      ),
    ).toBe(true);
  }, 90_000);

  it('gateway - home down: writes get 503 with Retry-After at once and go nowhere else', async () => {
    await mesh.closeHttp('us-east-1');
    const started = performance.now();
    const w = await call('POST', '/v1/memories', { id: 'gw-down', text: 'must not be stored elsewhere' });
    expect(w.status).toBe(503);
    expect(w.body.error.code).toBe('unavailable');
    expect(Number(w.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(performance.now() - started).toBeLessThan(1_000);
    for (const region of ['eu-central-1', 'ap-southeast-1'] as const) {
      const got = await send(mesh.agents[region].app, 'GET', '/v1/memories/gw-down');
      expect(got.status).toBe(404);
    }
    await mesh.reopenHttp('us-east-1');
    const again = await eventually('writes resume', async () => {
      const r = await call('POST', '/v1/memories', { id: 'gw-down', text: 'stored once the home is back' });
      return r.status === 202 ? r : undefined;
    });
    expect(again.region).toBe('us-east-1');
  }, 60_000);

  it('gateway - bad keys are 401, oversized bodies 413, unknown routes 404, all with the error body', async () => {
    const noKey = await gateway.app.request('/v1/search', { method: 'POST', body: '{}' });
    expect(noKey.status).toBe(401);
    expect(
      (await call('POST', '/v1/search', { query: 'x' }, { authorization: 'Bearer nope-nope-nope' })).status,
    ).toBe(401);
    const big = await call('POST', '/v1/memories/batch', 'x'.repeat(LIMITS.batchBodyBytesMax + 1));
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const missing = await gateway.app.request('/nowhere');
    expect(missing.status).toBe(404);
    const spec = await gateway.app.request('/openapi.json');
    expect(spec.status).toBe(200);
    expect(Object.keys(((await spec.json()) as { paths: object }).paths)).toContain('/v1/search');
  });
});

describe('gateway hedging', () => {
  it('gateway - a slow read is hedged to the next region and the first answer wins', async () => {
    const config = resolveGatewayConfig({
      endpoints: Object.fromEntries(REGIONS.map((r) => [r, `http://127.0.0.1:${proxies[r].port}`])),
      probeIntervalMs: 60_000,
      hedgeAfterMs: 50,
    });
    const hedging = await startGateway(config, silentLogger, mesh.routing);
    try {
      // us is nearest by location and by its first probe; then it turns slow.
      proxies['us-east-1'].delayMs = 400;
      const started = performance.now();
      const res = await hedging.app.request('/v1/search', {
        method: 'POST',
        headers: { authorization: ACME, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'gateway probe note', topK: 1 }),
      });
      const elapsed = performance.now() - started;
      expect(res.status).toBe(200);
      expect(res.headers.get('x-memmesh-region')).toBe('eu-central-1');
      expect(elapsed).toBeLessThan(400);
    } finally {
      proxies['us-east-1'].delayMs = BASE_DELAY_MS['us-east-1'];
      await hedging.close();
    }
  });
});
