/**
 * The bus, tried as an attacker on the same network would (issue 10): the three-region mesh
 * runs locked down (TLS on client, route and gateway connections; nkey users with the roles'
 * permissions), and an anonymous client, a client with credentials the servers do not know,
 * clients without TLS or without the CA, and a client holding a region agent's own
 * credentials each try to read, forge and administer what they should not. Every refusal
 * asserted here comes from nats-server itself; at the end, nothing forged is searchable in
 * any region.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEvent } from '@memmesh/bus';
import {
  docKeyOf,
  docSubject,
  EVENT_SCHEMA_VERSION,
  encodeVector,
  querySubject,
  shardName,
  shardNames,
  shardOf,
  tenantQuerySubject,
} from '@memmesh/core';
import { LOCAL_EMBEDDER_MODEL } from '@memmesh/embed';
import { silentLogger } from '@memmesh/telemetry';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  nkeyAuthenticator,
  nkeys,
} from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegionAgentConfig, resolveConfig, startRegionAgent } from '../src/index.ts';
import { ACME, type AgentMesh, GLOBEX, natsCredentialsOf, startAgentMesh } from './harness.ts';

const US = 'us-east-1';
const EU = 'eu-central-1';
/** How long a refusal may take to arrive: the server answers at once; this is room for a busy machine. */
const REFUSAL_WAIT_MS = 5_000;
const FORGED_TEXT = 'forged zqxjvbnm memory injected by an attacker';

let mesh: AgentMesh;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  mesh = await startAgentMesh({ name: 'nats-security' });
}, 90_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  await mesh?.stop();
});

const servers = (region: string) => mesh.supercluster.regions[region]?.urls ?? [];

async function client(region: string, options: Partial<NodeConnectionOptions>): Promise<NatsConnection> {
  const nc = await connect({
    servers: servers(region),
    timeout: REFUSAL_WAIT_MS,
    reconnect: false,
    ...options,
  });
  connections.push(nc);
  return nc;
}

/** A client holding the us-east-1 region agent's credentials, as a compromised agent pod would. */
const asUsAgent = () => client(US, mesh.security.connectOptions(mesh.security.agent(US)));
const asOperator = (region = US) => client(region, mesh.security.connectOptions(mesh.security.operator()));

/** Subscribes, and resolves with the server's refusal, or undefined when the subscription stands. */
async function subscribeRefusal(
  nc: NatsConnection,
  subject: string,
  queue?: string,
): Promise<string | undefined> {
  const sub = nc.subscribe(subject, queue ? { queue } : {});
  const closed = sub.closed.then((e) => (e instanceof Error ? e.message : 'closed without error'));
  // A refused subscription is closed by nats.js as soon as the server's -ERR arrives; a
  // flush is a round trip, after which that -ERR would have been read.
  await nc.flush();
  const outcome = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(r, 500, undefined))]);
  sub.unsubscribe();
  return outcome;
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).message;
  }
  return 'not refused';
}

/** A well-formed upsert of `tenant` on the subject of `subjectTenant` (the same unless told). */
function forgedEvent(tenant: string, id: string, subjectTenant = tenant) {
  const shard = shardOf(subjectTenant, id, 4);
  const subject = docSubject(US, shard, subjectTenant, docKeyOf(subjectTenant, id));
  const vector = encodeVector(new Float32Array(384).fill(1 / Math.sqrt(384)));
  const data = encodeEvent({
    v: EVENT_SCHEMA_VERSION,
    type: 'upsert',
    tenant,
    id,
    text: FORGED_TEXT,
    chunks: [{ start: 0, end: FORGED_TEXT.length, vector }],
    metadata: {},
    scope: {},
    model: { id: LOCAL_EMBEDDER_MODEL, dim: 384 },
    ts: Date.now(),
    source: { region: US, agent: 'attacker' },
  });
  return { subject, shard, data };
}

describe('nats security - who may connect', () => {
  it('nats security - an anonymous client is refused by every region', async () => {
    for (const region of [US, EU]) {
      const error = await rejection(client(region, { tls: { caFile: mesh.security.operator().tls.caFile } }));
      expect(error).toMatch(/authorization violation/i);
    }
  });

  it('nats security - an nkey the servers do not know is refused', async () => {
    const stranger = nkeys.createUser();
    const error = await rejection(
      client(US, {
        authenticator: nkeyAuthenticator(stranger.getSeed()),
        tls: { caFile: mesh.security.operator().tls.caFile },
      }),
    );
    expect(error).toMatch(/authorization violation/i);
  });

  it('nats security - TLS: a plaintext client and a client without the CA are refused', async () => {
    const { authenticator } = mesh.security.connectOptions(mesh.security.operator());
    expect(await rejection(client(US, { authenticator, tls: null }))).not.toBe('not refused');
    // No caFile: the client checks the servers' certificate against the system's CAs, which
    // never signed it.
    expect(await rejection(client(US, { authenticator, tls: {} }))).toMatch(
      /certificate|verify|self.signed/i,
    );
  });

  it('nats security - client, route and gateway connections all require TLS', async () => {
    const server = mesh.supercluster.regions[US]?.servers[0];
    const varz = (await (await fetch(`${server?.monitorUrl}/varz`)).json()) as {
      tls_required?: boolean;
      tls_verify?: boolean;
      cluster?: { tls_required?: boolean; tls_verify?: boolean };
      gateway?: { tls_required?: boolean; tls_verify?: boolean };
    };
    expect(varz.tls_required).toBe(true);
    expect(varz.cluster?.tls_required).toBe(true);
    expect(varz.cluster?.tls_verify).toBe(true);
    expect(varz.gateway?.tls_required).toBe(true);
    expect(varz.gateway?.tls_verify).toBe(true);
    // And the gateways are up over it: replication between regions works (multi-region suite).
    const gatewayz = (await (await fetch(`${server?.monitorUrl}/gatewayz`)).json()) as {
      outbound_gateways?: Record<string, unknown>;
    };
    expect(Object.keys(gatewayz.outbound_gateways ?? {}).sort()).toEqual([EU, 'ap-southeast-1'].sort());
  });
});

describe('nats security - a region agent role', () => {
  it('nats security - an agent cannot subscribe to all writes, all queries or the JetStream API', async () => {
    const nc = await asUsAgent();
    for (const subject of [
      '>',
      'mem.>',
      `mem.${EU}.>`,
      'q.>',
      `q.${EU}.>`,
      '$JS.API.>',
      '_INBOX.>',
      'dlq.>',
    ]) {
      expect(await subscribeRefusal(nc, subject), subject).toMatch(/permissions violation/i);
    }
    // Its own region's queries are its job; that subscription stands.
    expect(await subscribeRefusal(nc, `q.${US}.>`)).toBeUndefined();
  });

  it("nats security - an agent cannot publish on another region's write subjects", async () => {
    const nc = await asUsAgent();
    const js = jetstream(nc, { timeout: REFUSAL_WAIT_MS });
    const shard = shardOf('acme', 'forged-eu', 4);
    const subject = docSubject(EU, shard, 'acme', docKeyOf('acme', 'forged-eu'));
    const error = await rejection(js.publish(subject, forgedEvent('acme', 'forged-eu').data));
    expect(error).toMatch(/permissions violation|timeout|no responders/i);
    const jsm = await jetstreamManager(await asOperator());
    const stored = await jsm.streams
      .getMessage('MEM_EU_CENTRAL_1', { last_by_subj: subject })
      .catch(() => null);
    expect(stored).toBeNull();
  });

  it("nats security - an agent cannot create or delete streams, purge any but its own region stream (expiry), nor touch another region's", async () => {
    const jsm = await jetstreamManager(await asUsAgent(), { timeout: REFUSAL_WAIT_MS });
    const attempts: [string, Promise<unknown>][] = [
      ['create', jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] })],
      ['delete own', jsm.streams.delete('MEM_US_EAST_1')],
      ['purge dead letters', jsm.streams.purge('DLQ_US_EAST_1')],
      ['purge audit', jsm.streams.purge('AUDIT_US_EAST_1')],
      ['delete dead letters', jsm.streams.delete('DLQ_US_EAST_1')],
      ['delete other', jsm.streams.delete('MEM_EU_CENTRAL_1')],
      ['purge other', jsm.streams.purge('MEM_EU_CENTRAL_1')],
      ['update other', jsm.streams.update('MEM_EU_CENTRAL_1', { max_msgs_per_subject: 1 })],
      [
        'consume other',
        jsm.consumers.add('MEM_EU_CENTRAL_1', { durable_name: 'evil', ack_policy: 'explicit' as never }),
      ],
    ];
    for (const [what, attempt] of attempts) {
      expect(await rejection(attempt), what).toMatch(/permissions violation/i);
    }
    const operator = await jetstreamManager(await asOperator());
    for (const stream of ['MEM_US_EAST_1', 'DLQ_US_EAST_1', 'MEM_EU_CENTRAL_1']) {
      expect((await operator.streams.info(stream)).config.name).toBe(stream);
    }
    expect(await rejection(operator.streams.info('EVIL'))).toMatch(/stream not found/i);
    expect(await consumerNames(operator, 'MEM_EU_CENTRAL_1')).not.toContain('evil');
  });

  it("nats security - an agent cannot answer another region's shard queries, so no rogue reply reaches a search", async () => {
    const nc = await asUsAgent();
    for (const shard of shardNames(4)) {
      const subject = querySubject(EU, EU, shard);
      expect(await subscribeRefusal(nc, subject, subject), subject).toMatch(/permissions violation/i);
    }
    const write = await mesh.agents[EU].app.request('/v1/memories?wait=true', {
      method: 'POST',
      headers: { authorization: `Bearer ${GLOBEX}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'eu-real', text: 'Globex stores its EU invoices in Frankfurt.' }),
    });
    expect([200, 201, 202]).toContain(write.status);
    const found = await search(EU, GLOBEX, 'where are the EU invoices stored?');
    expect(found.map((r) => r.id)).toContain('eu-real');
    expect(found.map((r) => r.text)).not.toContain(FORGED_TEXT);
  });

  it('nats security - a forged event whose body names another tenant than its subject never becomes searchable', async () => {
    const nc = await asUsAgent();
    const js = jetstream(nc, { timeout: REFUSAL_WAIT_MS });
    // Subject of acme, body of globex: the agent may publish in its region, but the view
    // checks the event against its subject and dead-letters the mismatch.
    const forged = forgedEvent('globex', 'forged-mix', 'acme');
    await js.publish(forged.subject, forged.data);
    const operator = await jetstreamManager(await asOperator());
    await expectDeadLettered(operator, forged.shard);
    for (const [region, key] of [
      [US, ACME],
      [EU, GLOBEX],
    ] as const) {
      const texts = (await search(region, key, FORGED_TEXT)).map((r) => r.text);
      expect(texts, `${region} ${key}`).not.toContain(FORGED_TEXT);
    }
  });

  it('nats security - a forged shard query asking for more than the API allows is refused by the shard', async () => {
    const nc = await asUsAgent();
    const query = {
      tenant: 'acme',
      vector: encodeVector(new Float32Array(384).fill(1 / Math.sqrt(384))),
      topK: 5_000,
      waitMs: 0,
    };
    const ask = async (subject: string, body: unknown) =>
      (await nc.request(subject, JSON.stringify(body), { timeout: REFUSAL_WAIT_MS })).json<{
        error?: { code?: string; message?: string };
      }>();
    expect((await ask(tenantQuerySubject(US, US, shardName(0), 'acme'), query)).error?.code).toBe(
      'bad_request',
    );
    // A well-formed query on another tenant's subject is refused too: subject and body must agree.
    const mismatch = await ask(tenantQuerySubject(US, US, shardName(0), 'globex'), { ...query, topK: 5 });
    expect(mismatch.error?.code).toBe('bad_request');
    expect(mismatch.error?.message).toMatch(/tenant acme sent on tenant globex's subject/);
  });
});

async function search(region: string, key: string, query: string): Promise<{ id: string; text: string }[]> {
  const res = await mesh.agents[region as typeof US].app.request('/v1/search', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, topK: 50 }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: { id: string; text: string }[] }).results;
}

async function consumerNames(jsm: JetStreamManager, stream: string): Promise<string[]> {
  const names: string[] = [];
  for await (const name of jsm.consumers.list(stream)) names.push(name.name);
  return names;
}

/** Bounded: polls the dead-letter stream for the shard for up to 10 s. */
async function expectDeadLettered(jsm: JetStreamManager, shard: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = await jsm.streams.info('DLQ_US_EAST_1', { subjects_filter: `dlq.${US}.${shard}` });
    if ((info.state.subjects?.[`dlq.${US}.${shard}`] ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error(`no dead letter on dlq.${US}.${shard} within 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('nats security - agent start-up', () => {
  const startUs = (overrides: Partial<RegionAgentConfig>) =>
    startRegionAgent(
      resolveConfig({
        region: US,
        agentId: 'start-up-probe',
        natsUrl: servers(US).join(','),
        port: 0,
        ...natsCredentialsOf(mesh.security.agent(US)),
        ...overrides,
      }),
      silentLogger,
      { routing: mesh.routing },
    );

  it('nats security - a credentials or CA file that does not exist is a configuration error naming the variable', () => {
    expect(() => resolveConfig({ natsCredsFile: '/nonexistent/agent.nk' })).toThrow(
      /MEMMESH_NATS_CREDS|natsCredsFile/,
    );
    expect(() => resolveConfig({ natsTlsCaFile: '/nonexistent/ca.pem' })).toThrow(
      /MEMMESH_NATS_TLS_CA|natsTlsCaFile/,
    );
    expect(() => resolveConfig({ natsTlsCertFile: mesh.security.tls.certFile })).toThrow(
      /MEMMESH_NATS_TLS_KEY/,
    );
  });

  it('nats security - wrong credentials, a file that is not credentials, and a missing CA each stop the agent with a clear error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memmesh-bad-creds-'));
    try {
      const stranger = join(dir, 'stranger.nk');
      await writeFile(stranger, `${new TextDecoder().decode(nkeys.createUser().getSeed())}\n`);
      await expect(startUs({ natsCredsFile: stranger })).rejects.toThrow(
        new RegExp(`refused the credentials in ${stranger}.*authorization violation`, 'i'),
      );
      const notCreds = join(dir, 'not-creds.txt');
      await writeFile(notCreds, 'hello\n');
      await expect(startUs({ natsCredsFile: notCreds })).rejects.toThrow(/holds neither a user JWT/);
      const { natsTlsCaFile: _ca, ...withoutCa } = natsCredentialsOf(mesh.security.agent(US));
      await expect(
        startRegionAgent(
          resolveConfig({
            region: US,
            agentId: 'no-ca',
            natsUrl: servers(US).join(','),
            port: 0,
            ...withoutCa,
          }),
          silentLogger,
          { routing: mesh.routing },
        ),
      ).rejects.toThrow(/TLS with NATS .* failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
