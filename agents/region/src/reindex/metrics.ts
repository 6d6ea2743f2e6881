/**
 * @module metrics
 * A re-index's progress as metrics: documents done and total, chunks embedded, the state,
 * and embedder errors (the rate is Prometheus' `rate()` of the done gauge).
 */
import { REINDEX_STATES, type ReindexJob } from '@memmesh/core';
import type { AgentMetrics } from '@memmesh/telemetry';

export function reindexMetrics(metrics: AgentMetrics): {
  onProgress: (job: ReindexJob) => void;
  onEmbedError: () => void;
} {
  metrics.reindexEmbedErrors.inc({}, 0);
  return {
    onProgress(job) {
      const labels = { job: job.id };
      metrics.reindexDocsDone.set(labels, job.done);
      metrics.reindexDocsTotal.set(labels, job.total);
      metrics.reindexChunksEmbedded.set(labels, job.embedded);
      for (const state of REINDEX_STATES)
        metrics.reindexState.set({ job: job.id, state }, state === job.state ? 1 : 0);
    },
    onEmbedError: () => metrics.reindexEmbedErrors.inc({}),
  };
}
