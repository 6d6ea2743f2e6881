/**
 * @module codec
 * Events on the wire: JSON validated by the versioned zod schema before publish and again
 * after consume. A consumed event must also agree with the subject it arrived on, so that a
 * message published on one tenant's subject can never write into another tenant's view.
 */
import {
  describeIssues,
  docKeyOf,
  ErrorCode,
  type MemoryEvent,
  MemoryEventSchema,
  MeshError,
  modelKeyOf,
  parseEventSubject,
} from '@memmesh/core';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeEvent(event: MemoryEvent): Uint8Array {
  const parsed = MemoryEventSchema.safeParse(event);
  if (!parsed.success) {
    // The agent built this event itself: an invalid one is a bug, not bad input.
    throw new MeshError(ErrorCode.InvalidEvent, 'refusing to publish an invalid event', {
      details: describeIssues(parsed.error),
    });
  }
  return encoder.encode(JSON.stringify(parsed.data));
}

export type DecodeResult = { ok: true; event: MemoryEvent } | { ok: false; reason: string };

export function decodeEvent(data: Uint8Array, subject: string): DecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (err) {
    return { ok: false, reason: `not UTF-8 JSON: ${(err as Error).message}` };
  }
  const parsed = MemoryEventSchema.safeParse(json);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error).map((i) => `${i.path}: ${i.message}`);
    return { ok: false, reason: `schema: ${issues.slice(0, 5).join('; ')}` };
  }
  const where = parseEventSubject(subject);
  if (!where) return { ok: false, reason: `subject ${subject} is not a document subject` };
  const event = parsed.data;
  // A re-embedding sits on its own subject, whose last token names its model: the two agree,
  // and no other event may use such a subject (nor a re-embedding a document's own).
  const embeddingKey = event.type === 'embedding' ? modelKeyOf(event.model) : undefined;
  if (where.modelKey !== embeddingKey) {
    return { ok: false, reason: `a ${event.type} event does not belong on subject ${subject}` };
  }
  if (where.tenant !== event.tenant) {
    return { ok: false, reason: `tenant ${event.tenant} does not match subject tenant ${where.tenant}` };
  }
  if (where.docKey !== docKeyOf(event.tenant, event.id)) {
    return { ok: false, reason: `document id does not match subject key ${where.docKey}` };
  }
  return { ok: true, event };
}
