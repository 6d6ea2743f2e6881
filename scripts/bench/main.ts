/**
 * @module bench
 * `npm run bench [-- --docs N]`: memmesh against baselines measured in the same run, on real
 * processes (a nats-server from the test kit, a region agent served over HTTP on loopback).
 * Prints a table and writes it, with the machine and the command, to scripts/bench/RESULTS.md.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { serve } from '@hono/node-server';
import { shardIndexOf } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import { natsServerBin, startNatsServer } from '@memmesh/testkit';
import { resolveConfig, silentLogger, startRegionAgent } from '../../agents/region/src/index.ts';
import { exactTopK, rawIndex, rawPublishRate } from './baselines.ts';
import { makeCorpus, makeQueries } from './corpus.ts';
import { type LatencySummary, pool } from './stats.ts';

const { values } = parseArgs({ options: { docs: { type: 'string', default: '10000' } } });
const DOCS = Number(values.docs);
const BATCH = 100;
const INGEST_CONCURRENCY = 4;
const RECALL_QUERIES = 200;
const APPLY_WAIT_MS_MAX = 120_000;
const AUTH = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };

interface Row {
  metric: string;
  memmesh: string;
  baseline: string;
  ratio: string;
  aim: string;
  pass: boolean | undefined;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  if (!Number.isInteger(DOCS) || DOCS < 100 || DOCS > 200_000) throw new Error('--docs must be 100..200000');
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'memmesh-bench-'));
  // The result cache is off so that every search does the full work; the bench measures misses.
  const config = resolveConfig({
    natsUrl: nats.url,
    dataDir,
    port: 0,
    resultCacheTtlMs: 0,
    tenantRequestsPerSecond: 1e6,
    tenantBurst: 1e6,
  });
  const agent = await startRegionAgent(config, silentLogger);
  const server = serve({ fetch: agent.app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const rows: Row[] = [];
  try {
    await run(url, nats.url, agent, rows);
  } finally {
    server.close();
    await agent.close();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  await report(rows);
}

async function run(
  url: string,
  natsUrl: string,
  agent: Awaited<ReturnType<typeof startRegionAgent>>,
  rows: Row[],
) {
  const corpus = makeCorpus(DOCS);
  const queries = makeQueries(corpus, 2_000);
  const embedder = createLocalEmbedder();
  const vectors: Float32Array[] = [];
  for (let i = 0; i < corpus.length; i += embedder.batchSizeMax) {
    vectors.push(...(await embedder.embed(corpus.slice(i, i + embedder.batchSizeMax).map((d) => d.text))));
  }
  const queryVectors = await embedder.embed(queries.slice(0, 256));
  const shards = corpus.map((d) => shardIndexOf('acme', d.id, agent.config.shardCount));

  // Baselines first, on a quiet machine.
  const rawPublish = await rawPublishRate(natsUrl, corpus, vectors);
  const raw = await rawIndex(vectors, shards, queryVectors);

  // Ingest through HTTP: acknowledged (in the log) and then searchable (in every view).
  const batches = Array.from({ length: Math.ceil(DOCS / BATCH) }, (_, b) =>
    corpus.slice(b * BATCH, (b + 1) * BATCH),
  );
  const started = performance.now();
  await pool(batches, INGEST_CONCURRENCY, async (batch) => {
    const res = await fetch(`${url}/v1/memories/batch`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({ memories: batch }),
    });
    if (res.status !== 202) throw new Error(`batch write failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  });
  const ackedS = (performance.now() - started) / 1000;
  const deadline = Date.now() + APPLY_WAIT_MS_MAX;
  let chunks = 0;
  for (;;) {
    const status = agent.region.status('acme');
    chunks = status.shards.reduce((n, s) => n + s.chunks, 0);
    if (status.shards.reduce((n, s) => n + s.docs, 0) >= DOCS) break;
    if (Date.now() > deadline) throw new Error('documents did not become searchable in time');
    await new Promise((r) => setTimeout(r, 20));
  }
  const searchableS = (performance.now() - started) / 1000;
  const logRate = DOCS / ackedS;
  const e2eRate = DOCS / searchableS;
  rows.push(row('log path: writes acknowledged (docs/s)', logRate, rawPublish, 'raw JetStream publish', 0.5));
  rows.push(
    row(
      'end-to-end ingest, POST → searchable (docs/s)',
      e2eRate,
      raw.insertsPerSecond,
      'raw usearch insert',
      0.7,
    ),
  );
  rows.push({
    metric: 'end-to-end ingest (chunks/s)',
    memmesh: fmt(chunks / searchableS),
    baseline: '',
    ratio: '',
    aim: '',
    pass: undefined,
  });

  // Search latency through HTTP, with distinct queries, from a client in its own process.
  const c1 = await searchFromClient(url, queries.slice(0, 1_000), 1, 1_000);
  const c16 = await searchFromClient(url, queries.slice(1_000), 16, 3_000);
  const overhead = c1.p50Ms - raw.searchShardGraphs.p50Ms;
  const shardCount = agent.config.shardCount;
  rows.push({
    metric: `search p50 / p99, concurrency 1 (ms) — ${DOCS} chunks in ${shardCount} shards`,
    memmesh: `${fmt(c1.p50Ms, 2)} / ${fmt(c1.p99Ms, 2)}`,
    baseline: `${fmt(raw.searchShardGraphs.p50Ms, 2)} / ${fmt(raw.searchShardGraphs.p99Ms, 2)} raw usearch, same ${shardCount} shard graphs`,
    ratio: `+${fmt(overhead, 2)} ms`,
    aim: 'HTTP + scatter/gather ≤ +1 ms at p50',
    pass: overhead <= 1,
  });
  rows.push({
    metric: 'raw usearch search p50 / p99 (ms), one graph of all chunks',
    memmesh: '',
    baseline: `${fmt(raw.searchOneGraph.p50Ms, 2)} / ${fmt(raw.searchOneGraph.p99Ms, 2)}`,
    ratio: `${fmt(c1.p50Ms / raw.searchOneGraph.p50Ms, 1)}×`,
    aim: '',
    pass: undefined,
  });
  rows.push({
    metric: 'search QPS, concurrency 1',
    memmesh: fmt(c1.qps),
    baseline: fmt(raw.searchShardGraphs.qps),
    ratio: '',
    aim: '',
    pass: undefined,
  });
  rows.push({
    metric: 'search p50 / p99 (ms) and QPS, concurrency 16',
    memmesh: `${fmt(c16.p50Ms, 2)} / ${fmt(c16.p99Ms, 2)}, ${fmt(c16.qps)} QPS`,
    baseline: '',
    ratio: '',
    aim: '',
    pass: undefined,
  });

  // recall@10 of what the agent returns against exact search over the same vectors.
  let hits = 0;
  const recallQueries = queries.slice(2_000 - RECALL_QUERIES);
  const recallVectors = await embedder.embed(recallQueries);
  await pool(
    recallQueries.map((q, i) => ({ q, i })),
    4,
    async ({ q, i }) => {
      const res = await fetch(`${url}/v1/search`, {
        method: 'POST',
        headers: AUTH,
        body: JSON.stringify({ query: q, topK: 10 }),
      });
      const body = (await res.json()) as { results: { id: string }[] };
      const exact = new Set(
        exactTopK(vectors, recallVectors[i] as Float32Array, 10).map((d) => corpus[d]?.id),
      );
      hits += body.results.filter((r) => exact.has(r.id)).length;
    },
  );
  const recall = hits / (RECALL_QUERIES * 10);
  rows.push({
    metric: 'recall@10 vs exact search',
    memmesh: fmt(recall, 3),
    baseline: '1.000 exact',
    ratio: '',
    aim: '≥ 0.95',
    pass: recall >= 0.95,
  });
}

/** Runs the load generator as a child process; the agent keeps serving in this one. */
async function searchFromClient(
  url: string,
  queries: string[],
  concurrency: number,
  count: number,
): Promise<LatencySummary> {
  const args = JSON.stringify({ url, queries, count, concurrency, timeMsMax: 20_000 });
  const client = new URL('./search-client.ts', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, [client, args], { timeout: 60_000 });
  return JSON.parse(stdout) as LatencySummary;
}

function row(metric: string, value: number, baseline: number, baselineName: string, aimRatio: number): Row {
  const ratio = value / baseline;
  return {
    metric,
    memmesh: fmt(value),
    baseline: `${fmt(baseline)} ${baselineName}`,
    ratio: `${fmt(ratio * 100)}%`,
    aim: `≥ ${fmt(aimRatio * 100)}%`,
    pass: ratio >= aimRatio,
  };
}

async function report(rows: Row[]): Promise<void> {
  const natsVersion = execFileSync(natsServerBin(), ['--version']).toString().trim();
  const header = `| metric | memmesh | baseline (same run) | ratio | aim | met |\n|---|---|---|---|---|---|`;
  const lines = rows.map(
    (r) =>
      `| ${r.metric} | ${r.memmesh} | ${r.baseline} | ${r.ratio} | ${r.aim} | ${r.pass === undefined ? '' : r.pass ? 'yes' : '**missed**'} |`,
  );
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${natsVersion}`;
  const text = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --docs ${DOCS}\` on ${machine}.`,
    'One region, 4 shards, embedded index (usearch HNSW), local hashing embedder (384 dims), result cache off.',
    '',
    header,
    ...lines,
    '',
  ].join('\n');
  console.log(`\n${text}`);
  await writeFile(new URL('./RESULTS.md', import.meta.url), `# Bench results\n\n${text}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
