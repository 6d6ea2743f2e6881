/**
 * @module baselines
 * What memmesh is measured against, in the same run on the same machine: raw JetStream
 * publishing of equally sized events, and raw usearch insert and search of the same vectors.
 */
import { DEFAULT_REGION_STREAM_OPTIONS, encodeEvent, ensureRegionStreams } from '@memmesh/bus';
import { docKeyOf, docSubject, encodeVector, type MemoryEvent, sha256Hex, shardOf } from '@memmesh/core';
import { DEFAULT_CONNECTIVITY, DEFAULT_EXPANSION_ADD, DEFAULT_EXPANSION_SEARCH } from '@memmesh/index';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { BenchDoc } from './corpus.ts';
import { type LatencySummary, measureLatency } from './stats.ts';

/** Publishes awaiting acks at once, as the agent's publisher allows. */
const PUBLISH_WINDOW = 512;

/** Raw JetStream async publish of events as large as the agent's, into a stream configured alike. */
export async function rawPublishRate(
  natsUrl: string,
  docs: readonly BenchDoc[],
  vectors: Float32Array[],
): Promise<number> {
  const region = 'bench-raw';
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureRegionStreams(jsm, { region, ...DEFAULT_REGION_STREAM_OPTIONS });
    const js = jetstream(nc);
    const payloads = docs.map((doc, i) => {
      const event: MemoryEvent = {
        v: 1,
        type: 'upsert',
        tenant: 'acme',
        id: doc.id,
        text: doc.text,
        chunks: [{ start: 0, end: doc.text.length, vector: encodeVector(vectors[i] as Float32Array) }],
        metadata: {},
        scope: {},
        model: { id: 'local-hash-v1', dim: 384 },
        ts: Date.now(),
        source: { region, agent: 'bench' },
      };
      const subject = docSubject(region, shardOf('acme', doc.id, 4), 'acme', docKeyOf('acme', doc.id));
      return { subject, data: encodeEvent(event), msgID: sha256Hex(`${doc.id}/${doc.text}`) };
    });
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: PUBLISH_WINDOW }, async () => {
        while (next < payloads.length) {
          const p = payloads[next++] as (typeof payloads)[number];
          await js.publish(p.subject, p.data, { msgID: p.msgID });
        }
      }),
    );
    return docs.length / ((performance.now() - started) / 1000);
  } finally {
    await nc.close();
  }
}

export interface RawIndexResult {
  insertsPerSecond: number;
  /** One graph holding every vector. */
  searchOneGraph: LatencySummary;
  /** The agent's layout: one graph per shard, each searched, results merged. */
  searchShardGraphs: LatencySummary;
}

const newGraph = () =>
  new Index({
    dimensions: 384,
    metric: MetricKind.Cos,
    connectivity: DEFAULT_CONNECTIVITY,
    expansion_add: DEFAULT_EXPANSION_ADD,
    expansion_search: DEFAULT_EXPANSION_SEARCH,
    quantization: ScalarKind.F32,
    multi: false,
  });

/**
 * Raw usearch with the embedded index's parameters. Inserts go one vector at a time into
 * per-shard graphs, as the shard views do; searches are measured both on one graph and on
 * the same per-shard graphs, searched in turn and merged, which is the index work of a
 * memmesh search without HTTP, NATS or JSON.
 */
export async function rawIndex(
  vectors: Float32Array[],
  shards: number[],
  queries: Float32Array[],
): Promise<RawIndexResult> {
  const shardCount = Math.max(...shards) + 1;
  const graphs = Array.from({ length: shardCount }, newGraph);
  const started = performance.now();
  vectors.forEach((v, i) => {
    (graphs[shards[i] as number] as Index).add(BigInt(i), v);
  });
  const insertsPerSecond = vectors.length / ((performance.now() - started) / 1000);
  const one = newGraph();
  vectors.forEach((v, i) => {
    one.add(BigInt(i), v);
  });
  const options = { count: 2_000, concurrency: 1, timeMsMax: 10_000 };
  const searchOneGraph = await measureLatency(async (i) => {
    one.search(queries[i % queries.length] as Float32Array, 10, 0);
  }, options);
  const searchShardGraphs = await measureLatency(async (i) => {
    const query = queries[i % queries.length] as Float32Array;
    const merged: { key: bigint; distance: number }[] = [];
    for (const graph of graphs) {
      const m = graph.search(query, 10, 0);
      for (let j = 0; j < m.keys.length; j++)
        merged.push({ key: m.keys[j] as bigint, distance: m.distances[j] as number });
    }
    merged.sort((a, b) => a.distance - b.distance).splice(10);
  }, options);
  return { insertsPerSecond, searchOneGraph, searchShardGraphs };
}

/** Exact top-k ids by cosine similarity (vectors are unit length, so a dot product). */
export function exactTopK(vectors: Float32Array[], query: Float32Array, k: number): number[] {
  const scored = vectors.map((v, i) => {
    let dot = 0;
    for (let d = 0; d < v.length; d++) dot += (v[d] as number) * (query[d] as number);
    return { i, dot };
  });
  scored.sort((a, b) => b.dot - a.dot);
  return scored.slice(0, k).map((s) => s.i);
}
