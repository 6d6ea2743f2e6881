/**
 * @module types
 * What a region is made of besides NATS: the parts every shard view and operation uses.
 */
import type { Cache } from '@memmesh/cache';
import type { Embedder } from '@memmesh/embed';
import type { VectorIndex } from '@memmesh/index';
import type { AgentMetrics, Tracer } from '@memmesh/telemetry';

export interface RegionParts {
  embedder: Embedder;
  cache: Cache;
  /** Opens (or restores from `dir`) the view of one shard of one origin region. */
  openIndex: (origin: string, shard: string, dir: string | undefined) => Promise<VectorIndex>;
  /** The index backend's name in metrics (`embedded`, `milvus`); `embedded` when omitted. */
  indexBackend?: string;
}

/** What the agent measures with and traces with. */
export interface RegionTelemetry {
  metrics: AgentMetrics;
  tracer: Tracer;
}
