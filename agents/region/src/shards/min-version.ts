/**
 * @module min-version
 * Read-your-writes on a shard: before answering a query with `minVersion`, wait (bounded)
 * until this shard has applied every event of the tenant up to that home version.
 */
import { nextBySubject, type ShardConsumer, versionOf } from '@memmesh/bus';
import { ErrorCode, MeshError, streamName, tenantShardFilter } from '@memmesh/core';
import type { JetStreamManager } from '@nats-io/jetstream';

/** How soon a client may ask again when the shard has not caught up in time. */
const BEHIND_RETRY_AFTER_MS = 200;

export interface MinVersionTarget {
  jsm: JetStreamManager;
  /** The region whose stream holds the view's events. */
  region: string;
  /** The home region of the view's events. */
  origin: string;
  shard: string;
  consumer: ShardConsumer;
}

/**
 * A shard whose position is behind may still be complete for the tenant: the stream is asked
 * for the tenant's next event on this shard after the position, and only if that event's
 * version is within `minVersion` does the shard wait for it. For a replica view the region
 * first made sure those events have arrived from the home stream.
 */
export async function ensureMinVersion(
  target: MinVersionTarget,
  query: { tenant: string; minVersion: number; waitMs: number },
): Promise<void> {
  const { consumer, minVersion } = { ...target, ...query };
  const deadline = Date.now() + query.waitMs;
  const subject = tenantShardFilter(target.origin, target.shard, query.tenant);
  const stream = streamName(target.region);
  // For the region's own shards positions are versions: a position at or past minVersion says it all.
  const ownOrigin = target.origin === target.region;
  // Bounded: each round either returns, throws at the deadline, or waits for the next event.
  while (!(ownOrigin && consumer.appliedSeq >= minVersion)) {
    const next = await nextBySubject(target.jsm, stream, { seq: consumer.appliedSeq + 1, subject });
    if (!next || versionOf(next) > minVersion) return;
    const left = deadline - Date.now();
    if (left <= 0 || !(await consumer.waitApplied(next.seq, left))) {
      throw new MeshError(
        ErrorCode.Unavailable,
        `shard ${target.shard} has not applied version ${minVersion} yet`,
        { retryAfterMs: BEHIND_RETRY_AFTER_MS },
      );
    }
  }
}
