/**
 * @module history
 * A memory's versions, from the region's stream: every event the log still holds on the
 * memory's subject (the stream keeps `historyPerSubject` per subject, set per region with
 * MEMMESH_HISTORY_PER_SUBJECT), newest first. In a replica the versions are the home's, as
 * everywhere. Events that the views dead-lettered (malformed, or claiming another tenant) are
 * not versions of the memory and are left out. A subject that holds only deletions (what an
 * erasure or an expiry leaves) has no history: 404.
 */
import { decodeEvent, nextBySubject, versionOf } from '@memmesh/bus';
import {
  docKeyOf,
  docSubject,
  ErrorCode,
  type MemoryHistory,
  type MemoryVersion,
  MeshError,
  shardOf,
} from '@memmesh/core';
import type { TenantPolicy } from '@memmesh/routing';
import type { RegionHandles } from './handles.ts';
import { homeViews } from './reads.ts';

/** The most versions read for one memory, whatever a stream was configured to keep. */
export const HISTORY_VERSIONS_MAX = 64;

export async function memoryHistory(
  h: RegionHandles,
  policy: TenantPolicy,
  id: string,
): Promise<MemoryHistory> {
  const { tenant } = policy;
  const view = homeViews(h, policy);
  const shard = shardOf(tenant, id, view.shardCount);
  const subject = docSubject(policy.home, shard, tenant, docKeyOf(tenant, id));
  const versions: MemoryVersion[] = [];
  let seq = 1;
  // Bounded: each read moves past one stored message, at most HISTORY_VERSIONS_MAX of them.
  for (let read = 0; read < HISTORY_VERSIONS_MAX; read++) {
    const stored = await nextBySubject(h.jsm, h.stream, { seq, subject });
    if (!stored) break;
    seq = stored.seq + 1;
    const decoded = decodeEvent(stored.data, stored.subject);
    // A document subject holds its upserts and tombstones only (re-embeddings have their own).
    if (!decoded.ok || decoded.event.tenant !== tenant || decoded.event.type === 'embedding') continue;
    const { event } = decoded;
    versions.push({
      version: versionOf(stored),
      type: event.type,
      at: new Date(event.ts).toISOString(),
      source: event.source,
      ...(event.type === 'upsert' ? { text: event.text, metadata: event.metadata, scope: event.scope } : {}),
    });
  }
  // Only deletions left: an erasure (which keeps each erased subject's tombstone, so that no
  // copy can bring the memory back) or an expiry purged every version with content. Such a
  // memory has no history to show, as it has no text: 404, like GET.
  if (versions.every((v) => v.type === 'delete')) {
    throw new MeshError(ErrorCode.NotFound, `memory ${id} has no history here`);
  }
  versions.sort((a, b) => b.version - a.version);
  return { id, region: h.config.region, versions };
}
