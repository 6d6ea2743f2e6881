/**
 * Admin changes leave audit events in the region's log (issue 10, item 4), against a real,
 * locked-down nats-server: a policy change, a key created and a key revoked through the
 * gateway each append one event to AUDIT_US_EAST_1 with who, when, from where, before and
 * after, and no secret. The log refuses purges and deletes from anyone, the operator
 * included; the gateway's NATS user can append there and do nothing else; and with the log
 * out of reach, admin changes are refused (503) rather than made unrecorded.
 */
import { type AuditEvent, AuditEventSchema } from '@memmesh/core';
import { type Harness, startHarness } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { type HttpServer, serveHttp } from '@memmesh/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

const ADMIN_KEY = 'audit-admin-key-0123';
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const STREAM = 'AUDIT_US_EAST_1';

let h: Harness;
let agentHttp: HttpServer;
let gateway: Gateway;
let operator: NatsConnection;
const startedAt = Date.now();

beforeAll(async () => {
  h = await startHarness();
  agentHttp = await serveHttp(h.agent.app.fetch);
  const files = h.security.gateway('us-east-1');
  gateway = await startGateway(
    resolveGatewayConfig({
      endpoints: { 'us-east-1': agentHttp.url },
      adminKey: ADMIN_KEY,
      region: 'us-east-1',
      natsUrl: h.nats.url,
      natsCredsFile: files.credsFile,
      natsTlsCaFile: files.tls.caFile,
    }),
    silentLogger,
    h.agent.routing,
  );
  operator = await connect({ servers: h.nats.url, ...h.security.connectOptions(h.security.operator()) });
}, 60_000);

afterAll(async () => {
  await operator?.close();
  await gateway?.close();
  await agentHttp?.close();
  await h?.stop();
});

const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  gateway.app.request(path, {
    method,
    headers: { ...ADMIN, ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function auditEvents(): Promise<AuditEvent[]> {
  const jsm = await jetstreamManager(operator);
  const { state } = await jsm.streams.info(STREAM);
  const events: AuditEvent[] = [];
  // Bounded by the stream's own count.
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(STREAM, { seq });
    if (message) events.push(AuditEventSchema.parse(message.json()));
  }
  return events;
}

describe('audit', () => {
  it('audit - a policy change, a key created and a key revoked are each one event: who, when, before, after, no secret', async () => {
    const current = await admin('GET', '/v1/admin/tenants/acme');
    const before = (await current.json()) as { version: number; replicas: string[] };
    const put = await admin(
      'PUT',
      '/v1/admin/tenants/acme',
      { home: 'us-east-1', replicas: [] },
      {
        'if-match': `"${before.version}"`,
      },
    );
    expect(put.status).toBe(200);
    const created = await admin('POST', '/v1/admin/tenants/acme/keys', { scopes: ['read'] });
    expect(created.status).toBe(201);
    const { key, keyId } = (await created.json()) as { key: string; keyId: string };
    const revoked = await admin('DELETE', `/v1/admin/tenants/acme/keys/${keyId}`);
    expect(revoked.status).toBe(204);

    const events = await auditEvents();
    expect(events.map((e) => e.action)).toEqual(['tenant_policy.put', 'api_key.create', 'api_key.revoke']);
    for (const event of events) {
      expect(event.tenant).toBe('acme');
      expect(event.region).toBe('us-east-1');
      expect(event.actor.kind).toBe('operator');
      expect(event.actor.source.length).toBeGreaterThan(0);
      expect(event.at).toBeGreaterThanOrEqual(startedAt);
      expect(event.at).toBeLessThanOrEqual(Date.now());
    }
    const [policy, create, revoke] = events as [AuditEvent, AuditEvent, AuditEvent];
    expect(policy.before).toMatchObject({ tenant: 'acme', version: before.version });
    expect(policy.after).toMatchObject({ tenant: 'acme', version: before.version + 1, replicas: [] });
    expect(create.before).toBeNull();
    expect(create.after).toMatchObject({ keyId, tenant: 'acme', scopes: ['read'] });
    expect(revoke.before).toMatchObject({ keyId });
    expect(revoke.after).toBeNull();
    // Never the key, nor the admin key.
    const text = JSON.stringify(events);
    expect(text).not.toContain(key);
    expect(text).not.toContain(ADMIN_KEY);
  });

  it('audit - the log refuses purges and deletes from anyone, the operator included', async () => {
    const jsm = await jetstreamManager(operator);
    const before = (await jsm.streams.info(STREAM)).state.messages;
    expect(before).toBeGreaterThan(0);
    await expect(jsm.streams.purge(STREAM)).rejects.toThrow(/purge/i);
    await expect(jsm.streams.deleteMessage(STREAM, 1)).rejects.toThrow(/delete/i);
    expect((await jsm.streams.info(STREAM)).state.messages).toBe(before);
  });

  it("audit - the gateway's NATS user may append to its region's audit log and nothing else", async () => {
    const nc = await connect({
      servers: h.nats.url,
      ...h.security.connectOptions(h.security.gateway('us-east-1')),
      reconnect: false,
    });
    try {
      for (const subject of ['>', 'mem.>', 'q.>', 'audit.>', '$JS.API.>']) {
        const sub = nc.subscribe(subject);
        await nc.flush();
        const outcome = await Promise.race([
          sub.closed.then((e) => (e instanceof Error ? e.message : 'closed')),
          new Promise<string>((r) => setTimeout(r, 500, 'stands')),
        ]);
        expect(outcome, subject).toMatch(/permissions violation/i);
      }
      const jsm = await jetstreamManager(nc, { timeout: 2_000 }).catch((e: Error) => e);
      expect(String(jsm)).toMatch(/permissions violation/i);
      // A forged write is refused by the server: the stream never sees it.
      nc.publish('mem.us-east-1.s00.acme.forged', 'x');
      await nc.flush();
      const stored = await (await jetstreamManager(operator)).streams
        .getMessage('MEM_US_EAST_1', { last_by_subj: 'mem.us-east-1.s00.acme.forged' })
        .catch(() => null);
      expect(stored).toBeNull();
    } finally {
      await nc.close();
    }
  });

  // Last: it stops NATS.
  it('audit - with the audit log out of reach, an admin change is refused with 503 and nothing changes', async () => {
    const current = (await (await admin('GET', '/v1/admin/tenants/globex')).json()) as { version: number };
    await h.nats.stop();
    const put = await admin(
      'PUT',
      '/v1/admin/tenants/globex',
      { home: 'us-east-1', replicas: [] },
      {
        'if-match': `"${current.version}"`,
      },
    );
    expect(put.status).toBe(503);
    expect(Number(put.headers.get('retry-after'))).toBeGreaterThan(0);
    const create = await admin('POST', '/v1/admin/tenants/globex/keys', { scopes: ['read'] });
    expect(create.status).toBe(503);
    const after = (await (await admin('GET', '/v1/admin/tenants/globex')).json()) as { version: number };
    expect(after.version).toBe(current.version);
    expect(await h.agent.routing.listApiKeys('globex')).toHaveLength(1);
  });
});
