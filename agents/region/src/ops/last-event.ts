/**
 * @module last-event
 * The newest event of one document, read from the region's stream (read-your-writes: the
 * stream leader answers, not a view). Reads use it for `GET /v1/memories/{id}`, deletes to
 * make their tombstone exact.
 */
import { decodeEvent, lastBySubject, versionOf } from '@memmesh/bus';
import { docKeyOf, docSubject, ErrorCode, type MemoryEvent, MeshError, shardOf } from '@memmesh/core';
import type { JetStreamManager } from '@nats-io/jetstream';

export interface LastEvent {
  shard: string;
  subject: string;
  /** Home version of the newest event (0 when there is none). */
  version: number;
  event: MemoryEvent | undefined;
}

export interface DocumentAt {
  /** The document's home region, and its shard count. */
  origin: string;
  originShardCount: number;
  tenant: string;
  id: string;
}

export async function lastEvent(jsm: JetStreamManager, stream: string, doc: DocumentAt): Promise<LastEvent> {
  const { tenant, id } = doc;
  const shard = shardOf(tenant, id, doc.originShardCount);
  const subject = docSubject(doc.origin, shard, tenant, docKeyOf(tenant, id));
  const stored = await lastBySubject(jsm, stream, subject);
  if (!stored) return { shard, subject, version: 0, event: undefined };
  // Same checks as the shard consumer: a message that the view dead-lettered (malformed, or
  // claiming another tenant) is not a version of this document for readers either.
  const decoded = decodeEvent(stored.data, stored.subject);
  if (!decoded.ok) {
    throw new MeshError(
      ErrorCode.NotFound,
      `memory ${id} not found: its newest event is invalid (${decoded.reason})`,
    );
  }
  return { shard, subject, version: versionOf(stored), event: decoded.event };
}
