/**
 * @module audit
 * Appending admin changes to a region's audit log (streams.ts auditStreamConfig), as the
 * gateway does after each one. The event is checked against its schema before it leaves, and
 * its id is the message id, so a retried append inside the duplicate window is stored once.
 */
import { type AuditEvent, AuditEventSchema, auditSubject, ErrorCode, MeshError } from '@memmesh/core';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { toMeshError } from './errors.ts';
import { AUDIT_EVENT_BYTES_MAX } from './streams.ts';

export interface AuditLog {
  /** Appends the event to the region's audit log; resolves once the stream has stored it. */
  append(event: AuditEvent): Promise<void>;
}

/** How long one append may wait for the stream's acknowledgement. */
export const AUDIT_APPEND_TIMEOUT_MS = 5_000;

export function createAuditLog(nc: NatsConnection, region: string): AuditLog {
  const js = jetstream(nc, { timeout: AUDIT_APPEND_TIMEOUT_MS });
  const encoder = new TextEncoder();
  return {
    async append(event) {
      const parsed = AuditEventSchema.safeParse(event);
      // The gateway built this event itself: an invalid one is a bug, not bad input.
      if (!parsed.success) throw new Error(`audit event does not match its schema: ${parsed.error.message}`);
      const data = encoder.encode(JSON.stringify(parsed.data));
      if (data.length > AUDIT_EVENT_BYTES_MAX) {
        throw new MeshError(
          ErrorCode.Internal,
          `audit event of ${data.length} bytes is over ${AUDIT_EVENT_BYTES_MAX}`,
        );
      }
      const kind = event.action.split('.')[0] as string;
      try {
        await js.publish(auditSubject(region, kind), data, { msgID: event.id });
      } catch (err) {
        throw toMeshError(err, `append to the audit log of ${region}`);
      }
    },
  };
}
