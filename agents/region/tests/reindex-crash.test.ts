/**
 * kill -9 of a re-index's runner halfway: two agent processes of one region share the
 * routing table on DynamoDB Local (where the job's control row and its lease live) and the
 * region's nats-server; the one holding the lease is killed while it embeds, the other takes
 * the job over once the lease has run out and finishes it. The embeddings server counts what
 * it embedded: at most the live chunks plus one batch (the batch in flight at the kill).
 */

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ReindexJob, sleep } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import type { RoutingTable } from '@memmesh/routing';
import {
  createNatsSecurity,
  type DynamoDbLocal,
  eventually,
  type NatsSecurity,
  type NatsServer,
  type OpenAiServer,
  startNatsServer,
  startOpenAiServer,
} from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent, startSeededDynamo } from './crash-suite.ts';
import { ACME, distinctiveSentence } from './harness.ts';

const TABLE = 'memmesh-reindex-crash';
const ADMIN = 'reindex-crash-admin-key-42';
const DOCS = 2_000;
const BATCH_CHUNKS = 50;
const TARGET = { kind: 'openai', model: 'memmesh-test-embed-crash', dimensions: 128 } as const;

let dynamo: DynamoDbLocal;
let nats: NatsServer;
let security: NatsSecurity;
let embeddings: OpenAiServer;
let routing: RoutingTable;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  ({ dynamo, routing } = await startSeededDynamo(TABLE));
  security = await createNatsSecurity({ regions: ['us-east-1'] });
  nats = await startNatsServer({ security });
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-reindex-crash-'));
  // A model server that takes its time per call, so that the kill lands while the runner embeds.
  const other = createLocalEmbedder({ dimensions: TARGET.dimensions });
  embeddings = await startOpenAiServer({
    dimensions: TARGET.dimensions,
    embed: async (texts) => {
      await sleep(60);
      return other.embed(texts);
    },
  });
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await embeddings?.stop();
  await routing?.close();
  await nats?.stop();
  await security?.remove();
  await dynamo?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** One agent of us-east-1, its own process and data directory, the shared table and NATS. */
function startAgent(name: string) {
  const files = security.agent('us-east-1');
  return spawnAgent(nats.url, join(dataDir, name), children, {
    MEMMESH_NATS_CREDS: files.credsFile,
    MEMMESH_NATS_TLS_CA: files.tls.caFile,
    MEMMESH_AGENT_ID: name,
    MEMMESH_REGION: 'us-east-1',
    MEMMESH_ROUTING: 'dynamodb',
    MEMMESH_DYNAMODB_TABLE: TABLE,
    MEMMESH_DYNAMODB_ENDPOINT: dynamo.endpoint,
    MEMMESH_ROUTING_CACHE_TTL_MS: '0',
    MEMMESH_ADMIN_KEY: ADMIN,
    MEMMESH_OPENAI_BASE_URL: embeddings.url,
    MEMMESH_MODEL_FOLLOW_MS: '200',
    MEMMESH_REINDEX_LEASE_MS: '3000',
    MEMMESH_REINDEX_BATCH_CHUNKS: String(BATCH_CHUNKS),
    MEMMESH_LOG_LEVEL: 'info',
  });
}

const request = async (url: string, method: string, path: string, body?: unknown, key = ACME) => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as any };
};

describe('re-index - kill -9 of the runner', () => {
  it('another agent takes the lease over and finishes; at most one batch is embedded twice', async () => {
    const [a, b] = await Promise.all([startAgent('agent-a'), startAgent('agent-b')]);
    for (let start = 0; start < DOCS; start += 100) {
      const memories = Array.from({ length: 100 }, (_, k) => ({
        id: `doc-${start + k}`,
        text: distinctiveSentence(start + k),
      }));
      const r = await request(a.url, 'POST', '/v1/memories/batch?wait=true', { memories });
      expect(r.status).toBe(202);
    }
    const started = await request(
      a.url,
      'POST',
      '/v1/admin/reindex',
      { region: 'us-east-1', embedder: TARGET },
      ADMIN,
    );
    expect(started.status).toBe(202);
    const id: string = started.body.id;

    // Halfway: the lease holder is killed while it embeds.
    const owner = await eventually(
      'the runner halfway',
      async () => {
        const row = await routing.getControl('reindex:us-east-1');
        const value = row?.value as { job: ReindexJob; lease?: { owner: string } } | undefined;
        return value?.lease && value.job.done >= DOCS * 0.3 ? value.lease.owner : undefined;
      },
      { timeoutMs: 60_000, stepMs: 20 },
    );
    const victim = owner === 'agent-a' ? a : b;
    const survivor = owner === 'agent-a' ? b : a;
    victim.child.kill('SIGKILL');
    const atKill = embeddings.texts.length;
    expect(atKill).toBeLessThan(DOCS);

    const active = await eventually(
      're-index active',
      async () => {
        const r = await request(survivor.url, 'GET', `/v1/admin/reindex/${id}`, undefined, ADMIN);
        if (r.body.state === 'failed') throw new Error(`failed: ${r.body.error}`);
        return r.body.state === 'active' ? (r.body as ReindexJob) : undefined;
      },
      { timeoutMs: 90_000, stepMs: 200 },
    );
    expect(active).toMatchObject({ done: DOCS, total: DOCS });
    // One chunk per memory: every live chunk once, and at most the batch in flight again.
    const embedded = embeddings.texts;
    expect(new Set(embedded).size).toBe(DOCS);
    expect(embedded.length).toBeLessThanOrEqual(DOCS + BATCH_CHUNKS);
    // The survivor answers with the new model.
    const found = await request(survivor.url, 'POST', '/v1/search', {
      query: distinctiveSentence(5),
      topK: 5,
    });
    expect(found.status).toBe(200);
    expect(found.body.results.map((h: { id: string }) => h.id)).toContain('doc-5');
    const stats = await request(survivor.url, 'GET', '/v1/stats');
    const own = stats.body.models.find((m: { origin: string }) => m.origin === 'us-east-1');
    expect(own.serving).toEqual(TARGET);
  }, 240_000);
});
