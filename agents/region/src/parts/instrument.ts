/**
 * @module instrument
 * Metrics and spans for the region agent's parts, as decorators: an instrumented index,
 * embedder, cache or publisher is the same interface around the same object, so every
 * backend (embedded or production) is measured the same way without a line of its own.
 */
import type { Publisher } from '@memmesh/bus';
import type { Cache } from '@memmesh/cache';
import { isMeshError } from '@memmesh/core';
import type { Embedder } from '@memmesh/embed';
import type { VectorIndex } from '@memmesh/index';
import { type AgentMetrics, injectTraceContext, SpanKind, type Tracer, withSpan } from '@memmesh/telemetry';
import type { RegionParts, RegionTelemetry } from './types.ts';

/** The index backend label when the parts do not name one. */
export const DEFAULT_INDEX_BACKEND = 'embedded';

export const secondsSince = (started: number) => (performance.now() - started) / 1000;

/** Query latency and write outcomes of one backend; everything else passes through. */
export function instrumentIndex(index: VectorIndex, backend: string, metrics: AgentMetrics): VectorIndex {
  const labels = { backend };
  metrics.vectorStoreWrites.inc(labels, 0);
  metrics.vectorStoreWriteErrors.inc(labels, 0);
  const write = async (op: () => Promise<boolean>) => {
    metrics.vectorStoreWrites.inc(labels);
    try {
      return await op();
    } catch (err) {
      metrics.vectorStoreWriteErrors.inc(labels);
      throw err;
    }
  };
  return {
    get dimensions() {
      return index.dimensions;
    },
    get appliedSeq() {
      return index.appliedSeq;
    },
    upsert: (doc) => write(() => index.upsert(doc)),
    delete: (tenant, id, version) => write(() => index.delete(tenant, id, version)),
    markApplied: (seq) => index.markApplied(seq),
    get: (tenant, id) => index.get(tenant, id),
    async search(query) {
      const started = performance.now();
      const hits = await index.search(query);
      metrics.vectorStoreQueryDurationSeconds.observe(labels, secondsSince(started));
      return hits;
    },
    list: (query) => index.list(query),
    expiring: (nowMs, docsMax) => index.expiring(nowMs, docsMax),
    expire: (tenant, id, version) => write(() => index.expire(tenant, id, version)),
    stats: (tenant) => index.stats(tenant),
    snapshot: () => index.snapshot(),
    close: () => index.close(),
    drop: () => index.drop(),
  };
}

/**
 * Counts the retries of an embedder that retries by itself: pass the result as its
 * `onRetry` option (the OpenAI embedder's), labelled with the embedder's model id.
 */
export function embedderRetryCounter(metrics: AgentMetrics, modelId: string): () => void {
  metrics.embedderRetries.inc({ model: modelId }, 0);
  return () => metrics.embedderRetries.inc({ model: modelId });
}

/** Latency and failures of each embed call (one batch), in an `embed` span. */
export function instrumentEmbedder(embedder: Embedder, metrics: AgentMetrics, tracer: Tracer): Embedder {
  const labels = { model: embedder.modelId };
  metrics.embedderErrors.inc(labels, 0);
  return {
    get modelId() {
      return embedder.modelId;
    },
    get dimensions() {
      return embedder.dimensions;
    },
    get batchSizeMax() {
      return embedder.batchSizeMax;
    },
    embed(texts) {
      const attributes = { 'memmesh.embed.model': embedder.modelId, 'memmesh.embed.texts': texts.length };
      return withSpan(tracer, 'embed', { kind: SpanKind.CLIENT, attributes }, async () => {
        const started = performance.now();
        try {
          const vectors = await embedder.embed(texts);
          metrics.embedderDurationSeconds.observe(labels, secondsSince(started));
          return vectors;
        } catch (err) {
          metrics.embedderErrors.inc(labels);
          throw err;
        }
      });
    },
    close: () => embedder.close(),
  };
}

/**
 * Which cache a key belongs to, by the prefix of its kind (lib/cache keys.ts): `r:` result,
 * `e:` embedding. Anything else is `other`, so the label stays bounded.
 */
function cacheOfKey(key: string): string {
  if (key.startsWith('r:')) return 'result';
  if (key.startsWith('e:')) return 'embedding';
  return 'other';
}

/** Hits, misses and failed calls (an outage: the caller goes on uncached). */
export function instrumentCache(cache: Cache, metrics: AgentMetrics): Cache {
  const backend = cache.kind;
  metrics.cacheErrors.inc({ backend }, 0);
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      metrics.cacheErrors.inc({ backend });
      throw err;
    }
  };
  return {
    get kind() {
      return cache.kind;
    },
    async get(key) {
      const value = await guard(() => cache.get(key));
      const counter = value === undefined ? metrics.cacheMisses : metrics.cacheHits;
      counter.inc({ cache: cacheOfKey(key), backend });
      return value;
    },
    set: (key, value, ttlMs) => guard(() => cache.set(key, value, ttlMs)),
    delete: (key) => guard(() => cache.delete(key)),
    keys: (prefix, max) => guard(() => cache.keys(prefix, max)),
    close: () => cache.close(),
  };
}

/** The parts with every one of them instrumented; `indexBackend` labels the index metrics. */
export function instrumentParts(parts: RegionParts, telemetry: RegionTelemetry): RegionParts {
  const { metrics, tracer } = telemetry;
  const backend = parts.indexBackend ?? DEFAULT_INDEX_BACKEND;
  return {
    ...parts,
    embedder: instrumentEmbedder(parts.embedder, metrics, tracer),
    embedderFor: async (spec) => instrumentEmbedder(await parts.embedderFor(spec), metrics, tracer),
    cache: instrumentCache(parts.cache, metrics),
    openIndex: async (origin, shard, dir, model) =>
      instrumentIndex(await parts.openIndex(origin, shard, dir, model), backend, metrics),
  };
}

/**
 * Publish latency and errors, in a `publish` span whose context travels in the message
 * headers, so that the shard consumers' `apply` spans are its children.
 */
export function instrumentPublisher(publisher: Publisher, telemetry: RegionTelemetry): Publisher {
  const { metrics, tracer } = telemetry;
  const attributes = { 'messaging.system': 'nats', 'messaging.operation.type': 'send' };
  return {
    get inFlight() {
      return publisher.inFlight;
    },
    publish(request) {
      return withSpan(tracer, 'publish', { kind: SpanKind.PRODUCER, attributes }, async (span, ctx) => {
        const headers = { ...request.headers };
        injectTraceContext(headers, ctx);
        const started = performance.now();
        try {
          const result = await publisher.publish({ ...request, headers });
          metrics.publishDurationSeconds.observe(secondsSince(started));
          span.setAttribute('memmesh.version', result.seq);
          span.setAttribute('memmesh.duplicate', result.duplicate);
          return result;
        } catch (err) {
          metrics.publishErrors.inc({ code: isMeshError(err) ? err.code : 'internal' });
          throw err;
        }
      });
    },
  };
}
