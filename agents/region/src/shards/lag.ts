/**
 * @module lag
 * Consumer lag of every hosted shard view, asked of the server before a scrape (two JetStream
 * API requests per view), at most once per LAG_REFRESH_MS_MIN however often Prometheus scrapes.
 */
import type { ConsumerLag, ShardConsumer } from '@memmesh/bus';
import type { AgentMetrics, Logger } from '@memmesh/telemetry';

/** Lag is asked of the server at most this often, however often Prometheus scrapes. */
export const LAG_REFRESH_MS_MIN = 1_000;
/** A scrape waits at most this long for lag figures; late ones keep their last values. */
export const LAG_TIMEOUT_MS = 2_000;
/** Shards asked at once: each asks the server two questions. */
const LAG_CONCURRENCY_MAX = 16;

/** One hosted view, as lag tracking sees it. */
export interface LaggingView {
  origin: string;
  shard: string;
  consumer: Pick<ShardConsumer, 'lag'>;
}

/** Refreshes the lag gauges of `views()` before each scrape. Returns the removal of the hook. */
export function trackConsumerLag(
  metrics: AgentMetrics,
  views: () => LaggingView[],
  logger: Logger,
): () => void {
  let refreshedAt = Number.NEGATIVE_INFINITY;
  let warned = false;
  const refresh = async (view: LaggingView) => {
    const lag = await withTimeout(view.consumer.lag(), LAG_TIMEOUT_MS).catch((err: unknown) => {
      if (!warned) logger.warn('consumer lag unavailable; keeping the last values', { err });
      warned = true;
      return undefined;
    });
    if (!lag) return;
    const labels = { origin: view.origin, shard: view.shard };
    metrics.consumerLagMessages.set(labels, lag.messages);
    metrics.consumerLagSeconds.set(labels, lag.seconds);
  };
  return metrics.onScrape(async () => {
    if (performance.now() - refreshedAt < LAG_REFRESH_MS_MIN) return;
    refreshedAt = performance.now();
    const all = views();
    for (let at = 0; at < all.length; at += LAG_CONCURRENCY_MAX) {
      await Promise.all(all.slice(at, at + LAG_CONCURRENCY_MAX).map(refresh));
    }
  });
}

function withTimeout(promise: Promise<ConsumerLag>, timeoutMs: number): Promise<ConsumerLag | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
