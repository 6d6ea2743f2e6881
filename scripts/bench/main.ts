/**
 * @module bench
 * `npm run bench [-- --docs N]`: memmesh against baselines measured in the same run, on real
 * processes — a nats-server from the test kit, a region agent served over HTTP on loopback,
 * and load from client processes. Prints a table and writes it, with the date, the machine
 * and the command, to scripts/bench/RESULTS.md. Aims that are missed are reported as missed;
 * the run goes on. Everything started is torn down, also on error and on Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { shardIndexOf } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import { DEFAULT_HNSW } from '@memmesh/index';
import { createNatsSecurity, startNatsServer } from '@memmesh/testkit';
import { resolveConfig } from '../../agents/region/src/index.ts';
import { rawIndex, rawPublish } from './baselines.ts';
import { killClients } from './client-process.ts';
import { makeCorpus, makeQueries } from './corpus.ts';
import { createTeardown, startServedAgent, type Teardown } from './env.ts';
import { cpuSnapshot, otherCores } from './machine.ts';
import {
  type Bench,
  embedAll,
  measureIngest,
  measureRecall,
  measureRestartAndCache,
  measureSearch,
  SEARCH_BOUNDS,
} from './measure.ts';
import { errorRow, fmt, type Part, type Row, render, writeResults } from './report.ts';

const DOCS_MIN = 100;
const DOCS_MAX = 200_000;
const BATCH_SIZE = 100;
const INGEST_CONCURRENCY = 4;
const QUERY_COUNTS = { c1: 2_000, c16: 2_000, recall: 200, cache: 100 } as const;

const argv = process.argv.slice(2);
const { values } = parseArgs({ args: argv, options: { docs: { type: 'string', default: '10000' } } });
/** Set on SIGINT/SIGTERM: the run is being torn down and writes no results. */
let interrupted = false;
const COMMAND = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;

/** Distinct queries for each use, so that no row is served another row's cached work. */
function splitQueries(queries: readonly string[]): Bench['queries'] {
  const { c1, c16, recall } = QUERY_COUNTS;
  return {
    c1: queries.slice(0, c1),
    c16: queries.slice(c1, c1 + c16),
    recall: queries.slice(c1 + c16, c1 + c16 + recall),
    cache: queries.slice(c1 + c16 + recall),
  };
}

/** Starts nats-server and the agent, each with its teardown step registered first. */
async function setUp(docs: number, teardown: Teardown, rows: Row[], parts: Part[]): Promise<Bench> {
  // Locked down as in production (TLS, nkey users): the agent connects as its region's role,
  // the baselines as the operator, both over TLS, so the ratios compare like with like.
  const security = await createNatsSecurity({ regions: ['us-east-1'] });
  teardown.add('remove the NATS keys and certificates', () => security.remove());
  const nats = await startNatsServer({ name: 'memmesh-bench', security });
  teardown.add('stop nats-server', () => nats.stop());
  const agentFiles = security.agent('us-east-1');
  const operator = security.operator();
  const dataDir = await mkdtemp(join(tmpdir(), 'memmesh-bench-'));
  teardown.add('remove the data directory', () => rm(dataDir, { recursive: true, force: true }));
  // The result cache is off so that every search does the full work (the cache-hit row
  // turns it on after a restart); the tenant rate limit is raised so the bench measures
  // the agent, not the limiter.
  const config = resolveConfig({
    natsUrl: nats.url,
    natsCredsFile: agentFiles.credsFile,
    natsTlsCaFile: agentFiles.tls.caFile,
    dataDir,
    port: 0,
    resultCacheTtlMs: 0,
    tenantRequestsPerSecond: 1_000_000,
    tenantBurst: 1_000_000,
  });
  const corpus = makeCorpus(docs);
  const queries = makeQueries(
    corpus,
    Object.values(QUERY_COUNTS).reduce((a, b) => a + b, 0),
  );
  const embedder = createLocalEmbedder({ dimensions: config.embedDimensions });
  teardown.add('close the embedder', () => embedder.close());
  const embedStarted = performance.now();
  const vectors = await embedAll(
    embedder,
    corpus.map((d) => d.text),
  );
  parts.push({
    part: 'ingest: local embedder alone, in this process',
    p50: `${fmt(docs / ((performance.now() - embedStarted) / 1000))} docs/s`,
    note: `the same ${fmt(docs)} texts, batches of ${embedder.batchSizeMax}`,
  });
  const bench: Bench = {
    docs,
    batchSize: BATCH_SIZE,
    ingestConcurrency: INGEST_CONCURRENCY,
    nats: { servers: nats.url, credsFile: operator.credsFile, tls: operator.tls },
    config,
    served: await startServedAgent(config),
    corpus,
    vectors,
    embedder,
    queries: splitQueries(queries),
    rows,
    parts,
  };
  teardown.add('stop the region agent', () => bench.served.close());
  return bench;
}

function setupText(bench: Bench): string {
  const lengths = bench.corpus.map((d) => d.text.length);
  const { config } = bench;
  return [
    `One region agent in this process (HTTP on loopback via @hono/node-server), ${config.shardCount} shards,`,
    `embedded index (usearch HNSW, m ${DEFAULT_HNSW.m}, efConstruction ${DEFAULT_HNSW.efConstruction} / efSearch ${DEFAULT_HNSW.efSearch}),`,
    `local hashing embedder (${config.embedDimensions} dims), one nats-server (JetStream, file store, R1, default sync;`,
    'TLS and nkey users, the agent as its region role and the baselines as the operator).',
    `${fmt(bench.docs)} memories of ${Math.min(...lengths)}–${Math.max(...lengths)} characters`,
    `(mean ${fmt(lengths.reduce((a, b) => a + b, 0) / lengths.length)}, one chunk each), POSTed in batches of ${bench.batchSize},`,
    `${bench.ingestConcurrency} in flight, by a client process. Searches: topK 10, from a client process,`,
    `distinct queries, at most ${fmt(SEARCH_BOUNDS.count)} or ${SEARCH_BOUNDS.timeMsMax / 1000} s per row, result cache off`,
    '(resultCacheTtlMs 0) except in the cache-hit row. Snapshots every',
    `${config.snapshotIntervalMs / 1000} s as by default; tenant rate limit raised out of the way.`,
  ].join(' ');
}

async function runBench(docs: number, teardown: Teardown, rows: Row[], parts: Part[]): Promise<string> {
  const bench = await setUp(docs, teardown, rows, parts);
  const setup = setupText(bench);
  try {
    const { config, corpus, vectors } = bench;
    // Baselines first, while the agent is idle.
    const publish = await rawPublish(bench.nats, corpus, vectors, {
      tenant: 'acme',
      shardCount: config.shardCount,
      modelId: bench.embedder.modelId,
      dimensions: config.embedDimensions,
      sourceRegion: config.region,
      sourceAgent: config.agentId,
    });
    const shards = corpus.map((d) => shardIndexOf('acme', d.id, config.shardCount));
    const queryVectors = await embedAll(bench.embedder, bench.queries.c1);
    const raw = await rawIndex(vectors, shards, config.shardCount, queryVectors, {
      ...SEARCH_BOUNDS,
      concurrency: 1,
    });
    await measureIngest(bench, publish, raw);
    await measureSearch(bench, raw);
    await measureRecall(bench);
    await measureRestartAndCache(bench);
  } catch (err) {
    rows.push(errorRow('bench stopped', err));
    // After Ctrl-C the teardown kills what is running; the errors that follow are expected.
    if (!interrupted) console.error(err);
  }
  return setup;
}

async function main(): Promise<void> {
  const docs = Number(values.docs);
  if (!Number.isInteger(docs) || docs < DOCS_MIN || docs > DOCS_MAX) {
    throw new Error(`--docs must be an integer in [${DOCS_MIN}, ${DOCS_MAX}], got ${values.docs}`);
  }
  const started = performance.now();
  const cpuAtStart = cpuSnapshot();
  const teardown = createTeardown();
  const stop = (signal: string) => {
    interrupted = true;
    console.error(`bench: ${signal}, tearing down`);
    killClients();
    void teardown.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  const rows: Row[] = [];
  const parts: Part[] = [];
  let setup: string;
  try {
    setup = await runBench(docs, teardown, rows, parts);
  } finally {
    killClients();
    await teardown.run();
  }
  const runS = (performance.now() - started) / 1000;
  const otherCoresUsed = otherCores(cpuAtStart, cpuSnapshot());
  const text = render({ rows, parts, setup, command: COMMAND, runS, otherCores: otherCoresUsed });
  console.log(`\n${text}`);
  await writeResults(text);
  if (rows.some((r) => r.metric === 'bench stopped')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
