/**
 * @module baselines
 * What memmesh is measured against, in the same run on the same machine: raw JetStream
 * publishing of events built like the agent's, raw usearch insert and search of the same
 * vectors with the embedded index's parameters, and exact search for recall.
 */
import {
  type BusConnectionOptions,
  connectBus,
  DEFAULT_PUBLISHER_OPTIONS,
  DEFAULT_REGION_STREAM_OPTIONS,
  encodeEvent,
  ensureRegionStreams,
} from '@memmesh/bus';
import {
  deadLetterStreamName,
  docKeyOf,
  docSubject,
  encodeVector,
  type MemoryEvent,
  sha256Hex,
  shardOf,
  streamName,
} from '@memmesh/core';
import { DEFAULT_HNSW } from '@memmesh/index';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { BenchDoc } from './corpus.ts';
import { type LatencySummary, type LoopBounds, measureLatency } from './stats.ts';

/** Same length as `us-east-1`, so that subjects, and with them messages, are as long. */
const RAW_REGION = 'raw-bench';
/** Publishes awaiting their ack at once: the agent publisher's window. */
const PUBLISH_WINDOW = DEFAULT_PUBLISHER_OPTIONS.inFlightMax;
/** The embedded index adds and searches on the calling thread; so does the baseline. */
const USEARCH_THREADS = 1;

export interface EventShape {
  tenant: string;
  shardCount: number;
  modelId: string;
  dimensions: number;
  /** The agent's region and id, as its events carry them. */
  sourceRegion: string;
  sourceAgent: string;
}

/** An upsert event built the way the agent's write path builds it for a one-chunk memory. */
function benchEvent(doc: BenchDoc, vector: Float32Array, shape: EventShape) {
  const event: MemoryEvent = {
    v: 1,
    type: 'upsert',
    tenant: shape.tenant,
    id: doc.id,
    text: doc.text,
    chunks: [{ start: 0, end: doc.text.length, vector: encodeVector(vector) }],
    metadata: {},
    scope: {},
    model: { id: shape.modelId, dim: shape.dimensions },
    ts: Date.now(),
    source: { region: shape.sourceRegion, agent: shape.sourceAgent },
  };
  const shard = shardOf(shape.tenant, doc.id, shape.shardCount);
  const msgId = sha256Hex(JSON.stringify([shape.tenant, doc.id, 'upsert', doc.text, {}, {}, shape.modelId]));
  return {
    subject: docSubject(RAW_REGION, shard, shape.tenant, docKeyOf(shape.tenant, doc.id)),
    data: encodeEvent(event),
    msgId,
  };
}

export interface RawPublishResult {
  docsPerS: number;
  eventBytesAvg: number;
}

/**
 * Raw JetStream async publish: every event is built and encoded before the clock starts,
 * then published with at most PUBLISH_WINDOW acks outstanding, into a fresh stream with the
 * region stream's configuration. The stream is deleted afterwards.
 */
/** Where a baseline connects, and as whom: the bench's locked-down server, as the operator. */
export type BusTarget = Pick<BusConnectionOptions, 'servers' | 'credsFile' | 'tls'>;

export async function rawPublish(
  target: BusTarget,
  docs: readonly BenchDoc[],
  vectors: readonly Float32Array[],
  shape: EventShape,
): Promise<RawPublishResult> {
  const nc = await connectBus({ ...target, name: 'bench-raw-publish' });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureRegionStreams(jsm, { region: RAW_REGION, ...DEFAULT_REGION_STREAM_OPTIONS });
    const js = jetstream(nc);
    const events = docs.map((doc, i) => benchEvent(doc, vectors[i] as Float32Array, shape));
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: PUBLISH_WINDOW }, async () => {
        while (next < events.length) {
          const e = events[next++] as (typeof events)[number];
          await js.publish(e.subject, e.data, { msgID: e.msgId });
        }
      }),
    );
    const docsPerS = docs.length / ((performance.now() - started) / 1000);
    await jsm.streams.delete(streamName(RAW_REGION));
    await jsm.streams.delete(deadLetterStreamName(RAW_REGION));
    const eventBytesAvg = events.reduce((n, e) => n + e.data.byteLength, 0) / events.length;
    return { docsPerS, eventBytesAvg };
  } finally {
    await nc.close();
  }
}

/** Average payload of the first `count` messages of a stream, as published (compression is transparent). */
export async function streamEventBytesAvg(target: BusTarget, stream: string, count: number): Promise<number> {
  const nc = await connectBus({ ...target, name: 'bench-sample' });
  try {
    const jsm = await jetstreamManager(nc);
    let bytes = 0;
    let seen = 0;
    for (let seq = 1; seq <= count; seq++) {
      const stored = await jsm.streams.getMessage(stream, { seq });
      if (!stored) continue;
      bytes += stored.data.byteLength;
      seen++;
    }
    return seen === 0 ? Number.NaN : bytes / seen;
  } finally {
    await nc.close();
  }
}

export interface RawIndexResult {
  /** Vectors per second added one at a time into one graph per shard, as the views do. */
  shardGraphsInsertsPerS: number;
  oneGraphInsertsPerS: number;
  /** Search of one graph holding every vector. */
  oneGraph: LatencySummary;
  /** The agent's layout: every shard's graph searched in turn, results merged. */
  shardGraphs: LatencySummary;
}

export const newGraph = (dimensions: number) =>
  new Index({
    dimensions,
    metric: MetricKind.Cos,
    connectivity: DEFAULT_HNSW.m,
    expansion_add: DEFAULT_HNSW.efConstruction,
    expansion_search: DEFAULT_HNSW.efSearch,
    quantization: ScalarKind.F32,
    multi: false,
  });

function timeInserts(graphs: Index[], vectors: readonly Float32Array[], graphOf: (i: number) => number) {
  const started = performance.now();
  vectors.forEach((v, i) => {
    (graphs[graphOf(i)] as Index).add(BigInt(i), v, USEARCH_THREADS);
  });
  return vectors.length / ((performance.now() - started) / 1000);
}

/** Raw usearch with the embedded index's parameters (DEFAULT_HNSW, cosine, f32). */
export async function rawIndex(
  vectors: readonly Float32Array[],
  shards: readonly number[],
  shardCount: number,
  queries: readonly Float32Array[],
  bounds: LoopBounds,
): Promise<RawIndexResult> {
  const dimensions = (vectors[0] as Float32Array).length;
  const graphs = Array.from({ length: shardCount }, () => newGraph(dimensions));
  const shardGraphsInsertsPerS = timeInserts(graphs, vectors, (i) => shards[i] as number);
  const one = newGraph(dimensions);
  const oneGraphInsertsPerS = timeInserts([one], vectors, () => 0);
  const oneGraph = await measureLatency(async (i) => {
    one.search(queries[i % queries.length] as Float32Array, 10, USEARCH_THREADS);
  }, bounds);
  const shardGraphs = await measureLatency(async (i) => {
    const query = queries[i % queries.length] as Float32Array;
    const merged: { key: bigint; distance: number }[] = [];
    for (const graph of graphs) {
      const m = graph.search(query, 10, USEARCH_THREADS);
      for (let j = 0; j < m.keys.length; j++) {
        merged.push({ key: m.keys[j] as bigint, distance: m.distances[j] as number });
      }
    }
    merged.sort((a, b) => a.distance - b.distance).splice(10);
  }, bounds);
  return { shardGraphsInsertsPerS, oneGraphInsertsPerS, oneGraph, shardGraphs };
}

/** Exact top-k indexes by cosine similarity (the vectors are unit length: a dot product). */
export function exactTopK(vectors: readonly Float32Array[], query: Float32Array, k: number): number[] {
  const scored = vectors.map((v, i) => {
    let dot = 0;
    for (let d = 0; d < v.length; d++) dot += (v[d] as number) * (query[d] as number);
    return { i, dot };
  });
  scored.sort((a, b) => b.dot - a.dot);
  return scored.slice(0, k).map((s) => s.i);
}
