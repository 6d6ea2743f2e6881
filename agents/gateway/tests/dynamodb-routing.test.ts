/**
 * Production routing on DynamoDB (Local): the create-and-seed script makes the table, an
 * agent reads its region's settings and records its public URL there, and a gateway finds
 * the region through the table alone.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serve } from '@hono/node-server';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { type LockedNats, startLockedNats } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { type DynamoDbLocal, startDynamoDbLocal } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

const SCRIPT = new URL('../../../scripts/routing-table.ts', import.meta.url).pathname;
const TABLE = 'memmesh-routing-e2e';
let dynamo: DynamoDbLocal;
let nats: LockedNats;
let agent: RegionAgent;
let server: Server;
let gateway: Gateway;
let dataDir: string;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  // The SDK's default chain reads these, in the script's process and in this one.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  });
  const env = { ...process.env, MEMMESH_DYNAMODB_ENDPOINT: dynamo.endpoint, MEMMESH_DYNAMODB_TABLE: TABLE };
  for (let run = 0; run < 2; run++) {
    // Twice: creating and seeding are idempotent.
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '--seed'], {
      env,
      timeout: 60_000,
    });
    expect(stdout).toContain('seeded 3 regions and 3 tenants');
  }
  nats = await startLockedNats();
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-ddb-'));
  const port = await freePort();
  const config = resolveConfig({
    ...nats.agent,
    dataDir,
    port,
    routing: 'dynamodb',
    dynamodbTable: TABLE,
    dynamodbEndpoint: dynamo.endpoint,
    publicUrl: `http://127.0.0.1:${port}`,
  });
  agent = await startRegionAgent(config, silentLogger);
  server = serve({ fetch: agent.app.fetch, hostname: '127.0.0.1', port }) as Server;
  await new Promise((r) => server.once('listening', r));
  gateway = await startGateway(
    resolveGatewayConfig({ routing: 'dynamodb', dynamodbTable: TABLE, dynamodbEndpoint: dynamo.endpoint }),
    silentLogger,
  );
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  server?.closeAllConnections();
  server?.close();
  await agent?.close();
  await nats?.stop();
  await dynamo?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('dynamodb routing', () => {
  it('dynamodb routing - agent and gateway work from the table alone', async () => {
    const headers = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };
    const w = await gateway.app.request('/v1/memories?wait=true', {
      method: 'POST',
      headers,
      body: JSON.stringify({ id: 'ddb-1', text: 'Routed through a DynamoDB routing table.' }),
    });
    expect(w.status).toBe(202);
    expect(w.headers.get('x-memmesh-region')).toBe('us-east-1');
    const r = await gateway.app.request('/v1/memories/ddb-1', { headers });
    expect(((await r.json()) as { text: string }).text).toBe('Routed through a DynamoDB routing table.');
    // globex lives in eu-central-1, which has no agent here: its writes are not acknowledged.
    const globex = await gateway.app.request('/v1/memories', {
      method: 'POST',
      headers: { ...headers, authorization: 'Bearer globex-dev-key' },
      body: JSON.stringify({ text: 'nowhere to go' }),
    });
    expect(globex.status).toBe(503);
    expect((await agent.routing.getRegion('us-east-1'))?.endpoint).toBe(
      `http://127.0.0.1:${server.address() && (server.address() as { port: number }).port}`,
    );
  });
});

describe('admin', () => {
  it('admin - two gateways racing to change the same policy: one wins, one gets a conflict', async () => {
    const config = resolveGatewayConfig({
      routing: 'dynamodb',
      dynamodbTable: TABLE,
      dynamodbEndpoint: dynamo.endpoint,
      adminKey: 'admin-test-key-0123',
    });
    const [a, b] = await Promise.all([
      startGateway(config, silentLogger),
      startGateway(config, silentLogger),
    ]);
    try {
      const admin = { authorization: 'Bearer admin-test-key-0123', 'content-type': 'application/json' };
      const current = await a.app.request('/v1/admin/tenants/initech', { headers: admin });
      const version = ((await current.json()) as { version: number }).version;
      expect(current.headers.get('etag')).toBe(`"${version}"`);
      const change = (gw: Gateway, replicas: string[]) =>
        gw.app.request('/v1/admin/tenants/initech', {
          method: 'PUT',
          headers: { ...admin, 'if-match': `"${version}"` },
          body: JSON.stringify({ home: 'ap-southeast-1', replicas }),
        });
      const results = await Promise.all([change(a, ['us-east-1']), change(b, ['eu-central-1'])]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const residency = await a.app.request('/v1/admin/tenants/globex', {
        method: 'PUT',
        headers: { ...admin, 'if-match': '"1"' },
        body: JSON.stringify({ home: 'eu-central-1', replicas: ['us-east-1'], residency: 'eu' }),
      });
      expect(residency.status).toBe(400);
      const noKey = await a.app.request('/v1/admin/tenants/initech', {
        headers: { authorization: 'Bearer acme-dev-key' },
      });
      expect(noKey.status).toBe(401);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('table down', () => {
  // Last in the file: it stops DynamoDB Local.
  it('table down - the admin and key routes answer 503 with Retry-After, never 500', async () => {
    const config = resolveGatewayConfig({
      routing: 'dynamodb',
      dynamodbTable: TABLE,
      dynamodbEndpoint: dynamo.endpoint,
      adminKey: 'admin-test-key-0123',
      // No cached entries to fall back on: every call below reaches the table.
      routingCacheTtlMs: 1,
    });
    const gw = await startGateway(config, silentLogger);
    try {
      await dynamo.stop();
      const admin = { authorization: 'Bearer admin-test-key-0123', 'content-type': 'application/json' };
      const calls: [string, string, unknown?][] = [
        ['GET', '/v1/admin/tenants/initech'],
        ['PUT', '/v1/admin/tenants/initech', { home: 'ap-southeast-1', replicas: [] }],
        ['GET', '/v1/admin/tenants/initech/keys'],
        ['POST', '/v1/admin/tenants/initech/keys', { scopes: ['read'] }],
      ];
      for (const [method, path, body] of calls) {
        const res = await gw.app.request(path, {
          method,
          headers: { ...admin, ...(method === 'PUT' ? { 'if-match': '"1"' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        expect(res.status, `${method} ${path}`).toBe(503);
        expect(Number(res.headers.get('retry-after')), `${method} ${path}`).toBeGreaterThan(0);
      }
    } finally {
      await gw.close();
    }
  }, 60_000);
});
