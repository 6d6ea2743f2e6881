/**
 * @module audit
 * Every admin change the gateway makes (a tenant's placement policy, a key created or
 * revoked) is recorded: who (the operator's admin key, or a tenant key by its id, and the
 * address it came from), when, and the state before and after, never a secret.
 *
 * With NATS configured (MEMMESH_GATEWAY_NATS_URL) the record is an event in the region's
 * audit log, AUDIT_<REGION>, which no user may delete from or purge; the gateway's NATS user
 * may append there and do nothing else on the bus. A change is only made while that log can
 * be reached (else 503, nothing changed), and the event is appended right after it. If the
 * append still fails then, the change has happened and is answered as such; the event goes
 * to the gateway's log at error level, whole, so that it is not lost.
 *
 * Without NATS (a gateway on its own, in tests) the events go to the gateway's log only.
 * The NATS client is loaded only when configured: a gateway that does not audit to the bus
 * does not carry nats.js.
 */
import { randomUUID } from 'node:crypto';
import { type AuditEvent, gatewayInboxPrefix } from '@memmesh/core';
import type { Logger } from '@memmesh/telemetry';
import type { GatewayConfig } from './config.ts';

export type AuditAction = AuditEvent['action'];
export type AuditActor = AuditEvent['actor'];

export interface AuditEntry {
  action: AuditAction;
  tenant: string;
  actor: AuditActor;
  before: unknown;
  after: unknown;
}

export interface AdminAudit {
  /** Throws `unavailable` when a change could not be recorded now: make none. */
  ensureReady(what: string): void;
  /** Records a change that was just made. Never throws: a failure is logged with the event. */
  record(entry: AuditEntry): Promise<void>;
  close(): Promise<void>;
}

/** The audit of a gateway without NATS: its own log. */
export function logAudit(log: Logger, region: string): AdminAudit {
  return {
    ensureReady() {},
    async record(entry) {
      log.info('audit', { audit: eventOf(entry, region) });
    },
    async close() {},
  };
}

/** Connects to the region's NATS as the gateway role, or the log-only audit without NATS. */
export async function openAdminAudit(config: GatewayConfig, log: Logger): Promise<AdminAudit> {
  const region = config.region ?? 'global';
  if (config.natsUrl === undefined) return logAudit(log, region);
  const { connectBus, createAuditLog, watchConnection } = await import('@memmesh/bus');
  const nc = await connectBus({
    servers: config.natsUrl.split(','),
    name: `gateway-${region}`,
    credsFile: config.natsCredsFile,
    tls: config.natsTlsCaFile ? { caFile: config.natsTlsCaFile } : undefined,
    inboxPrefix: gatewayInboxPrefix(region),
  });
  const link = watchConnection(nc);
  const auditLog = createAuditLog(nc, region);
  return {
    ensureReady(what) {
      link.ensureConnected(`${what}: the audit log`);
    },
    async record(entry) {
      const event = eventOf(entry, region);
      try {
        await auditLog.append(event);
      } catch (err) {
        log.error('audit append failed: the change was made, this line is its record', { err, audit: event });
      }
    },
    async close() {
      await nc.drain().catch(() => undefined);
    },
  };
}

function eventOf(entry: AuditEntry, region: string): AuditEvent {
  return {
    v: 1,
    type: 'audit',
    id: randomUUID(),
    action: entry.action,
    tenant: entry.tenant,
    actor: entry.actor,
    at: Date.now(),
    region,
    before: entry.before ?? null,
    after: entry.after ?? null,
  };
}
