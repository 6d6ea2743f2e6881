/**
 * @module client
 * The bench's HTTP load generator. It runs as its own process (see client-process.ts), so
 * that the work of making requests is not charged to the agent's event loop. Reads one
 * ClientJob as JSON on stdin and writes its result as JSON on stdout.
 *
 * Ingest: POSTs the corpus to /v1/memories/batch, then polls GET /v1/stats until every
 * document is searchable. Search: POSTs /v1/search with the given queries and reports the
 * latency seen by the client and the `tookMs` the server reported.
 */
import { text } from 'node:stream/consumers';
import { sleep } from '@memmesh/core';
import { makeCorpus } from './corpus.ts';
import { type LatencySummary, measureLatency, percentile, pool } from './stats.ts';

export const AUTH_HEADERS = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };

export interface IngestJob {
  mode: 'ingest';
  url: string;
  docs: number;
  batchSize: number;
  concurrency: number;
  searchableWaitMsMax: number;
  pollMs: number;
}

export interface SearchJob {
  mode: 'search';
  url: string;
  queries: string[];
  count: number;
  concurrency: number;
  timeMsMax: number;
}

export type ClientJob = IngestJob | SearchJob;

export interface IngestResult {
  /** First POST sent → last 202 received. */
  ackedS: number;
  /** First POST sent → GET /v1/stats counts every document; undefined when it never did. */
  searchableS: number | undefined;
  docs: number;
  chunks: number;
  /** Documents refused, as whole batches or as items of a 202 batch. */
  failedDocs: number;
  firstError: string | undefined;
}

export interface SearchResult extends LatencySummary {
  /** p50 of the `tookMs` the agent reports: its own time, without HTTP and the client. */
  serverP50Ms: number;
  /** p50 over requests of (latency seen by the client − `tookMs`): HTTP, parsing, queueing. */
  outsideP50Ms: number;
}

interface TenantStats {
  shards: { docs: number; chunks: number }[];
}

async function ingest(job: IngestJob): Promise<IngestResult> {
  const corpus = makeCorpus(job.docs);
  const batches = Array.from({ length: Math.ceil(corpus.length / job.batchSize) }, (_, b) =>
    corpus.slice(b * job.batchSize, (b + 1) * job.batchSize),
  );
  let failedDocs = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await pool(batches, job.concurrency, async (batch) => {
    const res = await fetch(`${job.url}/v1/memories/batch`, {
      method: 'POST',
      headers: AUTH_HEADERS,
      body: JSON.stringify({ memories: batch }),
    });
    const body = (await res.json()) as { results?: { error?: unknown }[] };
    const failed = res.status === 202 ? (body.results ?? []).filter((r) => r.error).length : batch.length;
    if (failed > 0) {
      failedDocs += failed;
      firstError ??= `${res.status} ${JSON.stringify(body).slice(0, 300)}`;
    }
  });
  const ackedS = (performance.now() - started) / 1000;
  const deadline = Date.now() + job.searchableWaitMsMax;
  let counted = { docs: 0, chunks: 0 };
  while (Date.now() < deadline) {
    const res = await fetch(`${job.url}/v1/stats`, { headers: AUTH_HEADERS });
    const stats = (await res.json()) as TenantStats;
    counted = stats.shards.reduce((n, s) => ({ docs: n.docs + s.docs, chunks: n.chunks + s.chunks }), {
      docs: 0,
      chunks: 0,
    });
    if (counted.docs >= job.docs - failedDocs) {
      return {
        ackedS,
        searchableS: (performance.now() - started) / 1000,
        ...counted,
        failedDocs,
        firstError,
      };
    }
    await sleep(job.pollMs);
  }
  return { ackedS, searchableS: undefined, ...counted, failedDocs, firstError };
}

async function search(job: SearchJob): Promise<SearchResult> {
  const took: number[] = [];
  const outside: number[] = [];
  const summary = await measureLatency(
    async (i) => {
      const started = performance.now();
      const body = JSON.stringify({ query: job.queries[i % job.queries.length], topK: 10 });
      const res = await fetch(`${job.url}/v1/search`, { method: 'POST', headers: AUTH_HEADERS, body });
      const answer = (await res.json()) as { tookMs?: number };
      if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(answer)}`);
      if (typeof answer.tookMs === 'number') {
        took.push(answer.tookMs);
        outside.push(performance.now() - started - answer.tookMs);
      }
    },
    { count: job.count, concurrency: job.concurrency, timeMsMax: job.timeMsMax },
  );
  took.sort((a, b) => a - b);
  outside.sort((a, b) => a - b);
  return { ...summary, serverP50Ms: percentile(took, 50), outsideP50Ms: percentile(outside, 50) };
}

if (import.meta.main) {
  const job = JSON.parse(await text(process.stdin)) as ClientJob;
  const result = job.mode === 'ingest' ? await ingest(job) : await search(job);
  process.stdout.write(JSON.stringify(result));
}
