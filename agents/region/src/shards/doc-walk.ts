/**
 * @module doc-walk
 * Walks the newest event of every document of an origin region in this region's stream (an
 * ordered consumer with "last per subject" delivery on the five-token document subjects, so
 * neither re-embeddings nor control records): what a re-index must embed, what a new view
 * must hold before it may serve, and what a view resumed from a snapshot is checked against.
 */
import { decodeEvent, sourcedSequence, toMeshError } from '@memmesh/bus';
import { type DeleteEvent, ErrorCode, MeshError, regionDocSubjects, type UpsertEvent } from '@memmesh/core';
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';

export interface WalkedEvent {
  /** The message's sequence in this region's stream. */
  seq: number;
  /** The document's home version. */
  version: number;
  subject: string;
  shard: string;
  event: UpsertEvent | DeleteEvent;
}

/** A document whose newest event is an upsert. */
export interface WalkedDoc extends WalkedEvent {
  event: UpsertEvent;
}

export interface WalkOptions {
  stream: string;
  origin: string;
  /** Documents at or below this stream sequence are skipped (a resumed walk). */
  afterSeq?: number;
  /** The walk gives up (unavailable) when a message takes longer than this to arrive. */
  idleMsMax?: number;
}

/**
 * Calls `visit` with every live document (newest event an upsert), in stream order; a
 * document whose newest event is a tombstone is skipped. Resolves with the number of
 * documents visited. Bounded: it reads the messages pending when it started, no more.
 */
export async function walkLiveDocs(
  js: JetStreamClient,
  options: WalkOptions,
  visit: (doc: WalkedDoc) => Promise<void>,
): Promise<number> {
  let visited = 0;
  await walkNewestEvents(js, options, async (walked) => {
    if (walked.event.type !== 'upsert') return;
    await visit(walked as WalkedDoc);
    visited++;
  });
  return visited;
}

/**
 * Calls `visit` with the newest event of every document, upsert or tombstone, in stream
 * order. Invalid events are skipped (they are the dead-letter stream's business). Bounded:
 * it reads the messages pending when it started, no more.
 */
export async function walkNewestEvents(
  js: JetStreamClient,
  options: WalkOptions,
  visit: (walked: WalkedEvent) => Promise<void>,
): Promise<void> {
  const idleMsMax = options.idleMsMax ?? 30_000;
  let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>;
  try {
    consumer = await js.consumers.get(options.stream, {
      filter_subjects: [regionDocSubjects(options.origin)],
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
  } catch (err) {
    throw toMeshError(err, `${options.stream}: walk documents`);
  }
  const pending = (await consumer.info(true)).num_pending;
  if (pending === 0) return;
  let read = 0;
  const afterSeq = options.afterSeq ?? 0;
  // Bounded: `pending` messages, each within idleMsMax.
  while (read < pending) {
    const batch = await consumer.fetch({ max_messages: Math.min(256, pending - read), expires: idleMsMax });
    let got = 0;
    for await (const msg of batch as AsyncIterable<JsMsg>) {
      got++;
      read++;
      if (msg.seq <= afterSeq) continue;
      const decoded = decodeEvent(msg.data, msg.subject);
      if (!decoded.ok || (decoded.event.type !== 'upsert' && decoded.event.type !== 'delete')) continue;
      const shard = msg.subject.split('.')[2] as string;
      const version = sourcedSequence(msg.headers) ?? msg.seq;
      await visit({ seq: msg.seq, version, subject: msg.subject, shard, event: decoded.event });
    }
    if (got === 0) {
      throw new MeshError(ErrorCode.Unavailable, `${options.stream}: the document walk stalled`, {
        retryAfterMs: 1_000,
      });
    }
  }
}
