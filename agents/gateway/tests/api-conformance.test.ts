/**
 * The API against its own document, schemathesis-style: a live region agent (real nats-server)
 * and a live gateway in front of it, both over HTTP. For every operation each service's
 * /openapi.json lists, requests that succeed and requests that fail (no key, bad input, too
 * large, unknown id, stale version, wrong region, region without an endpoint) are sent, and
 * every answer is held against the document: its status is one the operation declares, its
 * body validates against the declared schema, the headers the status must carry are there,
 * and no memmesh header appears that the document does not declare. Each path asked with a
 * method it lacks must answer 405 with `Allow` listing exactly the methods the document has.
 * The walk also checks that the document and the route table list the same operations.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { API, routesOf, type Service } from '@memmesh/http';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { type LockedNats, startLockedNats } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

const ACME = 'Bearer acme-dev-key';
const FARAWAY = 'Bearer faraway-dev-key';
const ADMIN_KEY = 'conformance-admin-key';
/** A key the walker revokes (by its id: the first 16 hex characters of its hash). */
const REVOKED_KEY = 'walker-revoked-key-1';
const REVOKED_KEY_ID = createHash('sha256').update(REVOKED_KEY).digest('hex').slice(0, 16);
/** Headers memmesh itself sets; any of them in an answer must be declared for that answer. */
const MEMMESH_HEADERS = ['retry-after', 'x-memmesh-region', 'allow', 'www-authenticate', 'etag'];

interface Case {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Operation {
  operationId: string;
  responses: Record<
    string,
    {
      headers?: Record<string, { required: boolean }>;
      content?: Record<string, { schema?: { $ref: string } }>;
    }
  >;
}

type Spec = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
};

let nats: LockedNats;
let agent: RegionAgent;
let gateway: Gateway;
const REINDEX_TARGET = { kind: 'local', model: 'local-hash-v1', dimensions: 64 } as const;
let reindexJob = '';
/** An erasure (of a scope nothing is in) to walk the receipt routes with. */
let erasureId = '';
const servers: Server[] = [];
const urls = {} as Record<Service, string>;

async function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<string> {
  const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  servers.push(server);
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

beforeAll(async () => {
  nats = await startLockedNats('us-east-1');
  agent = await startRegionAgent(
    resolveConfig({ region: 'us-east-1', ...nats.agent, port: 0, adminKey: ADMIN_KEY, modelFollowMs: 200 }),
    silentLogger,
  );
  // A re-index job to walk the job routes with (to a local model of another length).
  reindexJob = (await agent.region.reindex.request({ region: 'us-east-1', embedder: REINDEX_TARGET })).id;
  erasureId = (
    await agent.region.erase('acme', { sessionId: 'walker-gone' }, { kind: 'tenant_key', source: 'walker' })
  ).id;
  // A tenant with nothing stored, for the whole-tenant erasure.
  await agent.routing.putTenant({ tenant: 'erasable', home: 'us-east-1' });
  // A tenant at home in a region that has no agent here: 421 from the agent, 503 from the gateway.
  await agent.routing.putRegion({
    id: 'eu-central-1',
    location: { latitude: 50, longitude: 8 },
    residency: 'eu',
    nats: { cluster: 'eu-central-1', servers: 1 },
    shardCount: 4,
    streamReplicas: 1,
    backends: { index: 'embedded', cache: 'lru', embedder: 'local' },
  });
  await agent.routing.putTenant({ tenant: 'faraway', home: 'eu-central-1' });
  await agent.routing.putApiKey('faraway-dev-key', 'faraway');
  await agent.routing.putApiKey(REVOKED_KEY, 'faraway');
  urls.agent = await listen(agent.app.fetch);
  const config = resolveGatewayConfig({ endpoints: { 'us-east-1': urls.agent }, adminKey: ADMIN_KEY });
  gateway = await startGateway(config, silentLogger, agent.routing);
  urls.gateway = await listen(gateway.app.fetch);
}, 60_000);

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await gateway?.close();
  await agent?.close();
  await nats?.stop();
});

const json = (value: unknown) => JSON.stringify(value);
const auth = (key: string, extra: Record<string, string> = {}) => ({
  authorization: key,
  'content-type': 'application/json',
  ...extra,
});
const admin = (extra: Record<string, string> = {}) => auth(`Bearer ${ADMIN_KEY}`, extra);

/** Requests for each operation: the ones that should work, and the ways they can fail. */
function casesOf(operationId: string, service: Service): Case[] {
  const memory = { id: 'conf/doc-1', text: 'Conformance walker note: the tide tables live in drawer nine.' };
  const big = 'x'.repeat(
    (API.routes as Record<string, { bodyBytesMax?: number }>)[operationId]?.bodyBytesMax ?? 0,
  );
  const cases: Record<string, Case[]> = {
    writeMemory: [
      { method: 'POST', path: '/v1/memories?wait=true', headers: auth(ACME), body: json(memory) },
      {
        method: 'POST',
        path: '/v1/memories',
        headers: auth(ACME),
        body: json({ ...memory, ifVersion: 999 }),
      },
      { method: 'POST', path: '/v1/memories', headers: auth(ACME), body: '{not json' },
      { method: 'POST', path: '/v1/memories?wait=maybe', headers: auth(ACME), body: json(memory) },
      { method: 'POST', path: '/v1/memories', headers: auth(ACME), body: json({ text: big }) },
      { method: 'POST', path: '/v1/memories', headers: auth(''), body: json(memory) },
      { method: 'POST', path: '/v1/memories', headers: auth(FARAWAY), body: json(memory) },
    ],
    writeBatch: [
      { method: 'POST', path: '/v1/memories/batch', headers: auth(ACME), body: json({ memories: [memory] }) },
      { method: 'POST', path: '/v1/memories/batch', headers: auth(ACME), body: json({ memories: [] }) },
      {
        method: 'POST',
        path: '/v1/memories/batch',
        headers: auth(ACME),
        body: json({ memories: [{ text: big }] }),
      },
      { method: 'POST', path: '/v1/memories/batch', headers: auth('Bearer unknown-key-1') },
    ],
    getMemory: [
      { method: 'GET', path: '/v1/memories/conf%2Fdoc-1', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories/nope-404', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories/%E0%A4%A', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories/conf%2Fdoc-1', headers: auth('') },
      { method: 'GET', path: '/v1/memories/conf%2Fdoc-1', headers: auth(FARAWAY) },
    ],
    listMemories: [
      { method: 'GET', path: '/v1/memories?limit=2', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories?userId=u1&metadata.kind=note&limit=5', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories?limit=101', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories?cursor=garbled', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories?userid=typo', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories', headers: auth('') },
    ],
    memoryHistory: [
      { method: 'GET', path: '/v1/memories/conf%2Fdoc-1/history', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories/nope-404/history', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories/%E0%A4%A/history', headers: auth(ACME) },
      { method: 'GET', path: '/v1/memories/conf%2Fdoc-1/history', headers: auth('') },
    ],
    deleteMemory: [
      { method: 'DELETE', path: '/v1/memories/conf%2Fdoc-1?ifVersion=999', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/memories/conf%2Fdoc-1?ifVersion=x', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/memories/nope-404', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/memories/conf%2Fdoc-1', headers: auth('') },
    ],
    search: [
      {
        method: 'POST',
        path: '/v1/search',
        headers: auth(ACME),
        body: json({ query: 'tide tables', topK: 3 }),
      },
      { method: 'POST', path: '/v1/search', headers: auth(ACME), body: json({ query: 'x', topK: 0 }) },
      { method: 'POST', path: '/v1/search', headers: auth(ACME), body: json({ query: big }) },
      { method: 'POST', path: '/v1/search', headers: auth(FARAWAY), body: json({ query: 'x' }) },
    ],
    stats: [
      { method: 'GET', path: '/v1/stats', headers: auth(ACME) },
      { method: 'GET', path: '/v1/stats', headers: auth('') },
    ],
    listRegions: [
      { method: 'GET', path: '/v1/regions', headers: auth(ACME) },
      { method: 'GET', path: '/v1/regions', headers: auth('') },
    ],
    getTenantPolicy: [
      { method: 'GET', path: '/v1/admin/tenants/acme', headers: admin() },
      { method: 'GET', path: '/v1/admin/tenants/nobody', headers: admin() },
      { method: 'GET', path: '/v1/admin/tenants/Bad!', headers: admin() },
      { method: 'GET', path: '/v1/admin/tenants/acme', headers: auth(ACME) },
    ],
    putTenantPolicy: [
      {
        method: 'PUT',
        path: '/v1/admin/tenants/walker',
        headers: admin({ 'if-match': '0' }),
        body: json({ home: 'us-east-1', replicas: [] }),
      },
      {
        method: 'PUT',
        path: '/v1/admin/tenants/walker',
        headers: admin({ 'if-match': '0' }),
        body: json({ home: 'us-east-1', replicas: [] }),
      },
      {
        method: 'PUT',
        path: '/v1/admin/tenants/walker',
        headers: admin(),
        body: json({ home: 'us-east-1', replicas: [] }),
      },
      // The whole policy is required: replicas left out would drop every replica.
      {
        method: 'PUT',
        path: '/v1/admin/tenants/walker',
        headers: admin({ 'if-match': '1' }),
        body: json({ home: 'us-east-1' }),
      },
      {
        method: 'PUT',
        path: '/v1/admin/tenants/walker',
        headers: admin({ 'if-match': '1' }),
        body: json({ big }),
      },
    ],
    createApiKey: [
      // acme holds one seeded key: the first create is its second active key, the next is refused.
      {
        method: 'POST',
        path: '/v1/admin/tenants/acme/keys',
        headers: admin(),
        body: json({ scopes: ['read'] }),
      },
      {
        method: 'POST',
        path: '/v1/admin/tenants/acme/keys',
        headers: admin(),
        body: json({ scopes: ['read'] }),
      },
      {
        method: 'POST',
        path: '/v1/admin/tenants/acme/keys',
        headers: admin(),
        body: json({ scopes: ['root'] }),
      },
      {
        method: 'POST',
        path: '/v1/admin/tenants/nobody/keys',
        headers: admin(),
        body: json({ scopes: ['read'] }),
      },
      {
        method: 'POST',
        path: '/v1/admin/tenants/acme/keys',
        headers: auth(ACME),
        body: json({ scopes: ['read'] }),
      },
      {
        method: 'POST',
        path: '/v1/admin/tenants/acme/keys',
        headers: auth(''),
        body: json({ scopes: ['read'] }),
      },
      { method: 'POST', path: '/v1/admin/tenants/acme/keys', headers: admin(), body: json({ big }) },
    ],
    listApiKeys: [
      { method: 'GET', path: '/v1/admin/tenants/acme/keys', headers: admin() },
      { method: 'GET', path: '/v1/admin/tenants/nobody/keys', headers: admin() },
      { method: 'GET', path: '/v1/admin/tenants/Bad!/keys', headers: admin() },
      { method: 'GET', path: '/v1/admin/tenants/acme/keys', headers: auth(ACME) },
    ],
    revokeApiKey: [
      { method: 'DELETE', path: `/v1/admin/tenants/faraway/keys/${REVOKED_KEY_ID}`, headers: admin() },
      { method: 'DELETE', path: `/v1/admin/tenants/faraway/keys/${REVOKED_KEY_ID}`, headers: admin() },
      { method: 'DELETE', path: '/v1/admin/tenants/faraway/keys/not-an-id', headers: admin() },
      { method: 'DELETE', path: `/v1/admin/tenants/acme/keys/${REVOKED_KEY_ID}`, headers: auth(ACME) },
    ],
    requestReindex: [
      {
        method: 'POST',
        path: '/v1/admin/reindex',
        headers: admin(),
        body: json({ region: 'us-east-1', embedder: REINDEX_TARGET }),
      },
      {
        method: 'POST',
        path: '/v1/admin/reindex',
        headers: admin(),
        body: json({ region: 'us-east-1', embedder: { ...REINDEX_TARGET, dimensions: 32 } }),
      },
      {
        method: 'POST',
        path: '/v1/admin/reindex',
        headers: admin(),
        body: json({
          region: 'us-east-1',
          embedder: { kind: 'minilm', model: 'all-minilm-l6-v2', dimensions: 384 },
        }),
      },
      {
        method: 'POST',
        path: '/v1/admin/reindex',
        headers: admin(),
        body: json({ region: 'eu-central-1', embedder: REINDEX_TARGET }),
      },
      { method: 'POST', path: '/v1/admin/reindex', headers: admin(), body: json({ region: 'us-east-1' }) },
      {
        method: 'POST',
        path: '/v1/admin/reindex',
        headers: auth(ACME),
        body: json({ region: 'us-east-1', embedder: REINDEX_TARGET }),
      },
      { method: 'POST', path: '/v1/admin/reindex', headers: admin(), body: json({ big }) },
    ],
    getReindex: [
      { method: 'GET', path: `/v1/admin/reindex/${reindexJob}`, headers: admin() },
      { method: 'GET', path: '/v1/admin/reindex/rx-us-east-1-000000000000', headers: admin() },
      { method: 'GET', path: '/v1/admin/reindex/not-a-job', headers: admin() },
      { method: 'GET', path: `/v1/admin/reindex/${reindexJob}`, headers: auth(ACME) },
    ],
    abortReindex: [
      { method: 'POST', path: `/v1/admin/reindex/${reindexJob}/abort`, headers: admin() },
      { method: 'POST', path: '/v1/admin/reindex/rx-us-east-1-000000000000/abort', headers: admin() },
      { method: 'POST', path: `/v1/admin/reindex/${reindexJob}/abort`, headers: auth('') },
    ],
    rollbackReindex: [
      { method: 'POST', path: `/v1/admin/reindex/${reindexJob}/rollback`, headers: admin() },
      { method: 'POST', path: `/v1/admin/reindex/${reindexJob}/rollback`, headers: admin() },
      { method: 'POST', path: '/v1/admin/reindex/rx-us-east-1-000000000000/rollback', headers: admin() },
    ],
    getLoad: [
      { method: 'GET', path: '/v1/admin/load?region=us-east-1', headers: admin() },
      { method: 'GET', path: '/v1/admin/load?region=us-east-1', headers: auth(ACME) },
      { method: 'GET', path: '/v1/admin/load?region=eu-central-1', headers: admin() },
    ],
    eraseMemories: [
      { method: 'DELETE', path: '/v1/memories?sessionId=walker-gone', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/memories', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/memories?userId=u&colour=red', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/memories?userId=other', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/memories?sessionId=walker-gone', headers: auth('') },
      { method: 'DELETE', path: '/v1/memories?sessionId=walker-gone', headers: auth(FARAWAY) },
    ],
    getErasure: [
      { method: 'GET', path: `/v1/erasures/${erasureId}`, headers: auth(ACME) },
      { method: 'GET', path: '/v1/erasures/er-us-east-1-000000000000', headers: auth(ACME) },
      { method: 'GET', path: '/v1/erasures/not-an-erasure', headers: auth(ACME) },
      { method: 'GET', path: `/v1/erasures/${erasureId}`, headers: auth('') },
    ],
    eraseTenant: [
      { method: 'DELETE', path: '/v1/admin/tenants/erasable/memories', headers: admin() },
      { method: 'DELETE', path: '/v1/admin/tenants/acme/memories', headers: auth(ACME) },
      { method: 'DELETE', path: '/v1/admin/tenants/Bad!/memories', headers: admin() },
      { method: 'DELETE', path: '/v1/admin/tenants/faraway/memories', headers: admin() },
      { method: 'DELETE', path: '/v1/admin/tenants/erasable/memories', headers: auth('') },
    ],
    getErasureAdmin: [
      { method: 'GET', path: `/v1/admin/erasures/${erasureId}`, headers: admin() },
      { method: 'GET', path: '/v1/admin/erasures/er-us-east-1-000000000000', headers: admin() },
      { method: 'GET', path: '/v1/admin/erasures/nope', headers: admin() },
      { method: 'GET', path: `/v1/admin/erasures/${erasureId}`, headers: auth(ACME) },
    ],
    health: [{ method: 'GET', path: '/healthz' }],
    ready: [{ method: 'GET', path: '/readyz' }],
    metrics: [{ method: 'GET', path: '/metrics' }],
    openapi: [{ method: 'GET', path: '/openapi.json' }],
  };
  const list = cases[operationId];
  if (!list) throw new Error(`no cases for ${service} operation ${operationId}: add them to the walker`);
  return list;
}

function validatorFor(spec: Spec) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  return (ref: string, body: unknown) => {
    const name = ref.replace('#/components/schemas/', '');
    const schema = spec.components.schemas[name];
    if (!schema) return [`schema ${name} is not in the document`];
    if (!ajv.getSchema(name)) ajv.addSchema(schema, name);
    const validate = ajv.getSchema(name);
    if (!validate?.(body)) return (validate?.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    return [];
  };
}

/** What is wrong with `res` as an answer of `operation`, per the document; empty when nothing. */
async function mismatches(operation: Operation, res: Response, validate: ReturnType<typeof validatorFor>) {
  const declared = operation.responses[String(res.status)];
  const text = await res.text();
  if (!declared) return [`status ${res.status} is not declared (body ${text.slice(0, 200)})`];
  const problems: string[] = [];
  const headers = declared.headers ?? {};
  const names = Object.keys(headers).map((h) => h.toLowerCase());
  for (const [name, header] of Object.entries(headers)) {
    if (header.required && !res.headers.has(name)) problems.push(`missing required header ${name}`);
  }
  for (const name of MEMMESH_HEADERS) {
    if (res.headers.has(name) && !names.includes(name)) problems.push(`undeclared header ${name}`);
  }
  const [contentType, media] = Object.entries(declared.content ?? {})[0] ?? [];
  if (contentType && !(res.headers.get('content-type') ?? '').startsWith(contentType)) {
    problems.push(`content-type ${res.headers.get('content-type')}, declared ${contentType}`);
  }
  if (media?.schema?.$ref) problems.push(...validate(media.schema.$ref, JSON.parse(text)));
  return problems;
}

describe.each(['agent', 'gateway'] as const)('api conformance - %s', (service) => {
  let spec: Spec;

  beforeAll(async () => {
    spec = (await (await fetch(`${urls[service]}/openapi.json`)).json()) as Spec;
  });

  it('api conformance - the document lists exactly the operations of the route table', () => {
    const documented = Object.values(spec.paths).flatMap((ops) =>
      Object.values(ops).map((op) => op.operationId),
    );
    const table = routesOf(API, service).map(([id]) => id);
    expect(documented.sort()).toEqual(table.sort());
  });

  it('api conformance - every answer of every operation matches the document', async () => {
    const validate = validatorFor(spec);
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(ops)) {
        for (const c of casesOf(operation.operationId, service)) {
          expect(c.method.toLowerCase(), `${operation.operationId} case`).toBe(method);
          const res = await fetch(`${urls[service]}${c.path}`, {
            method: c.method,
            headers: c.headers ?? {},
            ...(c.body === undefined ? {} : { body: c.body }),
            signal: AbortSignal.timeout(15_000),
          });
          seen.add(`${operation.operationId} ${res.status}`);
          for (const p of await mismatches(operation, res, validate)) {
            problems.push(`${c.method} ${c.path} (${path}) → ${res.status}: ${p}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    // The walk reached the failures it was built for, not only the happy paths.
    for (const expected of ['writeMemory 202', 'writeMemory 400', 'writeMemory 401', 'writeMemory 409']) {
      expect(seen).toContain(expected);
    }
    for (const expected of [
      'writeMemory 413',
      'getMemory 200',
      'getMemory 404',
      'memoryHistory 200',
      'memoryHistory 404',
      'listMemories 200',
      'listMemories 400',
      'search 200',
      'ready 200',
    ]) {
      expect(seen).toContain(expected);
    }
    expect(seen).toContain(service === 'agent' ? 'writeMemory 421' : 'writeMemory 503');
    for (const expected of [
      'eraseMemories 202',
      'eraseMemories 400',
      'eraseMemories 401',
      'getErasure 200',
      'getErasure 404',
      'getErasure 400',
      'eraseTenant 202',
      'eraseTenant 403',
      'eraseTenant 400',
      'getErasureAdmin 200',
      'getErasureAdmin 404',
      'getErasureAdmin 401',
    ]) {
      expect(seen).toContain(expected);
    }
    if (service === 'gateway') {
      for (const expected of ['putTenantPolicy 200', 'putTenantPolicy 409', 'getTenantPolicy 401']) {
        expect(seen).toContain(expected);
      }
      for (const expected of [
        'createApiKey 201',
        'createApiKey 409',
        'createApiKey 403',
        'revokeApiKey 204',
      ]) {
        expect(seen).toContain(expected);
      }
      for (const expected of ['revokeApiKey 404', 'listApiKeys 200', 'listApiKeys 403', 'createApiKey 401']) {
        expect(seen).toContain(expected);
      }
    }
  });

  it('api conformance - a known path asked with a method it lacks is 405 with Allow', async () => {
    for (const [path, ops] of Object.entries(spec.paths)) {
      const concrete = path.replace('{id}', 'conf%2Fdoc-1').replace('{tenant}', 'acme');
      const res = await fetch(`${urls[service]}${concrete}`, { method: 'PATCH', headers: auth(ACME) });
      expect(res.status, `PATCH ${path}`).toBe(405);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('method_not_allowed');
      const declared = Object.keys(ops).map((m) => m.toUpperCase());
      const allow = (res.headers.get('allow') ?? '').split(', ').filter((m) => m !== 'HEAD');
      // `/v1/memories/batch` and `/v1/memories/{id}/history` are also instances of
      // `/v1/memories/{id}` (ids may hold `/`), whose methods they have too.
      expect(allow, `Allow of ${path}`).toEqual(expect.arrayContaining(declared));
      const alsoMemoryPaths = ['/v1/memories/batch', '/v1/memories/{id}/history'];
      if (!alsoMemoryPaths.includes(path)) expect(allow.sort()).toEqual(declared.sort());
    }
  });
});
