/**
 * @module crash-suite
 * kill -9 of the agent during an ingest (10,000 documents on the embedded defaults): after a
 * restart and catch-up, every acknowledged document is searchable exactly once and none is
 * lost. The client retries the batches that were in flight at the kill, as a real client
 * would; the content-hash Nats-Msg-Id makes those retries harmless. Run per backend
 * combination: crash.test.ts (embedded), crash-milvus.alone.test.ts (Milvus + Redis).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { loadDynamoRoutingTable, type RoutingTable } from '@memmesh/routing';
import {
  createNatsSecurity,
  type DynamoDbLocal,
  type NatsSecurity,
  type NatsServer,
  startDynamoDbLocal,
  startNatsServer,
} from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME, distinctiveSentence } from './harness.ts';

export const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const ROUTING_SCRIPT = new URL('../../../scripts/routing-table.ts', import.meta.url).pathname;

/**
 * DynamoDB Local with routing table `table` created and seeded from regions/ by the
 * operator's script, as agent processes that share it would find it; and this process's
 * handle on it.
 */
export async function startSeededDynamo(
  table: string,
): Promise<{ dynamo: DynamoDbLocal; routing: RoutingTable }> {
  const dynamo = await startDynamoDbLocal();
  // The SDK's default chain reads these, in the script's process and in this one.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  });
  const env = { ...process.env, MEMMESH_DYNAMODB_ENDPOINT: dynamo.endpoint, MEMMESH_DYNAMODB_TABLE: table };
  await promisify(execFile)(process.execPath, [ROUTING_SCRIPT, '--seed'], { env, timeout: 60_000 });
  return { dynamo, routing: await loadDynamoRoutingTable({ tableName: table, endpoint: dynamo.endpoint }) };
}
/** A batch is 1% of the documents: the first 20% land before the kill window, the kill comes at 40%. */
const BATCHES = 100;
const SNAPSHOTTED_BATCHES = 20;
const KILL_AFTER_BATCHES = 40;
const CONCURRENCY = 4;
const WAIT_MS_MAX = 90_000;

export interface CrashSuiteOptions {
  /** Documents ingested in all, a multiple of 100 (batches of 1%; the kill comes after 40%). */
  docs: number;
  /**
   * Documents whose search is checked one by one afterwards (an evenly spread sample); all by
   * default. Every document is still counted exactly, through the per-shard stats.
   */
  searchChecks?: number;
  /** Searches in flight while checking; a backend that serves one request at a time wants few. */
  searchConcurrency?: number;
  /** Backend settings for the agent process, read when it starts (servers are up by then). */
  env?: () => Record<string, string>;
}

export function describeCrash(backends: string, options: CrashSuiteOptions): void {
  const { docs } = options;
  let nats: NatsServer;
  let security: NatsSecurity;
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    security = await createNatsSecurity({ regions: ['us-east-1'] });
    nats = await startNatsServer({ security });
    dataDir = await mkdtemp(join(tmpdir(), 'memmesh-crash-'));
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await nats?.stop();
    await security?.remove();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  // The process gets its role's credentials the way a deployment does: files named in its environment.
  const startAgent = () => {
    const files = security.agent('us-east-1');
    const credentials = { MEMMESH_NATS_CREDS: files.credsFile, MEMMESH_NATS_TLS_CA: files.tls.caFile };
    return spawnAgent(nats.url, dataDir, children, { ...credentials, ...options.env?.() });
  };

  describe(`crash on ${backends}`, () => {
    it(`crash - kill -9 during a ${docs}-document ingest loses no acknowledged document and duplicates none`, async () => {
      await crashAndRecover(startAgent, docs, options.searchChecks ?? docs, options.searchConcurrency ?? 8);
    }, 240_000);
  });
}

/** Starts the agent as its own process (main.ts), resolving once it listens; `env` wins over the defaults. */
export async function spawnAgent(
  natsUrl: string,
  dataDir: string,
  children: ChildProcess[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; restoredSeqs: number[] }> {
  const restoredSeqs: number[] = [];
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      MEMMESH_NATS_URL: natsUrl,
      MEMMESH_DATA_DIR: dataDir,
      MEMMESH_PORT: '0',
      MEMMESH_SNAPSHOT_INTERVAL_MS: '300',
      MEMMESH_AGENT_ID: 'crash-agent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('agent did not start in 20 s')), 20_000);
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string; level?: string; url?: string; appliedSeq?: number };
      if (entry.msg === 'shard started') restoredSeqs.push(entry.appliedSeq ?? 0);
      // What went wrong inside the agent shows beside the test's own failure.
      if (entry.level === 'error' || entry.level === 'warn')
        process.stderr.write(`agent: ${line.slice(0, 1_000)}\n`);
      if (entry.msg === 'listening' && entry.url) {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}`)));
  });
  return { child, url, restoredSeqs };
}

const post = async (url: string, path: string, body: unknown) => {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as any };
};

const batchOf = (b: number, size: number) => ({
  memories: Array.from({ length: size }, (_, j) => {
    const i = b * size + j;
    return { id: `crash-${i}`, text: distinctiveSentence(i), metadata: { n: i } };
  }),
});

async function waitFor(predicate: () => Promise<boolean>, what: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (Date.now() < deadline) {
    if (await predicate().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what()}`);
}

type Agent = Awaited<ReturnType<typeof spawnAgent>>;

/** Attempts of one check search: a 503 says "busy, come back", as a client would hear it. */
const SEARCH_ATTEMPTS_MAX = 5;

async function searchRetrying503(url: string, body: unknown): Promise<{ status: number; body: any }> {
  for (let attempt = 1; ; attempt++) {
    const res = await post(url, '/v1/search', body);
    if (res.status !== 503 || attempt === SEARCH_ATTEMPTS_MAX) return res;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function crashAndRecover(
  startAgent: () => Promise<Agent>,
  docs: number,
  searchChecks: number,
  searchConcurrency: number,
): Promise<void> {
  const batch = docs / BATCHES;
  let agent = await startAgent();
  const acked = new Set<number>();
  const pending: number[] = Array.from({ length: BATCHES }, (_, b) => b);
  const failed: number[] = [];
  let killed = false;

  // Phase 1: a first part lands and is snapshotted, so the restart must combine a snapshot
  // with a replay of what came after it.
  for (let b = 0; b < SNAPSHOTTED_BATCHES; b++) {
    const res = await post(agent.url, '/v1/memories/batch', batchOf(pending.shift() as number, batch));
    expect(res.status).toBe(202);
    acked.add(b);
  }
  await new Promise((r) => setTimeout(r, 1_000));

  // Phase 2: concurrent ingest, kill -9 once KILL_AFTER_BATCHES are acknowledged, mid-flight.
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let b = pending.shift(); b !== undefined; b = pending.shift()) {
        if (killed) {
          failed.push(b);
          continue;
        }
        try {
          const res = await post(agent.url, '/v1/memories/batch', batchOf(b, batch));
          if (res.status !== 202) throw new Error(`status ${res.status}`);
          acked.add(b);
          if (acked.size === KILL_AFTER_BATCHES && !killed) {
            killed = true;
            agent.child.kill('SIGKILL');
          }
        } catch {
          failed.push(b);
        }
      }
    }),
  );
  expect(killed).toBe(true);
  expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER_BATCHES);

  // Phase 3: restart on the same data dir; the client retries everything not acknowledged.
  agent = await startAgent();
  // The restart resumed from snapshots (positions > 0), not from an empty view.
  expect(agent.restoredSeqs).toHaveLength(4);
  expect(Math.max(...agent.restoredSeqs)).toBeGreaterThan(0);
  for (const b of failed.sort((x, y) => x - y)) {
    const res = await post(agent.url, '/v1/memories/batch', batchOf(b, batch));
    expect(res.status).toBe(202);
    acked.add(b);
  }
  expect(acked.size).toBe(BATCHES);

  const totals = async () => {
    const res = await fetch(`${agent.url}/v1/stats`, { headers: { authorization: `Bearer ${ACME}` } });
    const body = (await res.json()) as { shards: { docs: number; chunks: number }[] };
    return body.shards.reduce((t, s) => ({ docs: t.docs + s.docs, chunks: t.chunks + s.chunks }), {
      docs: 0,
      chunks: 0,
    });
  };
  let last = { docs: 0, chunks: 0 };
  await waitFor(
    async () => {
      last = await totals();
      return last.docs === docs;
    },
    () => `${docs} documents applied (last seen ${JSON.stringify(last)})`,
  );
  // Exactly once: one live document and one chunk per id, nothing left over from replays.
  expect(await totals()).toEqual({ docs: docs, chunks: docs });

  // Every document is searchable, and appears once: its own filter finds exactly it.
  const misses: string[] = [];
  const step = docs / searchChecks;
  const ids = Array.from({ length: searchChecks }, (_, k) => Math.floor(k * step));
  await Promise.all(
    Array.from({ length: searchConcurrency }, async () => {
      for (let i = ids.shift(); i !== undefined; i = ids.shift()) {
        const res = await searchRetrying503(agent.url, {
          query: distinctiveSentence(i),
          topK: 5,
          filter: { metadata: { n: i } },
        });
        const found = res.status === 200 ? res.body.results.map((r: { id: string }) => r.id) : [];
        if (found.length !== 1 || found[0] !== `crash-${i}`) misses.push(`${i}: ${res.status} ${found}`);
      }
    }),
  );
  expect(misses).toEqual([]);
  agent.child.kill('SIGTERM');
}
