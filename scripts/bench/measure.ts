/**
 * @module measure
 * The bench's measurements of memmesh itself, each turned into table rows beside the
 * baseline it is compared with: ingest (log path and end to end), search latency and
 * throughput, recall, and a restart followed by result-cache hits.
 */
import { encodeVector, streamName } from '@memmesh/core';
import type { Embedder } from '@memmesh/embed';
import type { RegionAgentConfig } from '../../agents/region/src/index.ts';
import {
  type BusTarget,
  exactTopK,
  type RawIndexResult,
  type RawPublishResult,
  streamEventBytesAvg,
} from './baselines.ts';
import { embedLatency, natsScatter, startBareHono } from './breakdown.ts';
import { AUTH_HEADERS, type SearchResult } from './client.ts';
import { runClient } from './client-process.ts';
import type { BenchDoc } from './corpus.ts';
import { type ServedAgent, startServedAgent } from './env.ts';
import { fmt, ms, type Part, type Row, rateRow } from './report.ts';
import { type LatencySummary, type LoopBounds, measureLatency, pool } from './stats.ts';

export interface Bench {
  docs: number;
  batchSize: number;
  ingestConcurrency: number;
  /** The bench's nats-server, as the operator (the baselines' identity). */
  nats: BusTarget;
  config: RegionAgentConfig;
  /** The agent being measured; replaced by a restart. */
  served: ServedAgent;
  corpus: BenchDoc[];
  vectors: Float32Array[];
  embedder: Embedder;
  queries: { c1: string[]; c16: string[]; recall: string[]; cache: string[] };
  rows: Row[];
  parts: Part[];
  /** The bare Hono round trip, once measured: the floor of any HTTP request. */
  bareHttp?: LatencySummary;
}

/** Bounds of every latency loop: 2,000 calls or 10 s, whichever comes first. */
export const SEARCH_BOUNDS = { count: 2_000, timeMsMax: 10_000 } as const;
const CLIENT_TIMEOUT_MS = 60_000;
const INGEST_TIMEOUT_MS = 600_000;
const SEARCHABLE_WAIT_MS_MAX = 120_000;
const RECALL_CONCURRENCY = 4;

/** Embeds any number of texts in the embedder's batch size. */
export async function embedAll(embedder: Embedder, texts: readonly string[]): Promise<Float32Array[]> {
  const vectors: Float32Array[] = [];
  for (let at = 0; at < texts.length; at += embedder.batchSizeMax) {
    vectors.push(...(await embedder.embed(texts.slice(at, at + embedder.batchSizeMax))));
  }
  return vectors;
}

const errorsNote = (s: LatencySummary) =>
  s.errors === 0 ? '' : ` (${s.errors} errors, first: ${s.firstError?.slice(0, 120)})`;

export async function measureIngest(bench: Bench, publish: RawPublishResult, raw: RawIndexResult) {
  const ingest = await runClient(
    {
      mode: 'ingest',
      url: bench.served.url,
      docs: bench.docs,
      batchSize: bench.batchSize,
      concurrency: bench.ingestConcurrency,
      searchableWaitMsMax: SEARCHABLE_WAIT_MS_MAX,
      pollMs: 10,
    },
    INGEST_TIMEOUT_MS,
  );
  const failed = ingest.failedDocs > 0 ? ` (${ingest.failedDocs} refused: ${ingest.firstError})` : '';
  const agentBytes = await streamEventBytesAvg(bench.nats, streamName(bench.config.region), 200);
  const logRow = rateRow(
    'log path: writes acknowledged, first POST → last 202 (docs/s)',
    bench.docs / ingest.ackedS,
    publish.docsPerS,
    `raw JetStream async publish, window 512 (events ${fmt(publish.eventBytesAvg)} B vs agent's ${fmt(agentBytes)} B)`,
    0.5,
  );
  logRow.memmesh += failed;
  if (ingest.failedDocs > 0) logRow.met = false;
  bench.rows.push(logRow);
  if (ingest.searchableS === undefined) {
    throw new Error(
      `only ${ingest.docs} of ${bench.docs} documents became searchable within ${SEARCHABLE_WAIT_MS_MAX} ms`,
    );
  }
  const rawName = `raw usearch insert, same vectors, ${bench.config.shardCount} shard graphs`;
  bench.rows.push(
    rateRow(
      'end-to-end ingest, first POST → all searchable (docs/s)',
      bench.docs / ingest.searchableS,
      raw.shardGraphsInsertsPerS,
      rawName,
      0.7,
    ),
    rateRow(
      'end-to-end ingest (chunks/s)',
      ingest.chunks / ingest.searchableS,
      raw.shardGraphsInsertsPerS,
      rawName,
      undefined,
    ),
  );
  bench.parts.push({
    part: 'ingest: last 202 → all searchable',
    p50: `${fmt((ingest.searchableS - ingest.ackedS) * 1000)} ms`,
    note: `views' lag behind the log at the end of ingest (${fmt(ingest.ackedS, 2)} s to acknowledge, ${fmt(ingest.searchableS, 2)} s to searchable)`,
  });
}

/** Attempts of one search: a second one covers a keep-alive connection closed under the request. */
const SEARCH_ATTEMPTS_MAX = 2;

async function searchOnce(url: string, query: string): Promise<unknown> {
  const request = { method: 'POST', headers: AUTH_HEADERS, body: JSON.stringify({ query, topK: 10 }) };
  let res: Response | undefined;
  for (let attempt = 1; res === undefined; attempt++) {
    try {
      res = await fetch(`${url}/v1/search`, request);
    } catch (err) {
      // A search changes nothing, so sending it again is safe.
      if (attempt >= SEARCH_ATTEMPTS_MAX) throw err;
    }
  }
  const body = await res.json();
  if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

function searchJob(url: string, queries: string[], concurrency: number) {
  return { mode: 'search' as const, url, queries, concurrency, ...SEARCH_BOUNDS };
}

export async function measureSearch(bench: Bench, raw: RawIndexResult) {
  const { url } = bench.served;
  const c1 = await runClient(searchJob(url, bench.queries.c1, 1), CLIENT_TIMEOUT_MS);
  const c16 = await runClient(searchJob(url, bench.queries.c16, 16), CLIENT_TIMEOUT_MS);
  const overheadMs = c1.p50Ms - raw.oneGraph.p50Ms;
  const rawQps = 'QPS raw usearch search, one graph, one thread';
  const qps1 = rateRow('search at concurrency 1: QPS', c1.qps, raw.oneGraph.qps, rawQps, undefined);
  const qps16 = rateRow('search at concurrency 16: QPS', c16.qps, raw.oneGraph.qps, rawQps, undefined);
  qps16.memmesh += `; p50 / p99 ${ms(c16.p50Ms)} / ${ms(c16.p99Ms)} ms${errorsNote(c16)}`;
  bench.rows.push(
    {
      metric: 'search at concurrency 1: p50 / p99 (ms), via HTTP',
      memmesh: `${ms(c1.p50Ms)} / ${ms(c1.p99Ms)}${errorsNote(c1)}`,
      baseline: `${ms(raw.oneGraph.p50Ms)} / ${ms(raw.oneGraph.p99Ms)} raw usearch search, same vectors, one graph, topK 10`,
      ratio: `+${ms(overheadMs)} ms`,
      aim: 'HTTP + scatter/gather overhead at p50 ≤ +1 ms',
      met: overheadMs <= 1 && c1.errors === 0,
    },
    qps1,
    qps16,
  );
  await measureParts(bench, raw, c1);
}

interface SearchParts {
  c1: SearchResult;
  raw: RawIndexResult;
  http: LatencySummary;
  embed: LatencySummary;
  scatter: LatencySummary;
  own: LatencySummary;
  responseBytes: number;
  requestBytes: number;
  replyBytes: number;
}

/** Where a concurrency-1 search's time goes: each part measured alone. */
async function measureParts(bench: Bench, raw: RawIndexResult, c1: SearchResult) {
  const recorded = (await searchOnce(bench.served.url, bench.queries.recall[0] as string)) as {
    results: unknown[];
  };
  const bare = await startBareHono(recorded);
  try {
    bench.bareHttp = await runClient(searchJob(bare.url, bench.queries.c1, 1), CLIENT_TIMEOUT_MS);
  } finally {
    await bare.close();
  }
  const [vector] = await bench.embedder.embed(['a query of the usual size']);
  // A shard query and a shard reply as the agent sends them (the protocol of lib/bus shard-query.ts).
  const request = JSON.stringify({
    tenant: 'acme',
    vector: encodeVector(vector as Float32Array),
    topK: 10,
    waitMs: bench.config.waitAppliedMsMax,
  });
  const reply = JSON.stringify({ hits: recorded.results, appliedSeq: bench.docs, truncated: false });
  const encoder = new TextEncoder();
  const bounds: LoopBounds = { ...SEARCH_BOUNDS, concurrency: 1 };
  const shardCount = bench.config.shardCount;
  const scatter = await natsScatter(
    bench.nats,
    shardCount,
    encoder.encode(request),
    encoder.encode(reply),
    bounds,
  );
  const figures: SearchParts = {
    c1,
    raw,
    http: bench.bareHttp,
    embed: await embedLatency(bench.embedder, bench.queries.c1, bounds),
    scatter,
    own: await ownIndexLatency(bench, bounds),
    responseBytes: JSON.stringify(recorded).length,
    requestBytes: request.length,
    replyBytes: reply.length,
  };
  bench.parts.push(...searchPartRows(figures, shardCount));
}

function searchPartRows(f: SearchParts, shardCount: number): Part[] {
  const inside = f.embed.p50Ms + f.scatter.p50Ms + f.raw.shardGraphs.p50Ms;
  return [
    {
      part: 'memmesh search, as the client sees it',
      p50: ms(f.c1.p50Ms),
      note: 'the concurrency-1 row above',
    },
    {
      part: "— outside the agent's `tookMs`: p50 of (client latency − `tookMs`)",
      p50: ms(f.c1.outsideP50Ms),
      note: `HTTP, auth, rate limit, body validation, JSON; a bare Hono round trip takes ${ms(f.http.p50Ms)} ms (same client and node-server, parses the body, answers a recorded ${fmt(f.responseBytes)} B response)`,
    },
    {
      part: '— inside the agent: `tookMs` p50',
      p50: ms(f.c1.serverP50Ms),
      note: 'embed, cache lookup, scatter/gather, per-shard search, merge',
    },
    {
      part: '— — query embedding (local embedder)',
      p50: ms(f.embed.p50Ms),
      note: 'alone, one distinct query per call',
    },
    {
      part: `— — NATS scatter/gather to ${shardCount} idle responders`,
      p50: ms(f.scatter.p50Ms),
      note: `alone, the agent's request/reply helpers, ${fmt(f.requestBytes)} B queries, ${fmt(f.replyBytes)} B replies`,
    },
    {
      part: `— — usearch, ${shardCount} shard graphs searched in turn + merge`,
      p50: ms(f.raw.shardGraphs.p50Ms),
      note: `alone, raw, the agent's layout (one graph of all vectors: ${ms(f.raw.oneGraph.p50Ms)} ms)`,
    },
    {
      part: `— — the agent's own ${shardCount} shard indexes, searched in turn in process`,
      p50: ms(f.own.p50Ms),
      note: 'its VectorIndex.search on the graphs it built; no NATS or HTTP; the agent otherwise idle',
    },
    {
      part: '— — rest: `tookMs` − (embedding + NATS + raw shard graphs)',
      p50: ms(f.c1.serverP50Ms - inside),
      note: 'shard query validation, vector decode, hits to JSON and back, scheduling (p50s do not add exactly)',
    },
  ];
}

/** The agent's own indexes searched directly, as its shard handlers would, one after another. */
async function ownIndexLatency(bench: Bench, bounds: LoopBounds): Promise<LatencySummary> {
  const vectors = await embedAll(bench.embedder, bench.queries.c1);
  return measureLatency(async (i) => {
    const vector = vectors[i % vectors.length] as Float32Array;
    const hits = [];
    for (const index of bench.served.indexes)
      hits.push(...(await index.search({ tenant: 'acme', vector, topK: 10 })));
    hits.sort((a, b) => b.score - a.score).splice(10);
  }, bounds);
}

export async function measureRecall(bench: Bench) {
  const queries = bench.queries.recall;
  const vectors = await embedAll(bench.embedder, queries);
  let hits = 0;
  await pool(queries, RECALL_CONCURRENCY, async (query, i) => {
    const body = (await searchOnce(bench.served.url, query)) as { results: { id: string }[] };
    const exact = new Set(
      exactTopK(bench.vectors, vectors[i] as Float32Array, 10).map((d) => bench.corpus[d]?.id),
    );
    hits += body.results.filter((r) => exact.has(r.id)).length;
  });
  const recall = hits / (queries.length * 10);
  bench.rows.push({
    metric: `recall@10, ${queries.length} queries through the agent`,
    memmesh: fmt(recall, 3),
    baseline: '1.000 exact brute-force cosine, same vectors',
    ratio: fmt(recall, 3),
    aim: '≥ 0.95',
    met: recall >= 0.95,
  });
}

/**
 * Stops the agent (final snapshots), starts it again on the same data directory with the
 * result cache on, checks over HTTP that every document is back, then measures cache hits
 * against the bare HTTP round trip.
 */
export async function measureRestartAndCache(bench: Bench) {
  const closing = performance.now();
  await bench.served.close();
  const closeMs = performance.now() - closing;
  const config = { ...bench.config, resultCacheTtlMs: 60_000 };
  bench.served = await startServedAgent(config);
  const res = await fetch(`${bench.served.url}/v1/stats`, { headers: AUTH_HEADERS });
  const stats = (await res.json()) as { shards: { docs: number }[] };
  const docs = stats.shards.reduce((n, s) => n + s.docs, 0);
  bench.rows.push({
    metric: 'restart from snapshots: documents searchable when ready',
    memmesh: fmt(docs),
    baseline: `${fmt(bench.docs)} before the restart`,
    ratio: '',
    aim: 'all',
    met: docs === bench.docs,
  });
  bench.parts.push(
    {
      part: 'agent stop',
      p50: `${fmt(closeMs)} ms`,
      note: 'one run; stops consumers, snapshots shards changed since the last periodic snapshot',
    },
    { part: 'agent start from snapshots → ready', p50: `${fmt(bench.served.readyMs)} ms`, note: 'one run' },
  );
  const { url } = bench.served;
  for (const query of bench.queries.cache) await searchOnce(url, query);
  const hits = await runClient(searchJob(url, bench.queries.cache, 1), CLIENT_TIMEOUT_MS);
  const bareP50 = bench.bareHttp?.p50Ms ?? Number.NaN;
  bench.rows.push({
    metric: `search at concurrency 1, result-cache hits (${bench.queries.cache.length} queries repeated): p50 / p99 (ms)`,
    memmesh: `${ms(hits.p50Ms)} / ${ms(hits.p99Ms)}${errorsNote(hits)}; agent tookMs p50 ${ms(hits.serverP50Ms)}`,
    baseline: `${ms(bareP50)} bare Hono round trip p50`,
    ratio: `+${ms(hits.p50Ms - bareP50)} ms`,
    aim: '',
    met: undefined,
  });
}
