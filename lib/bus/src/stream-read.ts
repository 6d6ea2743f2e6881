/**
 * @module stream-read
 * Single-message reads from a stream by subject: the newest message on a subject (a memory
 * by id, the newest arrived event of a tenant) and the first at or after a sequence (is
 * anything of the tenant still to come). "No such message" is null; every other failure is a
 * MeshError.
 *
 * Reads go through the stream API (`$JS.API.STREAM.MSG.GET`), which the stream leader
 * answers: a read right after an acknowledged write sees it. A direct get may be answered by
 * a replica that has not caught up, which would break read-your-writes.
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type MsgRequest,
  type NextMsgRequest,
  type StoredMsg,
} from '@nats-io/jetstream';
import { toMeshError } from './errors.ts';
import { sourcedSequence } from './shard-consumer.ts';

export interface NextBySubject {
  /** The first stream sequence to consider (sequences start at 1). */
  seq: number;
  /** A subject or a filter with wildcards. */
  subject: string;
}

/** The newest message on `subject` (a filter with wildcards is allowed), or null. */
export async function lastBySubject(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<StoredMsg | null> {
  return getStored(jsm, stream, { last_by_subj: subject }, `read the last message of ${subject}`);
}

/** The first message on `subject` at or after `seq`, or null when there is none. */
export async function nextBySubject(
  jsm: JetStreamManager,
  stream: string,
  { seq, subject }: NextBySubject,
): Promise<StoredMsg | null> {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    // Callers pass a position + 1; anything else is a bug, not an operating error.
    throw new RangeError(`nextBySubject: seq must be an integer >= 1, got ${seq}`);
  }
  return getStored(jsm, stream, { seq, next_by_subj: subject }, `read the next message of ${subject}`);
}

/**
 * The home version of a stored message: in a replica's stream, the sequence the message has
 * in its home stream (from the Nats-Stream-Source header); otherwise its own sequence.
 */
export function versionOf(stored: StoredMsg): number {
  return sourcedSequence(stored.header) ?? stored.seq;
}

/** The one place where "no message" becomes null; any other failure becomes a MeshError. */
async function getStored(
  jsm: JetStreamManager,
  stream: string,
  query: MsgRequest | NextMsgRequest,
  what: string,
): Promise<StoredMsg | null> {
  try {
    // The cast: nats.js types StreamAPI.getMessage with MsgRequest (seq or last_by_subj)
    // only, although the server's STREAM.MSG.GET also takes next_by_subj (the client types
    // NextMsgRequest for direct gets alone). The request goes to the server unchanged.
    return (await jsm.streams.getMessage(stream, query as MsgRequest)) ?? null;
  } catch (err) {
    // nats.js 3.4 answers null itself; older clients threw, and the contract should not
    // depend on which one is installed.
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
    throw toMeshError(err, `${stream}: ${what}`);
  }
}
