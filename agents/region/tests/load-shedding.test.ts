/**
 * Load shedding and hot detection on a real agent (real nats-server, locked down): one tenant
 * sends many uncached searches at once, more than it may have in flight on the agent. The
 * excess is answered 503 with a Retry-After at once (never a 500, never a timeout that piles
 * up); the other tenant's searches, sent meanwhile, are all answered; a client that allows a
 * stale answer gets the last answer to its search instead, marked stale with its age; the
 * operator's load view and the metrics name the hot tenant and count the shed searches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME, distinctiveSentence, GLOBEX, type Harness, startHarness } from './harness.ts';

const ADMIN_KEY = 'load-test-admin-key-0001';
const IN_FLIGHT_MAX = 4;
/** Sent at once by the hot tenant: bounded, and many times its in-flight bound. */
const BURST = 40;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    adminKey: ADMIN_KEY,
    tenantSearchesInFlightMax: IN_FLIGHT_MAX,
    hotTenantQueriesPerSecond: 1,
  });
  for (let i = 0; i < 8; i++) {
    const r = await h.call('POST', '/v1/memories?wait=true', {
      id: `load-${i}`,
      text: distinctiveSentence(i),
    });
    expect(r.status).toBe(202);
  }
  const g = await h.call(
    'POST',
    '/v1/memories?wait=true',
    { id: 'g-0', text: distinctiveSentence(99) },
    GLOBEX,
  );
  expect(g.status).toBe(202);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

async function search(body: unknown, key = ACME, headers: Record<string, string> = {}) {
  const res = await h.agent.app.request('/v1/search', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

describe('load shedding', () => {
  it('shedding - a tenant’s burst beyond its searches in flight is shed with 503 + Retry-After, and another tenant is answered meanwhile', async () => {
    const burst = Array.from({ length: BURST }, (_, i) =>
      search({ query: `burst ${i} ${distinctiveSentence(i)}` }),
    );
    const quiet = Array.from({ length: 3 }, (_, i) =>
      search({ query: `quiet ${i} ${distinctiveSentence(99)}` }, GLOBEX),
    );
    const answers = await Promise.all(burst);
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(IN_FLIGHT_MAX);
    const shed = answers.filter((a) => a.status === 503);
    expect(shed.length).toBeGreaterThan(0);
    for (const a of shed) {
      expect(a.body.error.code).toBe('unavailable');
      expect(a.body.error.message).toMatch(/searches in flight/);
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    for (const q of await Promise.all(quiet)) {
      expect(q.status).toBe(200);
      expect(q.body.results[0].id).toBe('g-0');
    }
  });

  it('shedding - a shed search that allows max-stale gets the last answer, marked stale with its age; without it, 503', async () => {
    const query = { query: distinctiveSentence(3), topK: 3 };
    const first = await search(query);
    expect(first.status).toBe(200);
    expect(first.body.results[0].id).toBe('load-3');
    expect(first.body.staleSeconds).toBeUndefined();
    // A write replaces the tenant's token: the cached answer no longer answers the search.
    expect(
      (await h.call('POST', '/v1/memories?wait=true', { id: 'load-new', text: 'a newer memory' })).status,
    ).toBe(202);

    const others = Array.from({ length: IN_FLIGHT_MAX }, (_, i) =>
      search({ query: `hold ${i} ${distinctiveSentence(i + 50)}` }),
    );
    const allowed = search(query, ACME, { 'cache-control': 'max-stale=600' });
    const bodyAllowed = search({ ...query, maxStaleSeconds: 600 });
    const refused = search(query);
    const unknown = search({ query: 'never searched before', maxStaleSeconds: 600 });
    await Promise.all(others);
    const [a, b, r, u] = await Promise.all([allowed, bodyAllowed, refused, unknown]);
    for (const stale of [a, b]) {
      expect(stale.status).toBe(200);
      expect(stale.headers.get('x-memmesh-stale')).toBe('true');
      expect(Number(stale.headers.get('age'))).toBeGreaterThanOrEqual(0);
      expect(stale.body.staleSeconds).toBe(Number(stale.headers.get('age')));
      expect(stale.body.results.map((x: { id: string }) => x.id)).toEqual(
        first.body.results.map((x: { id: string }) => x.id),
      );
    }
    expect(r.status).toBe(503);
    // Nothing stale to give: the 503 stands.
    expect(u.status).toBe(503);
    expect(u.headers.get('x-memmesh-stale')).toBeNull();
  });

  it('shedding - a malformed max-stale is a 400 naming it, and maxStaleSeconds is bounded', async () => {
    const bad = await search({ query: 'x' }, ACME, { 'cache-control': 'max-stale=soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/max-stale/);
    expect((await search({ query: 'x', maxStaleSeconds: -1 })).status).toBe(400);
    expect((await search({ query: 'x', maxStaleSeconds: 86_401 })).status).toBe(400);
  });

  it('hot - the operator’s load view names the hot tenant and its shed searches; the metrics agree', async () => {
    expect((await h.call('GET', '/v1/admin/load')).status).toBe(401);
    const view = await h.call('GET', '/v1/admin/load', undefined, ADMIN_KEY);
    expect(view.status).toBe(200);
    expect(view.body.region).toBe('us-east-1');
    expect(view.body.shards).toHaveLength(4);
    const acme = view.body.tenants.find((t: { tenant: string }) => t.tenant === 'acme');
    expect(acme).toMatchObject({ hot: true, inFlight: 0 });
    expect(acme.shed).toBeGreaterThan(0);
    expect(acme.reasons.join(' ')).toMatch(/queries\/s/);
    expect(view.body.tenants[0].tenant).toBe('acme');
    expect((await h.call('GET', '/v1/admin/load?region=eu-central-1', undefined, ADMIN_KEY)).status).toBe(
      421,
    );

    const metrics = await (await h.agent.app.request('/metrics')).text();
    expect(metrics).toMatch(/memmesh_hot\{[^}]*kind="tenant"[^}]*id="acme"[^}]*\} 1/);
    expect(metrics).toMatch(/memmesh_searches_shed_total\{[^}]*reason="tenant"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/memmesh_stale_answers_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/memmesh_shard_query_duration_seconds_count\{[^}]*shard="s00"[^}]*\} [1-9]/);
  });
});
