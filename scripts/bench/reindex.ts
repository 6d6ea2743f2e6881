/**
 * @module reindex-bench
 * `npm run bench:reindex [-- --docs N]`: re-indexing a region to another embedding model,
 * against baselines measured in the same run. A region agent on a locked-down nats-server
 * holds N memories on the local model; the target is an OpenAI-compatible server whose calls
 * cost what a model server's do (a fixed time per call plus a time per character, one call
 * at a time). Measured: re-index throughput (request → active) against the target embedder
 * alone on the same texts, and search latency while the re-index builds against before it.
 * Writes scripts/bench/REINDEX_RESULTS.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chunkText, type ReindexJob, sleep } from '@memmesh/core';
import { createLocalEmbedder, createOpenAiEmbedder } from '@memmesh/embed';
import { createNatsSecurity, startNatsServer, startOpenAiServer } from '@memmesh/testkit';
import { resolveConfig } from '../../agents/region/src/index.ts';
import { AUTH_HEADERS } from './client.ts';
import { makeCorpus, makeQueries } from './corpus.ts';
import { createTeardown, startServedAgent } from './env.ts';
import { cpuSnapshot, otherCores } from './machine.ts';
import { fmt, ms, type Row, rateRow, render, writeResults } from './report.ts';
import { type LatencySummary, measureLatency } from './stats.ts';

const ADMIN = 'bench-reindex-admin-key-0001';
const TARGET = { kind: 'openai', model: 'bench-target-model', dimensions: 256 } as const;
/** The target model server: a fixed cost per call and a cost per character, one call at a time. */
const MODEL_CALL_MS = 8;
const MODEL_CHAR_MS = 0.002;
const BATCH_CHUNKS = 256;
const SEARCH = { count: 20_000, concurrency: 4, timeMsMax: 600_000 } as const;
const REINDEX_WAIT_MS_MAX = 900_000;

const argv = process.argv.slice(2);
const { values } = parseArgs({ args: argv, options: { docs: { type: 'string', default: '5000' } } });
const COMMAND = `npm run bench:reindex${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;

interface Setup {
  url: string;
  docs: number;
  chunkTexts: string[];
  queries: string[];
  modelUrl: string;
}

async function main(): Promise<void> {
  const docs = Number(values.docs);
  if (!Number.isInteger(docs) || docs < 100 || docs > 200_000) throw new Error('--docs must be 100..200000');
  const teardown = createTeardown();
  const onSignal = () => void teardown.run().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = performance.now();
  const cpuStart = cpuSnapshot();
  try {
    const setup = await setUp(docs, teardown);
    const aloneDocsPerS = await embedderAlone(setup);
    const before = await measureLatency(searcher(setup, 0), { ...SEARCH, count: 2_000 });
    const { job, during, seconds } = await reindexUnderSearch(setup);
    const text = render({
      rows: rowsOf(setup, job, aloneDocsPerS, docs / seconds, before, during),
      parts: [
        { part: 'searches before the re-index', p50: ms(before.p50Ms), note: summary(before) },
        { part: 'searches while it built', p50: ms(during.p50Ms), note: summary(during) },
      ],
      setup:
        `${fmt(docs)} memories (${fmt(setup.chunkTexts.length)} chunks) on local-hash-v1 (384 dims), re-indexed to an ` +
        `OpenAI-compatible model server (${TARGET.dimensions} dims, ${MODEL_CALL_MS} ms per call + ` +
        `${MODEL_CHAR_MS} ms per character, one call at a time; batches of ${BATCH_CHUNKS} chunks). Searches: ` +
        `${SEARCH.concurrency} at a time over HTTP, topK 10, result cache off; "while building" ends when the job is ready.`,
      command: COMMAND,
      runS: (performance.now() - started) / 1000,
      otherCores: otherCores(cpuStart, cpuSnapshot()),
    });
    console.log(text);
    await writeResults(text, 'REINDEX_RESULTS.md', 'Re-index bench results');
  } finally {
    await teardown.run();
  }
}

/** nats-server, the model server and the agent, each with its teardown; then the ingest. */
async function setUp(docs: number, teardown: ReturnType<typeof createTeardown>): Promise<Setup> {
  const security = await createNatsSecurity({ regions: ['us-east-1'] });
  teardown.add('remove the NATS keys and certificates', () => security.remove());
  const nats = await startNatsServer({ name: 'memmesh-bench-reindex', security });
  teardown.add('stop nats-server', () => nats.stop());
  const model = createLocalEmbedder({ dimensions: TARGET.dimensions });
  let busy: Promise<unknown> = Promise.resolve();
  const server = await startOpenAiServer({
    dimensions: TARGET.dimensions,
    embed: (texts) => {
      const chars = texts.reduce((sum, t) => sum + t.length, 0);
      const run = busy.then(async () => {
        await sleep(MODEL_CALL_MS + chars * MODEL_CHAR_MS);
        return model.embed(texts);
      });
      busy = run.catch(() => undefined);
      return run;
    },
  });
  teardown.add('stop the model server', () => server.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'memmesh-bench-reindex-'));
  teardown.add('remove the data directory', () => rm(dataDir, { recursive: true, force: true }));
  const files = security.agent('us-east-1');
  const config = resolveConfig({
    natsUrl: nats.url,
    natsCredsFile: files.credsFile,
    natsTlsCaFile: files.tls.caFile,
    dataDir,
    port: 0,
    resultCacheTtlMs: 0,
    tenantRequestsPerSecond: 1_000_000,
    tenantBurst: 1_000_000,
    adminKey: ADMIN,
    openaiBaseUrl: server.url,
    modelFollowMs: 200,
    reindexBatchChunks: BATCH_CHUNKS,
  });
  const served = await startServedAgent(config);
  teardown.add('stop the region agent', () => served.close());
  const corpus = makeCorpus(docs);
  for (let i = 0; i < corpus.length; i += 100) {
    const res = await fetch(`${served.url}/v1/memories/batch?wait=true`, {
      method: 'POST',
      headers: AUTH_HEADERS,
      body: JSON.stringify({ memories: corpus.slice(i, i + 100) }),
    });
    if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  }
  const chunking = { chunkChars: config.chunkChars, overlapChars: config.chunkOverlapChars, chunksMax: 64 };
  const chunkTexts = corpus.flatMap((d) =>
    chunkText(d.text, chunking).map((s) => d.text.slice(s.start, s.end)),
  );
  return {
    url: served.url,
    docs,
    chunkTexts,
    queries: makeQueries(corpus, 2 * SEARCH.count),
    modelUrl: server.url,
  };
}

/** The baseline: the target embedder alone, the same texts in the re-index's batches (docs/s). */
async function embedderAlone(setup: Setup): Promise<number> {
  const alone = createOpenAiEmbedder({
    apiKey: 'none',
    baseURL: setup.modelUrl,
    model: TARGET.model,
    dimensions: TARGET.dimensions,
  });
  const started = performance.now();
  for (let i = 0; i < setup.chunkTexts.length; i += BATCH_CHUNKS) {
    await alone.embed(setup.chunkTexts.slice(i, i + BATCH_CHUNKS));
  }
  const perS = setup.docs / ((performance.now() - started) / 1000);
  await alone.close();
  return perS;
}

function searcher(setup: Setup, offset: number) {
  return async (i: number) => {
    const res = await fetch(`${setup.url}/v1/search`, {
      method: 'POST',
      headers: AUTH_HEADERS,
      body: JSON.stringify({ query: setup.queries[offset + i], topK: 10 }),
    });
    if (res.status !== 200) throw new Error(`search answered ${res.status}`);
    await res.arrayBuffer();
  };
}

/** Requests the re-index and searches until its view is ready; resolves once it is active. */
async function reindexUnderSearch(setup: Setup) {
  const admin = { ...AUTH_HEADERS, authorization: `Bearer ${ADMIN}` };
  const started = performance.now();
  const requested = await fetch(`${setup.url}/v1/admin/reindex`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ region: 'us-east-1', embedder: TARGET }),
  });
  if (requested.status !== 202)
    throw new Error(`re-index answered ${requested.status}: ${await requested.text()}`);
  const { id } = (await requested.json()) as ReindexJob;
  let job: ReindexJob | undefined;
  let building = true;
  const watch = (async () => {
    const deadline = Date.now() + REINDEX_WAIT_MS_MAX;
    while (Date.now() < deadline) {
      job = (await (
        await fetch(`${setup.url}/v1/admin/reindex/${id}`, { headers: admin })
      ).json()) as ReindexJob;
      if (job.state === 'ready' || job.state === 'active') building = false;
      if (job.state === 'active' || job.state === 'failed') return;
      await sleep(50);
    }
    throw new Error('the re-index did not finish in time');
  })();
  const during = await measureLatency(searcher(setup, SEARCH.count), { ...SEARCH, stop: () => !building });
  await watch;
  const seconds = (performance.now() - started) / 1000;
  if (job?.state !== 'active') throw new Error(`re-index ${job?.state}: ${job?.error}`);
  return { job, during, seconds };
}

function rowsOf(
  setup: Setup,
  job: ReindexJob,
  aloneDocsPerS: number,
  docsPerS: number,
  before: LatencySummary,
  during: LatencySummary,
): Row[] {
  const live = setup.chunkTexts.length;
  return [
    rateRow('re-index (docs/s, request → active)', docsPerS, aloneDocsPerS, 'target embedder alone', 0.8),
    latencyRow('search p50 while building (ms)', during.p50Ms, before.p50Ms, undefined),
    latencyRow('search p99 while building (ms)', during.p99Ms, before.p99Ms, 2),
    {
      metric: 'chunks embedded by the re-index',
      memmesh: fmt(job.embedded),
      baseline: `${fmt(live)} live chunks`,
      ratio: `${fmt((job.embedded / live) * 100)}%`,
      aim: '= 100%',
      met: job.embedded === live,
    },
  ];
}

function latencyRow(metric: string, value: number, baseline: number, aimTimes: number | undefined): Row {
  const ratio = value / baseline;
  return {
    metric,
    memmesh: ms(value),
    baseline: `${ms(baseline)} before`,
    ratio: `${fmt(ratio, 2)}×`,
    aim: aimTimes === undefined ? '' : `≤ ${aimTimes}×`,
    met: aimTimes === undefined ? undefined : ratio <= aimTimes,
  };
}

function summary(s: LatencySummary): string {
  return `${fmt(s.count)} searches, p99 ${ms(s.p99Ms)} ms, ${fmt(s.qps)} /s, ${s.errors} errors`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
