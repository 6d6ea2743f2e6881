/**
 * NATS down: the agent answers 503 with Retry-After at once (no write is acknowledged that
 * was not stored), reports not ready, and resumes by itself when NATS is back. The server is
 * locked down (TLS, nkey users), so the agent's reconnect is a TLS handshake and an nkey
 * challenge again, as in production.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@memmesh/telemetry';
import {
  createNatsSecurity,
  type NatsSecurity,
  type NatsServer,
  sendJson,
  startNatsServer,
} from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegionAgent, resolveConfig, startRegionAgent } from '../src/index.ts';
import { ACME, natsCredentialsOf } from './harness.ts';

let security: NatsSecurity;
let nats: NatsServer;
let agent: RegionAgent;
let storeDir: string;
let dataDir: string;

const call = (method: string, path: string, body?: unknown) =>
  sendJson(agent.app, method, path, body, { authorization: `Bearer ${ACME}` });

async function until(predicate: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'memmesh-down-store-'));
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-down-data-'));
  security = await createNatsSecurity({ regions: ['us-east-1'] });
  nats = await startNatsServer({ storeDir, security });
  const credentials = natsCredentialsOf(security.agent('us-east-1'));
  agent = await startRegionAgent(
    resolveConfig({ natsUrl: nats.url, ...credentials, dataDir, port: 0 }),
    silentLogger,
  );
});

afterAll(async () => {
  await agent?.close();
  await nats?.stop();
  await security?.remove();
  await rm(storeDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe('nats down', () => {
  it('nats down - requests get 503 with Retry-After at once, and service resumes after NATS returns', async () => {
    const before = await call('POST', '/v1/memories?wait=true', {
      id: 'keep-1',
      text: 'stored before the outage',
    });
    expect(before.status).toBe(202);
    const port = nats.port;
    await nats.kill();
    expect(await until(async () => (await agent.app.request('/readyz')).status === 503, 5_000)).toBe(true);

    for (const [method, path, body] of [
      ['POST', '/v1/memories', { text: 'during the outage' }],
      ['POST', '/v1/memories/batch', { memories: [{ text: 'during the outage' }] }],
      ['GET', '/v1/memories/keep-1', undefined],
      ['DELETE', '/v1/memories/keep-1', undefined],
      ['POST', '/v1/search', { query: 'outage' }],
    ] as const) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
      expect(Number(res.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(res.ms).toBeLessThan(1_000);
    }

    nats = await startNatsServer({ storeDir, port, security });
    expect(await until(async () => (await agent.app.request('/readyz')).status === 200, 15_000)).toBe(true);
    const after = await call('POST', '/v1/memories?wait=true', {
      id: 'after-1',
      text: 'stored after the outage',
    });
    expect(after.status).toBe(202);
    expect(after.body.applied).toBe(true);
    expect((await call('GET', '/v1/memories/keep-1')).body.text).toBe('stored before the outage');
    const found = await call('POST', '/v1/search', { query: 'stored after the outage', topK: 1 });
    expect(found.body.results[0].id).toBe('after-1');
  });
});
