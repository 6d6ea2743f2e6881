/**
 * @module reads
 * A memory by id, straight from the region's stream (the newest event on its subject), in
 * the home region or a replica; and the hosted views of a tenant's home.
 */
import { ErrorCode, type Memory, MeshError } from '@memmesh/core';
import type { TenantPolicy } from '@memmesh/routing';
import type { OriginView } from '../shards/views.ts';
import type { RegionHandles } from './handles.ts';
import { lastEvent } from './last-event.ts';

/** How soon a client may ask again while this region is still starting a home's views. */
const VIEWS_STARTING_RETRY_AFTER_MS = 1_000;

/** The views of the tenant's home hosted here; 503 while they are still being started. */
export function homeViews(h: RegionHandles, policy: TenantPolicy): OriginView {
  const view = h.views.get(policy.home);
  if (!view) {
    throw new MeshError(
      ErrorCode.Unavailable,
      `views of ${policy.home} are not started yet in ${h.config.region}`,
      { retryAfterMs: VIEWS_STARTING_RETRY_AFTER_MS },
    );
  }
  return view;
}

export async function getMemory(h: RegionHandles, policy: TenantPolicy, id: string): Promise<Memory> {
  const { tenant } = policy;
  const view = homeViews(h, policy);
  const { shard, version, event } = await lastEvent(h.jsm, h.stream, {
    origin: policy.home,
    originShardCount: view.shardCount,
    tenant,
    id,
  });
  // A document subject holds upserts and tombstones only (re-embeddings have subjects of their own).
  if (event?.type !== 'upsert' || event.tenant !== tenant) {
    throw new MeshError(ErrorCode.NotFound, `memory ${id} not found`);
  }
  // Expired is gone, from the instant in the event, though the sweeper has not purged it yet.
  // Its older versions are not "the newest" either: the sweeper purges them with it.
  if (event.expiresAt !== undefined && event.expiresAt <= Date.now()) {
    throw new MeshError(ErrorCode.NotFound, `memory ${id} not found (expired)`);
  }
  const { text, metadata, scope } = event;
  const expiresAt =
    event.expiresAt === undefined ? {} : { expiresAt: new Date(event.expiresAt).toISOString() };
  return { id, text, metadata, scope, version, region: h.config.region, shard, ...expiresAt };
}
