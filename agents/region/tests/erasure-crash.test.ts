/**
 * kill -9 of the agent in the middle of an erasure: the agent runs as its own process, with
 * the routing table on DynamoDB Local (where the erasure's control row, its leases and its
 * progress live), and is killed while it tombstones 2,000 memories of u1 in batches of 20.
 * Restarted (same id, same data directory) it takes its own lease back, resumes where the row
 * says, and finishes: the receipt counts every u1 memory once, its verification finds nothing
 * left, and u2's memories are untouched.
 */

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErasureReceipt } from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import {
  createNatsSecurity,
  type DynamoDbLocal,
  eventually,
  type NatsSecurity,
  type NatsServer,
  startNatsServer,
} from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent, startSeededDynamo } from './crash-suite.ts';
import { ACME, distinctiveSentence } from './harness.ts';

const TABLE = 'memmesh-erasure-crash';
const U1 = 2_000;
const U2 = 200;
const BATCH_DOCS = 20;

let dynamo: DynamoDbLocal;
let nats: NatsServer;
let security: NatsSecurity;
let routing: RoutingTable;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  ({ dynamo, routing } = await startSeededDynamo(TABLE));
  // Only us-east-1 runs here: acme without its replicas, whose regions have no agent to report.
  const acme = await routing.getTenant('acme');
  await routing.putTenant(
    { tenant: 'acme', home: 'us-east-1', replicas: [] },
    { expectedVersion: acme?.version ?? 0 },
  );
  security = await createNatsSecurity({ regions: ['us-east-1'] });
  nats = await startNatsServer({ security });
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-erasure-crash-'));
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await routing?.close();
  await nats?.stop();
  await security?.remove();
  await dynamo?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function startAgent() {
  const files = security.agent('us-east-1');
  return spawnAgent(nats.url, join(dataDir, 'agent'), children, {
    MEMMESH_NATS_CREDS: files.credsFile,
    MEMMESH_NATS_TLS_CA: files.tls.caFile,
    MEMMESH_AGENT_ID: 'erasure-agent',
    MEMMESH_REGION: 'us-east-1',
    MEMMESH_ROUTING: 'dynamodb',
    MEMMESH_DYNAMODB_TABLE: TABLE,
    MEMMESH_DYNAMODB_ENDPOINT: dynamo.endpoint,
    MEMMESH_ROUTING_CACHE_TTL_MS: '0',
    MEMMESH_ERASURE_FOLLOW_MS: '200',
    MEMMESH_ERASURE_LEASE_MS: '3000',
    MEMMESH_ERASURE_BATCH_DOCS: String(BATCH_DOCS),
    MEMMESH_LOG_LEVEL: 'info',
  });
}

const request = async (url: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as any };
};

async function write(url: string, userId: string, count: number, offset: number): Promise<void> {
  for (let start = 0; start < count; start += 100) {
    const memories = Array.from({ length: Math.min(100, count - start) }, (_, k) => ({
      id: `${userId}-${start + k}`,
      text: distinctiveSentence(offset + start + k),
      scope: { userId },
    }));
    const r = await request(url, 'POST', '/v1/memories/batch?wait=true', { memories });
    expect(r.status).toBe(202);
  }
}

describe('erasure - kill -9 of the agent', () => {
  it('erasure - the restarted agent resumes the erasure and finishes it; every u1 memory is erased once, u2 is intact', async () => {
    const first = await startAgent();
    await write(first.url, 'u1', U1, 0);
    await write(first.url, 'u2', U2, U1);
    const accepted = await request(first.url, 'DELETE', '/v1/memories?userId=u1');
    expect(accepted.status).toBe(202);
    const id: string = accepted.body.id;

    // In the middle: some batches of tombstones are published, not all of them.
    const atKill = await eventually(
      'the erasure halfway',
      async () => {
        const row = await routing.getControl(`erasure:${id}`);
        const value = row?.value as { tombstoned: number; sealed: boolean } | undefined;
        return value && value.tombstoned >= U1 * 0.2 ? value : undefined;
      },
      { timeoutMs: 60_000, stepMs: 10 },
    );
    first.child.kill('SIGKILL');
    expect(atKill.sealed).toBe(false);
    expect(atKill.tombstoned).toBeLessThan(U1);

    const second = await startAgent();
    const receipt = await eventually(
      'the erasure done after the restart',
      async () => {
        const r = await request(second.url, 'GET', `/v1/erasures/${id}`);
        if (r.body.state === 'failed') throw new Error(`failed: ${JSON.stringify(r.body)}`);
        return r.body.state === 'done' ? (r.body as ErasureReceipt) : undefined;
      },
      { timeoutMs: 120_000, stepMs: 200 },
    );
    expect(receipt.documents).toBe(U1);
    const home = receipt.regions['us-east-1'];
    expect(home?.streamMessages).toBe(U1);
    expect(home?.verification).toMatchObject({ ok: true, streamMessagesLeft: 0, viewHitsLeft: 0 });
    for (const i of [0, 777, U1 - 1]) {
      expect((await request(second.url, 'GET', `/v1/memories/u1-${i}`)).status).toBe(404);
      const found = await request(second.url, 'POST', '/v1/search', {
        query: distinctiveSentence(i),
        topK: 3,
      });
      expect(
        found.body.results.map((h: { id: string }) => h.id).filter((x: string) => x.startsWith('u1-')),
      ).toEqual([]);
    }
    for (let i = 0; i < U2; i++) {
      const r = await request(second.url, 'GET', `/v1/memories/u2-${i}`);
      expect(r.status).toBe(200);
      expect(r.body.text).toBe(distinctiveSentence(U1 + i));
    }
  }, 300_000);
});
