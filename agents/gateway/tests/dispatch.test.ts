/**
 * The dispatch rules against scripted regions on loopback: which answers end a read, which
 * move it on, how many regions it may try, and when a write may be sent again (only after a
 * refused connection: nothing was sent).
 */
import { isMeshError, type MeshError } from '@memmesh/core';
import { silentLogger } from '@memmesh/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createDispatcher,
  type Forward,
  type Probes,
  resolveGatewayConfig,
  startProbes,
} from '../src/index.ts';
import { answer, closedPort, regionConfig, startTestServer, type TestServer } from './scripted-servers.ts';

const REGIONS = ['r-one-1', 'r-two-1', 'r-three-1'];
const IDS = [...REGIONS, 'r-four-1'];
let probes: Probes | undefined;
const servers: TestServer[] = [];

afterEach(async () => {
  await probes?.stop();
  for (const s of servers.splice(0)) await s.close();
});

async function setUp(endpoints: string[], overrides: Parameters<typeof resolveGatewayConfig>[0] = {}) {
  const config = resolveGatewayConfig({ readTimeoutMs: 300, writeTimeoutMs: 300, ...overrides });
  probes = startProbes({
    intervalMs: 60_000,
    timeoutMs: 200,
    ewmaAlpha: 0.3,
    failuresMax: 2,
    location: { latitude: 0, longitude: 0 },
    log: silentLogger,
  });
  probes.update(
    endpoints.map((endpoint, i) => ({
      config: regionConfig(IDS[i] as string, 0, 0),
      endpoint,
      status: 'up' as const,
    })),
  );
  return createDispatcher(config, probes, silentLogger);
}

async function scripted(...handlers: Parameters<typeof startTestServer>[0][]): Promise<TestServer[]> {
  const started = await Promise.all(handlers.map((h) => startTestServer(h)));
  servers.push(...started);
  return started;
}

const request = (method = 'POST'): Forward => ({
  method,
  pathAndQuery: '/v1/search',
  headers: { 'content-type': 'application/json' },
  body: new TextEncoder().encode('{"query":"q"}'),
  timeoutMs: 300,
});

async function rejection(promise: Promise<unknown>): Promise<MeshError> {
  try {
    await promise;
  } catch (err) {
    if (isMeshError(err)) return err;
    throw err;
  }
  throw new Error('expected a MeshError');
}

const hang = () => () => undefined;
const reset = () => (req: { socket: { destroy(): void } }) => req.socket.destroy();

describe('dispatch reads', () => {
  it('dispatch - 421 and 5xx move a read on; the first good answer is returned', async () => {
    const [a, b, c] = await scripted(answer(502), answer(421), answer(200, { ok: 3 }));
    const dispatch = await setUp([a!.url, b!.url, c!.url], { attemptsMax: 4 });
    const got = await dispatch.read('r-one-1', IDS.slice(0, 3), request());
    expect([got.status, got.region]).toEqual([200, 'r-three-1']);
    // fetch itself repeats a request answered 421 once, on a new connection (Fetch standard).
    expect([a!.requests, c!.requests]).toEqual([1, 1]);
    expect(b!.requests).toBeGreaterThanOrEqual(1);
  });

  it('dispatch - a region’s 429 is the answer: the tenant is over its limit, and other regions would add theirs', async () => {
    const [a, b] = await scripted(answer(429, {}, { 'retry-after': '1' }), answer(200));
    const dispatch = await setUp([a!.url, b!.url]);
    const got = await dispatch.read('r-one-1', REGIONS.slice(0, 2), request());
    expect([got.status, got.region, got.headers.get('retry-after'), b!.requests]).toEqual([
      429,
      'r-one-1',
      '1',
      0,
    ]);
  });

  it('dispatch - any other 4xx is the answer: bad input is bad everywhere', async () => {
    const [a, b] = await scripted(answer(400, { error: { code: 'bad_request' } }), answer(200));
    const dispatch = await setUp([a!.url, b!.url]);
    const got = await dispatch.read('r-one-1', REGIONS.slice(0, 2), request());
    expect([got.status, got.region, b!.requests]).toEqual([400, 'r-one-1', 0]);
  });

  it('dispatch - at most attemptsMax regions are tried; the most useful failure is relayed', async () => {
    const [a, b, c] = await scripted(answer(421), answer(503, {}, { 'retry-after': '2' }), answer(200));
    const dispatch = await setUp([a!.url, b!.url, c!.url], { attemptsMax: 2 });
    const got = await dispatch.read('r-one-1', REGIONS, request());
    expect([got.status, got.region, got.headers.get('retry-after')]).toEqual([503, 'r-two-1', '2']);
    expect(c!.requests).toBe(0);
  });

  it('dispatch - with no answer at all the gateway says what happened to each region', async () => {
    const [hung] = await scripted(hang());
    const dispatch = await setUp([`http://127.0.0.1:${await closedPort()}`, hung!.url]);
    const err = await rejection(dispatch.read('r-one-1', REGIONS.slice(0, 2), request()));
    expect([err.code, err.retryAfterMs]).toEqual(['unavailable', 1_000]);
    expect(JSON.stringify(err.details)).toMatch(/refused.*timeout/);
  });
});

describe('dispatch writes', () => {
  it('dispatch - a refused write is sent again (nothing was sent), then answered 503 quickly', async () => {
    const dispatch = await setUp([`http://127.0.0.1:${await closedPort()}`], { attemptsMax: 3 });
    const started = performance.now();
    const err = await rejection(dispatch.write('r-one-1', request()));
    expect([err.code, err.retryAfterMs]).toEqual(['unavailable', 1_000]);
    expect(err.message).toContain('was not sent');
    // Two pauses of 25-50 and 50-100 ms between three attempts.
    expect(performance.now() - started).toBeGreaterThanOrEqual(70);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('dispatch - a write whose connection broke or timed out is not sent again: 503 or 504', async () => {
    const [broken, hung] = await scripted(reset(), hang());
    let dispatch = await setUp([broken!.url], { attemptsMax: 3 });
    const err = await rejection(dispatch.write('r-one-1', request()));
    expect([err.code, broken!.requests]).toEqual(['unavailable', 1]);
    expect(err.message).toContain('may or may not have been stored');
    await probes?.stop();
    dispatch = await setUp([hung!.url], { attemptsMax: 3 });
    const timedOut = await rejection(dispatch.write('r-one-1', request()));
    expect([timedOut.code, hung!.requests]).toEqual(['timeout', 1]);
  });

  it("dispatch - the home's own error answers are relayed, not retried", async () => {
    const [home] = await scripted(answer(503, { error: { code: 'unavailable' } }, { 'retry-after': '3' }));
    const dispatch = await setUp([home!.url], { attemptsMax: 3 });
    const got = await dispatch.write('r-one-1', request());
    expect([got.status, got.headers.get('retry-after'), home!.requests]).toEqual([503, '3', 1]);
  });
});
