/**
 * @module types
 * What a region is made of besides NATS: the parts every shard view and operation uses.
 */
import type { Cache } from '@memmesh/cache';
import type { EmbedderSpec, ModelRef } from '@memmesh/core';
import type { Embedder } from '@memmesh/embed';
import type { VectorIndex } from '@memmesh/index';
import type { AgentMetrics, Tracer } from '@memmesh/telemetry';

export interface RegionParts {
  /** The configured embedder: the region's model until its log records another. */
  embedder: Embedder;
  /**
   * An embedder of another model (a re-index target, or the model a region was re-indexed
   * to), built from this agent's configuration; throws `bad_request` when it cannot
   * (`cannotEmbed` says why beforehand).
   */
  embedderFor: (spec: EmbedderSpec) => Promise<Embedder>;
  /** Why this agent cannot embed with `spec` (its kind is not configured here), or undefined. */
  cannotEmbed: (spec: EmbedderSpec) => string | undefined;
  cache: Cache;
  /**
   * Opens (or restores from `dir`) the view of one shard of one origin region, holding
   * vectors of `model`.
   */
  openIndex: (
    origin: string,
    shard: string,
    dir: string | undefined,
    model: ModelRef,
  ) => Promise<VectorIndex>;
  /** The index backend's name in metrics (`embedded`, `milvus`); `embedded` when omitted. */
  indexBackend?: string;
}

/** What the agent measures with and traces with. */
export interface RegionTelemetry {
  metrics: AgentMetrics;
  tracer: Tracer;
}
