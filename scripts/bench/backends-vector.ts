/**
 * @module backends-vector
 * Part 1 of `npm run bench:backends`: the Milvus `VectorIndex` against the embedded one
 * (usearch HNSW), both loaded with the same embedded corpus through the `VectorIndex`
 * interface the shard views use, and searched with the same query vectors: insert
 * throughput, search latency at concurrency 1, QPS at concurrency 8, and recall@10 of each
 * against exact brute force. Milvus runs as a Milvus Lite server from the test kit.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Embedder } from '@memmesh/embed';
import { createEmbeddedIndex, createMilvusIndex, DEFAULT_HNSW, type VectorIndex } from '@memmesh/index';
import { startMilvusLite } from '@memmesh/testkit';
import { errorsNote, rateCells, type Section, times } from './backends-report.ts';
import { exactTopK } from './baselines.ts';
import type { BenchDoc } from './corpus.ts';
import { makeCorpus, makeQueries } from './corpus.ts';
import type { Teardown } from './env.ts';
import { embedAll } from './measure.ts';
import { fmt, ms } from './report.ts';
import { type LatencySummary, type LoopBounds, measureLatency } from './stats.ts';

const TENANT = 'acme';
const TOP_K = 10;
/** Distinct query vectors per use: latency at 1, throughput at 8, recall. */
const QUERY_COUNTS = { c1: 1_000, c8: 1_000, recall: 200 } as const;
const CONCURRENCY_HIGH = 8;
/** A search loop stops at its count or after this long, whichever comes first. */
const SEARCH_TIME_MS_MAX = 60_000;
/** Loading is not sampled: every document must be in before searching, within this. */
const INSERT_TIME_MS_MAX = 900_000;
/** In-process inserts settle at once; yielding this often keeps signals and timers served. */
const INSERT_YIELD_EVERY = 100;

interface Loaded {
  name: string;
  index: VectorIndex;
  insertDocsPerS: number;
}

async function load(
  name: string,
  index: VectorIndex,
  corpus: readonly BenchDoc[],
  vectors: readonly Float32Array[],
): Promise<Loaded> {
  const started = performance.now();
  for (let i = 0; i < corpus.length; i++) {
    const elapsedMs = performance.now() - started;
    if (elapsedMs > INSERT_TIME_MS_MAX) {
      throw new Error(`${name}: only ${i} of ${corpus.length} documents inserted in ${fmt(elapsedMs)} ms`);
    }
    if (i % INSERT_YIELD_EVERY === 0) await yieldToLoop();
    const doc = corpus[i] as BenchDoc;
    await index.upsert({
      tenant: TENANT,
      id: doc.id,
      version: i + 1,
      text: doc.text,
      metadata: {},
      scope: {},
      chunks: [{ start: 0, end: doc.text.length, vector: vectors[i] as Float32Array }],
    });
  }
  index.markApplied(corpus.length);
  return { name, index, insertDocsPerS: corpus.length / ((performance.now() - started) / 1000) };
}

function searchLoop(index: VectorIndex, queries: readonly Float32Array[], concurrency: number) {
  const bounds: LoopBounds = { count: queries.length, concurrency, timeMsMax: SEARCH_TIME_MS_MAX };
  return measureLatency(async (i) => {
    // measureLatency may start up to `concurrency - 1` calls past `count`; they wrap around.
    const vector = queries[i % queries.length] as Float32Array;
    const hits = await index.search({ tenant: TENANT, vector, topK: TOP_K });
    if (hits.length !== TOP_K) throw new Error(`search returned ${hits.length} hits, expected ${TOP_K}`);
  }, bounds);
}

/** Share of the exact top 10 that the index returns, over the queries answered (one at a time) in time. */
async function recallAt10(
  index: VectorIndex,
  queries: readonly Float32Array[],
  exact: readonly Set<string>[],
): Promise<{ recall: number; queries: number }> {
  const deadline = performance.now() + SEARCH_TIME_MS_MAX;
  let found = 0;
  let asked = 0;
  for (; asked < queries.length && performance.now() < deadline; asked++) {
    const hits = await index.search({ tenant: TENANT, vector: queries[asked] as Float32Array, topK: TOP_K });
    found += hits.filter((h) => exact[asked]?.has(h.id)).length;
  }
  return { recall: found / (asked * TOP_K), queries: asked };
}

interface Figures {
  c1: LatencySummary;
  c8: LatencySummary;
  recall: { recall: number; queries: number };
}

async function measure(loaded: Loaded, queries: QuerySets, exact: Set<string>[]): Promise<Figures> {
  const c1 = await searchLoop(loaded.index, queries.c1, 1);
  const c8 = await searchLoop(loaded.index, queries.c8, CONCURRENCY_HIGH);
  return { c1, c8, recall: await recallAt10(loaded.index, queries.recall, exact) };
}

interface QuerySets {
  c1: Float32Array[];
  c8: Float32Array[];
  recall: Float32Array[];
}

async function querySets(corpus: readonly BenchDoc[], embedder: Embedder): Promise<QuerySets> {
  const { c1, c8, recall } = QUERY_COUNTS;
  const vectors = await embedAll(embedder, makeQueries(corpus, c1 + c8 + recall, 13));
  return { c1: vectors.slice(0, c1), c8: vectors.slice(c1, c1 + c8), recall: vectors.slice(c1 + c8) };
}

/** How many searches a figure rests on (the loops stop at a count or a time), and their failures. */
const searchesNote = (s: LatencySummary): string => ` (${fmt(s.count)} searches${errorsNote(s)})`;

function rows(milvus: Loaded, usearch: Loaded, m: Figures, u: Figures, section: Section): void {
  section.rows.push(
    rateCells(
      'insert, one document (one chunk) per upsert, one after another (docs/s)',
      milvus.insertDocsPerS,
      usearch.insertDocsPerS,
    ),
    {
      metric: 'search at concurrency 1: p50 / p99 (ms)',
      memmesh: `${ms(m.c1.p50Ms)} / ${ms(m.c1.p99Ms)}${searchesNote(m.c1)}`,
      baseline: `${ms(u.c1.p50Ms)} / ${ms(u.c1.p99Ms)}${searchesNote(u.c1)}`,
      ratio: `${times(m.c1.p50Ms, u.c1.p50Ms)} at p50, ${times(m.c1.p99Ms, u.c1.p99Ms)} at p99`,
      aim: '',
      met: undefined,
    },
    rateCells('search at concurrency 1: QPS', m.c1.qps, u.c1.qps),
    {
      ...rateCells(`search at concurrency ${CONCURRENCY_HIGH}: QPS`, m.c8.qps, u.c8.qps),
      memmesh: `${fmt(m.c8.qps, 1)}; p50 / p99 ${ms(m.c8.p50Ms)} / ${ms(m.c8.p99Ms)} ms${searchesNote(m.c8)}`,
      baseline: `${fmt(u.c8.qps)}; p50 / p99 ${ms(u.c8.p50Ms)} / ${ms(u.c8.p99Ms)} ms${searchesNote(u.c8)}`,
    },
    {
      metric: 'recall@10 against exact brute-force cosine',
      memmesh: `${fmt(m.recall.recall, 3)} (${m.recall.queries} queries)`,
      baseline: `${fmt(u.recall.recall, 3)} (${u.recall.queries} queries)`,
      ratio: times(m.recall.recall, u.recall.recall),
      aim: '',
      met: undefined,
    },
  );
}

/**
 * Measures part 1 into `section.rows` as figures become available. The Milvus Lite server and
 * both indexes are registered on `teardown`, which the caller runs when this part ends.
 */
export async function benchVectorSearch(
  docs: number,
  embedder: Embedder,
  teardown: Teardown,
  section: Section,
): Promise<void> {
  const corpus = makeCorpus(docs);
  const vectors = await embedAll(
    embedder,
    corpus.map((d) => d.text),
  );
  const queries = await querySets(corpus, embedder);
  const exact = queries.recall.map(
    (q) => new Set(exactTopK(vectors, q, TOP_K).map((i) => (corpus[i] as BenchDoc).id)),
  );
  const milvusLite = await startMilvusLite();
  teardown.add('stop Milvus Lite', () => milvusLite.stop());
  const embedded = await createEmbeddedIndex({ dimensions: embedder.dimensions });
  teardown.add('close the embedded index', () => embedded.close());
  const milvusIndex = await createMilvusIndex({
    address: milvusLite.address,
    collectionPrefix: 'bench',
    region: 'us-east-1',
    shard: 's0',
    modelId: embedder.modelId,
    dimensions: embedder.dimensions,
  });
  teardown.add('close the Milvus index', () => milvusIndex.close());
  // The baseline first each time, then Milvus, so both see the machine in the same state.
  const usearch = await load('embedded index', embedded, corpus, vectors);
  const milvus = await load('Milvus index', milvusIndex, corpus, vectors);
  const u = await measure(usearch, queries, exact);
  const m = await measure(milvus, queries, exact);
  rows(milvus, usearch, m, u, section);
}

export function vectorSetup(docs: number, embedder: Embedder, memtableBytes: number): string {
  return [
    `${fmt(docs)} memories of the bench corpus (one chunk each), embedded once by the local hashing embedder`,
    `(${embedder.dimensions} dims), upserted into one shard view of each index through \`VectorIndex\` in this process, tenant ${TENANT}.`,
    `Both use the default HNSW settings (m ${DEFAULT_HNSW.m}, efConstruction ${DEFAULT_HNSW.efConstruction}, efSearch ${DEFAULT_HNSW.efSearch}).`,
    'Embedded: usearch HNSW in memory. Milvus: `createMilvusIndex` with its defaults (HNSW,',
    'Strong consistency, group by document) against a Milvus Lite server on loopback started by the test kit,',
    `memtable flushed to indexed segments every ${fmt(memtableBytes / 1e6, 1)} MB (Milvus Lite's default, 128 MiB, leaves every row`,
    'in a memtable scanned in Python on each call, hundreds of ms per call at these sizes);',
    'each upsert is four calls (read the head, delete stale chunks, upsert the chunk, upsert the head), each search two',
    '(search, then read the heads). Searches: topK 10, distinct pre-embedded queries, at most',
    `${fmt(QUERY_COUNTS.c1)} per row or ${SEARCH_TIME_MS_MAX / 1000} s; the embedded index searches on the calling thread, so its`,
    `${CONCURRENCY_HIGH} searches in flight run one after another. Ratio: Milvus ÷ embedded.`,
  ].join(' ');
}
