/**
 * @module walk
 * Reads every message of one tenant of one origin in this region's stream (document
 * versions, tombstones and re-embeddings; history included) and sums up, per document
 * subject, what an erasure needs: whether a version at or below the cut was in scope, where
 * the subject's messages of erased versions end, and the hashes of the erased texts (their
 * query-embedding cache keys). Never the texts themselves.
 */
import { decodeEvent, sourcedSequence, toMeshError } from '@memmesh/bus';
import {
  type EraseScope,
  ErrorCode,
  inEraseScope,
  MeshError,
  parseEventSubject,
  sha256Hex,
  tenantFilter,
} from '@memmesh/core';
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';

export interface SubjectSummary {
  subject: string;
  shard: string;
  id: string;
  /** An upsert in scope at or below the cut: the subject is erased. */
  erased: boolean;
  /** The subject's newest valid event, by this stream's sequence. */
  lastSeq: number;
  /** The subject's newest message of any kind (an invalid one too): what a tombstone expects. */
  lastAnySeq: number;
  lastType: 'upsert' | 'delete';
  lastVersion: number;
  lastInScope: boolean;
  /** The highest sequence (this stream's) of a message at or below the cut. */
  seqAtCut: number;
  /** Messages of versions at or below the cut that hold content (upserts, re-embeddings). */
  contentAtCut: number;
  /** sha256 of every erased text and chunk text: the keys of their query embeddings. */
  textHashes: Set<string>;
}

export interface WalkSummary {
  subjects: Map<string, SubjectSummary>;
  messages: number;
}

const FETCH_MESSAGES_MAX = 256;

/**
 * Walks the tenant's messages of `origin` pending when it starts, in stream order, each
 * within `idleMsMax`. Versions are home versions (a sourced copy's is in its header).
 */
export async function walkTenant(
  js: JetStreamClient,
  options: {
    stream: string;
    origin: string;
    tenant: string;
    scope: EraseScope;
    cutVersion: number;
    idleMsMax: number;
  },
): Promise<WalkSummary> {
  let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>;
  try {
    consumer = await js.consumers.get(options.stream, {
      filter_subjects: [tenantFilter(options.origin, options.tenant)],
      deliver_policy: DeliverPolicy.All,
    });
  } catch (err) {
    throw toMeshError(err, `${options.stream}: walk tenant ${options.tenant}`);
  }
  const pending = (await consumer.info(true)).num_pending;
  const subjects = new Map<string, SubjectSummary>();
  let read = 0;
  // Bounded: `pending` messages, each within idleMsMax.
  while (read < pending) {
    const batch = await consumer.fetch({
      max_messages: Math.min(FETCH_MESSAGES_MAX, pending - read),
      expires: options.idleMsMax,
    });
    let got = 0;
    for await (const msg of batch as AsyncIterable<JsMsg>) {
      got++;
      read++;
      summarise(subjects, msg, options);
    }
    if (got === 0) {
      throw new MeshError(ErrorCode.Unavailable, `${options.stream}: the erasure walk stalled`, {
        retryAfterMs: 1_000,
      });
    }
  }
  return { subjects, messages: read };
}

function summarise(
  subjects: Map<string, SubjectSummary>,
  msg: JsMsg,
  options: { scope: EraseScope; cutVersion: number },
): void {
  const parsed = parseEventSubject(msg.subject);
  // Control records (`_ctl`) share the tenant's subject space; they hold no memory.
  if (!parsed || parsed.shard === '_ctl') return;
  const decoded = decodeEvent(msg.data, msg.subject);
  if (!decoded.ok) {
    // A poison message (dead-lettered by the views) holds no memory, but it is the subject's
    // newest: a tombstone must expect it, and the purge below the tombstone takes it away.
    const known = parsed.modelKey === undefined ? subjects.get(msg.subject) : undefined;
    if (known) known.lastAnySeq = msg.seq;
    return;
  }
  const { event } = decoded;
  const docSubject =
    parsed.modelKey === undefined ? msg.subject : msg.subject.split('.').slice(0, 5).join('.');
  const version = event.type === 'embedding' ? event.version : (sourcedSequence(msg.headers) ?? msg.seq);
  let s = subjects.get(docSubject);
  if (!s) {
    s = {
      subject: docSubject,
      shard: parsed.shard,
      id: event.id,
      erased: false,
      lastSeq: 0,
      lastAnySeq: 0,
      lastType: 'delete',
      lastVersion: 0,
      lastInScope: false,
      seqAtCut: 0,
      contentAtCut: 0,
      textHashes: new Set(),
    };
    subjects.set(docSubject, s);
  }
  const atCut = version <= options.cutVersion;
  if (atCut) s.seqAtCut = Math.max(s.seqAtCut, msg.seq);
  if (event.type === 'delete') {
    if (parsed.modelKey === undefined)
      Object.assign(s, {
        lastSeq: msg.seq,
        lastAnySeq: msg.seq,
        lastType: 'delete',
        lastVersion: version,
        lastInScope: false,
      });
    return;
  }
  const inScope = inEraseScope(options.scope, event.scope);
  if (atCut) s.contentAtCut++;
  if (parsed.modelKey !== undefined) return;
  Object.assign(s, { lastSeq: msg.seq, lastAnySeq: msg.seq, lastType: 'upsert', lastVersion: version });
  s.lastInScope = inScope;
  if (atCut && inScope) {
    s.erased = true;
    s.textHashes.add(sha256Hex(event.text));
    for (const c of event.chunks) s.textHashes.add(sha256Hex(event.text.slice(c.start, c.end)));
  }
}
