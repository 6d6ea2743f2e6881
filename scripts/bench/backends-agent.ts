/**
 * @module backends-agent
 * Parts 2 and 3 of `npm run bench:backends`, through a region agent served over HTTP on
 * loopback, each configuration on a nats-server of its own that is stopped with it:
 *   - the result and embedding cache: the in-process LRU against Redis, search latency of
 *     cache misses (distinct queries) and of cache hits (repeated queries);
 *   - ingest: chunks/s through the agent with the local hashing embedder and with MiniLM,
 *     each beside the same embedder alone in this process, on the same texts.
 * Unlike env.ts's agent (always the embedded parts), this one builds its parts from its
 * configuration, as main.ts does, so that `cache: 'redis'` and `embedder: 'minilm'` apply.
 */
import type { AddressInfo } from 'node:net';
import type { Embedder } from '@memmesh/embed';
import { silentLogger } from '@memmesh/telemetry';
import { startNatsServer, startRedisServer } from '@memmesh/testkit';
import {
  type RegionAgent,
  type RegionAgentConfig,
  resolveConfig,
  startRegionAgent,
} from '../../agents/region/src/index.ts';
import { rateCells, type Section, times } from './backends-report.ts';
import type { IngestResult, SearchResult } from './client.ts';
import { runClient } from './client-process.ts';
import { makeCorpus, makeQueries } from './corpus.ts';
import { closeServer, serveWhenReady, type Teardown } from './env.ts';
import { fmt, ms } from './report.ts';
import type { Scopes } from './scopes.ts';

/** Ingest as the main bench sends it: batches of 100, four in flight, from a client process. */
const INGEST_BATCH_SIZE = 100;
const INGEST_CONCURRENCY = 4;
const SEARCHABLE_WAIT_MS_MAX = 300_000;
const INGEST_TIMEOUT_MS = 600_000;
const SEARCH_TIMEOUT_MS = 120_000;
/** Misses: this many distinct queries. Hits: this many searches over HIT_QUERIES repeated ones. */
const MISS_SEARCHES = 1_000;
const HIT_QUERIES = 200;
const HIT_SEARCHES = 1_000;
const SEARCH_TIME_MS_MAX = 60_000;
/**
 * Distinct searches sent before any is timed. The agent runs in this process, so the first
 * configuration would otherwise pay for compiling the search path and the second would not.
 */
const WARMUP_SEARCHES = 200;
/** Longer than the part lasts, so that no hit expires into a miss while it is measured. */
const RESULT_CACHE_TTL_MS = 600_000;

interface BackendAgent {
  agent: RegionAgent;
  url: string;
  close(): Promise<void>;
}

/** Starts a region agent whose parts follow its configuration, served on a loopback port. */
async function startBackendAgent(config: RegionAgentConfig): Promise<BackendAgent> {
  const agent = await startRegionAgent(config, silentLogger);
  const server = await serveWhenReady(agent);
  let closed: Promise<void> | undefined;
  return {
    agent,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      closed ??= (async () => {
        await closeServer(server);
        await agent.close();
      })();
      return closed;
    },
  };
}

/**
 * A nats-server and an agent on it with `overrides`, both registered on `teardown`. Memory
 * only (no data directory, so no snapshots); the tenant rate limit is raised so that the
 * bench measures the agent, not the limiter.
 */
async function agentOnFreshNats(
  teardown: Teardown,
  overrides: Partial<RegionAgentConfig>,
): Promise<BackendAgent> {
  const nats = await startNatsServer({ name: 'memmesh-bench-backends' });
  teardown.add('stop nats-server', () => nats.stop());
  const config = resolveConfig({
    natsUrl: nats.url,
    port: 0,
    tenantRequestsPerSecond: 1_000_000,
    tenantBurst: 1_000_000,
    ...overrides,
  });
  const served = await startBackendAgent(config);
  teardown.add('stop the region agent', () => served.close());
  return served;
}

async function ingest(url: string, docs: number): Promise<IngestResult> {
  const result = await runClient(
    {
      mode: 'ingest',
      url,
      docs,
      batchSize: INGEST_BATCH_SIZE,
      concurrency: INGEST_CONCURRENCY,
      searchableWaitMsMax: SEARCHABLE_WAIT_MS_MAX,
      pollMs: 10,
    },
    INGEST_TIMEOUT_MS,
  );
  if (result.failedDocs > 0) throw new Error(`${result.failedDocs} documents refused: ${result.firstError}`);
  if (result.searchableS === undefined) {
    throw new Error(`only ${result.docs} of ${docs} documents searchable after ${SEARCHABLE_WAIT_MS_MAX} ms`);
  }
  return result;
}

function search(url: string, queries: string[], count: number): Promise<SearchResult> {
  return runClient(
    { mode: 'search', url, queries, count, concurrency: 1, timeMsMax: SEARCH_TIME_MS_MAX },
    SEARCH_TIMEOUT_MS,
  );
}

interface CacheFigures {
  misses: SearchResult;
  hits: SearchResult;
}

async function cacheFigures(
  scopes: Scopes,
  cache: 'lru' | 'redis',
  docs: number,
  queries: { warmup: string[]; misses: string[]; hits: string[] },
): Promise<CacheFigures> {
  return scopes.run(`cache ${cache}`, async (teardown) => {
    const overrides: Partial<RegionAgentConfig> = { cache, resultCacheTtlMs: RESULT_CACHE_TTL_MS };
    if (cache === 'redis') {
      const redis = await startRedisServer();
      teardown.add('stop redis-server', () => redis.stop());
      overrides.redisUrl = redis.url;
    }
    const served = await agentOnFreshNats(teardown, overrides);
    await ingest(served.url, docs);
    await search(served.url, queries.warmup, queries.warmup.length);
    const misses = await search(served.url, queries.misses, MISS_SEARCHES);
    // One pass puts every repeated query's embedding and result in the cache; then only hits.
    await search(served.url, queries.hits, queries.hits.length);
    const hits = await search(served.url, queries.hits, HIT_SEARCHES);
    return { misses, hits };
  });
}

const latencyCell = (s: SearchResult) =>
  `${ms(s.p50Ms)} / ${ms(s.p99Ms)}${s.errors === 0 ? '' : ` (${s.errors} errors: ${s.firstError?.slice(0, 120)})`}; agent \`tookMs\` p50 ${ms(s.serverP50Ms)}`;

/** Part 2: the LRU (baseline) first, then Redis, each on an agent and nats-server of its own. */
export async function benchCache(docs: number, scopes: Scopes, section: Section): Promise<void> {
  const corpus = makeCorpus(docs);
  const all = makeQueries(corpus, WARMUP_SEARCHES + MISS_SEARCHES + HIT_QUERIES, 17);
  const queries = {
    warmup: all.slice(0, WARMUP_SEARCHES),
    misses: all.slice(WARMUP_SEARCHES, WARMUP_SEARCHES + MISS_SEARCHES),
    hits: all.slice(WARMUP_SEARCHES + MISS_SEARCHES),
  };
  const lru = await cacheFigures(scopes, 'lru', docs, queries);
  const redis = await cacheFigures(scopes, 'redis', docs, queries);
  section.rows.push(
    {
      metric: `search, cache misses (${fmt(redis.misses.count)} distinct queries): p50 / p99 (ms)`,
      memmesh: latencyCell(redis.misses),
      baseline: latencyCell(lru.misses),
      ratio: `${times(redis.misses.p50Ms, lru.misses.p50Ms)} at p50`,
      aim: '',
      met: undefined,
    },
    {
      metric: `search, cache hits (${HIT_QUERIES} queries repeated, ${fmt(redis.hits.count)} searches): p50 / p99 (ms)`,
      memmesh: latencyCell(redis.hits),
      baseline: latencyCell(lru.hits),
      ratio: `${times(redis.hits.p50Ms, lru.hits.p50Ms)} at p50`,
      aim: '',
      met: undefined,
    },
    {
      metric: 'hit ÷ miss, p50 as the client sees it (agent `tookMs` p50)',
      memmesh: `${times(redis.hits.p50Ms, redis.misses.p50Ms)} (${times(redis.hits.serverP50Ms, redis.misses.serverP50Ms)})`,
      baseline: `${times(lru.hits.p50Ms, lru.misses.p50Ms)} (${times(lru.hits.serverP50Ms, lru.misses.serverP50Ms)})`,
      ratio: '',
      aim: '',
      met: undefined,
    },
  );
}

export function cacheSetup(docs: number): string {
  return [
    `One region agent in this process (HTTP on loopback), 4 shards, embedded index, local hashing embedder,`,
    'memory only, on a nats-server of its own (JetStream, file store, R1); the cache is the in-process LRU',
    '(`cache: lru`, the baseline) or a redis-server from the test kit on loopback (`cache: redis`), each on a fresh',
    `agent and nats-server. ${fmt(docs)} memories ingested first (all searchable), then ${WARMUP_SEARCHES} untimed`,
    `warm-up searches. Searches: topK 10 at concurrency 1 from a client process. Misses: ${fmt(MISS_SEARCHES)} distinct queries (result and query-embedding caches both miss,`,
    `then both are filled). Hits: ${HIT_QUERIES} other queries searched once, then ${fmt(HIT_SEARCHES)} searches cycling`,
    `over them (result-cache hits). Result cache TTL ${RESULT_CACHE_TTL_MS / 1000} s. Ratio: Redis ÷ LRU.`,
  ].join(' ');
}

export interface IngestEmbedder {
  /** As in the table: `local hashing`, `MiniLM`. */
  name: string;
  overrides: Partial<RegionAgentConfig>;
  /** The same embedder as the agent builds, for the embed-alone baseline. */
  create(): Promise<Embedder>;
}

interface IngestFigures {
  agentChunksPerS: number;
  aloneChunksPerS: number;
}

/**
 * The embedder alone: the same texts in the batches the agent's embed calls get (one POST of
 * INGEST_BATCH_SIZE documents, one chunk each), one call after another, in this process.
 */
async function embedAlone(embedder: Embedder, texts: readonly string[]): Promise<number> {
  const started = performance.now();
  for (let at = 0; at < texts.length; at += INGEST_BATCH_SIZE) {
    await embedder.embed(texts.slice(at, at + INGEST_BATCH_SIZE));
  }
  return texts.length / ((performance.now() - started) / 1000);
}

async function ingestFigures(scopes: Scopes, docs: number, e: IngestEmbedder): Promise<IngestFigures> {
  const texts = makeCorpus(docs).map((d) => d.text);
  const aloneChunksPerS = await scopes.run(`${e.name} embedder alone`, async (teardown) => {
    const embedder = await e.create();
    teardown.add(`close the ${e.name} embedder`, () => embedder.close());
    return embedAlone(embedder, texts);
  });
  const agentChunksPerS = await scopes.run(`ingest with ${e.name}`, async (teardown) => {
    const served = await agentOnFreshNats(teardown, e.overrides);
    const result = await ingest(served.url, docs);
    if (result.chunks !== docs) throw new Error(`expected one chunk per document, got ${result.chunks}`);
    return result.chunks / (result.searchableS as number);
  });
  return { agentChunksPerS, aloneChunksPerS };
}

/** Part 3: each embedder alone, then through an agent of its own. */
export async function benchIngest(
  docs: number,
  embedders: readonly [IngestEmbedder, IngestEmbedder],
  scopes: Scopes,
  section: Section,
): Promise<void> {
  const figures: IngestFigures[] = [];
  for (const e of embedders) {
    const f = await ingestFigures(scopes, docs, e);
    figures.push(f);
    section.rows.push(
      rateCells(
        `ingest, ${e.name} embedder: first POST → all searchable (chunks/s)`,
        f.agentChunksPerS,
        f.aloneChunksPerS,
      ),
    );
  }
  const [first, second] = figures as [IngestFigures, IngestFigures];
  const [a, b] = embedders;
  section.rows.push({
    ...rateCells(
      `ingest through the agent, ${b.name} ÷ ${a.name} (chunks/s)`,
      second.agentChunksPerS,
      first.agentChunksPerS,
    ),
    memmesh: `${b.name}: ${fmt(second.agentChunksPerS)}`,
    baseline: `${a.name}: ${fmt(first.agentChunksPerS)}`,
  });
}

export function ingestSetup(docs: number, embedders: readonly IngestEmbedder[]): string {
  return [
    `The same ${fmt(docs)} memories (one chunk each), POSTed to /v1/memories/batch in batches of ${INGEST_BATCH_SIZE},`,
    `${INGEST_CONCURRENCY} in flight, by a client process, timed from the first POST until GET /v1/stats counts every`,
    'document; one agent per embedder (4 shards, embedded index, LRU cache, memory only) on a nats-server of its own.',
    `Baseline: the same embedder (${embedders.map((e) => e.name).join(', ')}) alone in this process, embed() on the same`,
    `texts in calls of ${INGEST_BATCH_SIZE}, one after another, before its agent starts. Ratio: through the agent ÷ alone.`,
  ].join(' ');
}
