/**
 * @module apply-metrics
 * Counts and times the applies of one shard view. A retryable failure (a backend that is
 * down) is `transient`; any other is `poison` (it is retried a few times, then dead-lettered).
 */
import type { AppliedEvent } from '@memmesh/bus';
import { isMeshError } from '@memmesh/core';
import type { AgentMetrics } from '@memmesh/telemetry';
import { secondsSince } from '../parts/instrument.ts';

export function instrumentApply(
  metrics: AgentMetrics,
  origin: string,
  shard: string,
  apply: (applied: AppliedEvent) => Promise<void>,
): (applied: AppliedEvent) => Promise<void> {
  const labels = { origin, shard };
  // Zero series from the start, so rates and alerts see the shard before its first event.
  metrics.eventsApplied.inc(labels, 0);
  metrics.deadLetters.inc(labels, 0);
  metrics.applyErrors.inc({ ...labels, kind: 'transient' }, 0);
  metrics.applyErrors.inc({ ...labels, kind: 'poison' }, 0);
  metrics.consumerLagMessages.set(labels, 0);
  metrics.consumerLagSeconds.set(labels, 0);
  return async (applied) => {
    const started = performance.now();
    try {
      await apply(applied);
    } catch (err) {
      const kind = isMeshError(err) && err.retryable ? 'transient' : 'poison';
      metrics.applyErrors.inc({ ...labels, kind });
      throw err;
    }
    metrics.applyDurationSeconds.observe(labels, secondsSince(started));
    metrics.eventsApplied.inc(labels);
  };
}
