/**
 * @module read-repair
 * A view that answers from behind the log is corrected by the log (DESIGN §10). Beside every
 * shard search the region's stream is asked for an event of the tenant on that shard past the
 * view's position (one single-message read, while the index searches); when there is none,
 * the hits are current and pass unchanged. Otherwise each hit is checked against its memory's
 * newest event: a memory updated since comes back with the log's text, metadata, scope and
 * version (its score is still that of the view's older vectors), one deleted, erased or
 * expired since is dropped. A view whose consumer has passed an event it does not hold (a
 * corrupted or truncated snapshot, say) has missed it: the event is applied again from the
 * log, through the normal path. Every repair is counted, by kind.
 */
import { decodeEvent, lastBySubject, nextBySubject, type ShardConsumer, versionOf } from '@memmesh/bus';
import { docKeyOf, docSubject, type ModelRef, streamName, tenantShardFilter } from '@memmesh/core';
import type { VectorHit, VectorIndex } from '@memmesh/index';
import type { JetStreamManager } from '@nats-io/jetstream';
import { applyEvent } from './apply.ts';

export type RepairKind = 'stale' | 'gone' | 'missed';

export interface RepairContext {
  jsm: JetStreamManager;
  /** The region whose stream the view is built from. */
  region: string;
  onRepair?: ((kind: RepairKind, where: { origin: string; shard: string }) => void) | undefined;
}

export interface RepairedView {
  origin: string;
  shard: string;
  model: ModelRef;
  index: VectorIndex;
  consumer: ShardConsumer;
}

/**
 * The newest event of the tenant on the shard, read while `search` runs; the hits as the
 * log has them when the view was behind it.
 */
export async function searchRepaired(
  ctx: RepairContext,
  view: RepairedView,
  tenant: string,
  search: () => Promise<VectorHit[]>,
): Promise<VectorHit[]> {
  const stream = streamName(ctx.region);
  // Not the newest event but the first one past what the view has applied: when the view is
  // current (nearly always) the answer is "no message", a few bytes, where the newest event
  // came back whole (text and vectors, base64 in JSON), four times per search. Only whether
  // such an event exists is used.
  const [hits, unapplied] = await Promise.all([
    search(),
    nextBySubject(ctx.jsm, stream, {
      seq: view.consumer.appliedSeq + 1,
      subject: tenantShardFilter(view.origin, view.shard, tenant),
    }),
  ]);
  if (unapplied === null) return hits;
  const repaired = await Promise.all(hits.map((hit) => repairHit(ctx, view, tenant, hit)));
  return repaired.filter((hit): hit is VectorHit => hit !== undefined);
}

async function repairHit(
  ctx: RepairContext,
  view: RepairedView,
  tenant: string,
  hit: VectorHit,
): Promise<VectorHit | undefined> {
  const stream = streamName(ctx.region);
  const subject = docSubject(view.origin, view.shard, tenant, docKeyOf(tenant, hit.id));
  const stored = await lastBySubject(ctx.jsm, stream, subject);
  const where = { origin: view.origin, shard: view.shard };
  if (stored === null) {
    // Purged (erased, or expired and swept): nothing of it may be answered.
    ctx.onRepair?.('gone', where);
    return undefined;
  }
  const version = versionOf(stored);
  if (version <= hit.version) return hit;
  const decoded = decodeEvent(stored.data, stored.subject);
  if (!decoded.ok || decoded.event.tenant !== tenant) return hit;
  const { event } = decoded;
  if (stored.seq <= view.consumer.appliedSeq) {
    // The consumer passed this event, yet the view lacks it: apply it again from the log.
    ctx.onRepair?.('missed', where);
    await applyEvent(
      { index: view.index, model: view.model, building: true },
      { seq: stored.seq, version, subject: stored.subject, event },
      () => undefined,
    ).catch(() => undefined);
  }
  if (event.type !== 'upsert' || (event.expiresAt !== undefined && event.expiresAt <= Date.now())) {
    ctx.onRepair?.('gone', where);
    return undefined;
  }
  ctx.onRepair?.('stale', where);
  return {
    ...hit,
    version,
    text: event.text,
    metadata: event.metadata,
    scope: event.scope,
    expiresAtMs: event.expiresAt,
  };
}
