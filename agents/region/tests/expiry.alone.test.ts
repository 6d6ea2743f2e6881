/**
 * Expiry (issue 12, item 2), against a real, locked-down nats-server (the agent purges with
 * its own role's rights) with the embedded index, and with Milvus Lite: memories written with
 * a TTL are gone from GET, search and list from their instant on, then from the stream (their
 * history included) and from the views and snapshot files within the sweep; memories without
 * a TTL are untouched; a tenant's default TTL per scope kind applies; bad TTLs are 400.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { docKeyOf, docSubject, shardOf, sleep } from '@memmesh/core';
import { eventually, type MilvusLite, startMilvusLite } from '@memmesh/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distinctiveSentence, type Harness, startHarness } from './harness.ts';

const REGION = 'us-east-1';
const STREAM = 'MEM_US_EAST_1';
const SHARDS = 4;
/**
 * The sweep runs every second and removes up to 1,000 memories per shard a round (the
 * defaults): about a second for the embedded index. With Milvus each removal is a few round
 * trips, which a loaded machine (the whole suite, two files at a time) makes slow.
 */
const SWEEP_WAIT_MS = { embedded: 15_000, milvus: 90_000 } as const;

const subjectOf = (tenant: string, id: string) =>
  docSubject(REGION, shardOf(tenant, id, SHARDS), tenant, docKeyOf(tenant, id));

/** Every file under `dir`, read as text. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(await readFile(join(entry.parentPath, entry.name), 'latin1'));
  }
  return out;
}

describe.each([
  { backend: 'embedded', count: 1_000 },
  { backend: 'milvus', count: 200 },
] as const)('expiry - $backend', ({ backend, count }) => {
  let milvus: MilvusLite | undefined;
  let h: Harness;
  let nc: NatsConnection;

  beforeAll(async () => {
    milvus = backend === 'milvus' ? await startMilvusLite() : undefined;
    h = await startHarness({
      shardCount: SHARDS,
      routingCacheTtlMs: 0,
      ...(milvus ? { index: 'milvus' as const, milvusAddress: milvus.address } : {}),
    });
    nc = await connect({ servers: h.nats.url, ...h.security.connectOptions(h.security.operator()) });
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await h?.stop();
    await milvus?.stop();
  });

  const streamSubjects = async (): Promise<Record<string, number>> => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(STREAM, { subjects_filter: '>' });
    return info.state.subjects ?? {};
  };

  it(`expiry - ${count} memories with ttlSeconds 2 are gone from GET, search and list after 3 s, then from the stream and the views; memories without a TTL are untouched`, {
    timeout: 300_000,
  }, async () => {
    const ids = Array.from({ length: count }, (_, i) => `ttl-${i}`);
    const keepIds = Array.from({ length: 20 }, (_, i) => `keep-${i}`);
    // One of them has an older version without a TTL: its history must not come back.
    expect(
      (await h.call('POST', '/v1/memories?wait=true', { id: 'ttl-0', text: 'The first draft.' })).status,
    ).toBe(202);
    const started = Date.now();
    for (let i = 0; i < count; i += 100) {
      const memories = ids.slice(i, i + 100).map((id, k) => ({
        id,
        text: distinctiveSentence(i + k),
        metadata: { batch: i / 100 },
        ttlSeconds: 2,
      }));
      const res = await h.call('POST', '/v1/memories/batch?wait=true', { memories });
      expect(res.status).toBe(202);
      expect(res.body.results.every((r: { version?: number }) => typeof r.version === 'number')).toBe(true);
    }
    const written = Date.now();
    const keep = keepIds.map((id, i) => ({ id, text: distinctiveSentence(50_000 + i) }));
    expect((await h.call('POST', '/v1/memories/batch?wait=true', { memories: keep })).status).toBe(202);
    // Written well inside their two seconds (else the test could not tell anything apart).
    expect(written - started).toBeLessThan(2_000 + (backend === 'milvus' ? 60_000 : 10_000));
    const early = await h.call('GET', '/v1/memories/ttl-1');
    if (Date.now() - started < 1_500) {
      expect(early.status).toBe(200);
      expect(Date.parse(early.body.expiresAt)).toBeGreaterThan(started);
    }

    await sleep(Math.max(0, written + 3_000 - Date.now()));
    // GET: every one of them is 404, at once, though no sweep may have run yet.
    for (const id of ids) {
      const res = await h.call('GET', `/v1/memories/${id}`);
      expect(res.status, id).toBe(404);
    }
    for (const i of [0, 1, 7, Math.floor(count / 2), count - 1]) {
      const res = await h.call('POST', '/v1/search', { query: distinctiveSentence(i), topK: 20 });
      expect(res.status).toBe(200);
      const found = res.body.results.map((r: { id: string }) => r.id);
      expect(found.filter((id: string) => id.startsWith('ttl-'))).toEqual([]);
      // Expired memories take no place: the topK is filled with the live ones.
      expect(found).toHaveLength(20);
    }
    const listed = await h.call('GET', '/v1/memories?limit=100');
    expect(listed.body.memories.map((m: { id: string }) => m.id).sort()).toEqual([...keepIds].sort());

    // The stream: no message is left on their subjects (ttl-0's older version included).
    const expiredSubjects = new Set(ids.map((id) => subjectOf('acme', id)));
    const left = await eventually(
      'the sweeper to purge the expired subjects',
      async () => {
        const subjects = await streamSubjects();
        const remaining = Object.keys(subjects).filter((s) => expiredSubjects.has(s));
        return remaining.length === 0 ? subjects : undefined;
      },
      { timeoutMs: SWEEP_WAIT_MS[backend], stepMs: 250 },
    );
    for (const id of keepIds) expect(left[subjectOf('acme', id)], id).toBe(1);
    expect((await h.call('GET', '/v1/memories/ttl-0/history')).status).toBe(404);
    // The views: only the memories without a TTL are left.
    await eventually(
      'the views to drop the expired memories',
      async () => {
        const docs = h.agent.region.status('acme').shards.reduce((n, s) => n + s.docs, 0);
        return docs === keepIds.length ? true : undefined;
      },
      { timeoutMs: SWEEP_WAIT_MS[backend], stepMs: 250 },
    );
    for (const id of keepIds) expect((await h.call('GET', `/v1/memories/${id}`)).status).toBe(200);
    if (backend === 'embedded') {
      // And the snapshot files: the next snapshot holds none of the expired texts.
      const texts = [0, 1, Math.floor(count / 2), count - 1].map((i) => distinctiveSentence(i));
      await eventually(
        'a snapshot without the expired texts',
        async () => {
          const files = (await filesUnder(h.dataDir)).join('\n');
          return texts.every((t) => !files.includes(t)) && files.includes(keep[0]!.text) ? true : undefined;
        },
        { timeoutMs: SWEEP_WAIT_MS[backend], stepMs: 250 },
      );
    }
    // Written again, the same text and TTL: a new memory, not a "duplicate" of the purged one.
    const again = await h.call('POST', '/v1/memories?wait=true', {
      id: 'ttl-1',
      text: distinctiveSentence(1),
      metadata: { batch: 0 },
      ttlSeconds: 2,
    });
    expect(again.status).toBe(202);
    expect((await h.call('GET', '/v1/memories/ttl-1')).status).toBe(200);
  });

  it('expiry - the tenant policy default applies per scope kind; an explicit expiry wins', {
    timeout: 60_000,
  }, async () => {
    const { version: _v, updatedAtMs: _u, ...policy } = (await h.agent.routing.getTenant('acme'))!;
    await h.agent.routing.putTenant({ ...policy, ttl: { sessionSeconds: 1, agentSeconds: 3_600 } });
    try {
      const write = (id: string, extra: object) =>
        h.call('POST', '/v1/memories?wait=true', { id, text: `Policy default case ${id}.`, ...extra });
      const expiryOf = async (id: string) => (await h.call('GET', `/v1/memories/${id}`)).body.expiresAt;
      const before = Date.now();
      expect((await write('pd-session', { scope: { sessionId: 's1', agentId: 'a1' } })).status).toBe(202);
      // Read within its second: the writes below take longer than that on a loaded machine.
      const session = Date.parse(await expiryOf('pd-session'));
      expect(session).toBeGreaterThanOrEqual(before + 1_000);
      expect(session).toBeLessThan(Date.now() + 1_000);
      expect((await write('pd-explicit', { scope: { sessionId: 's1' }, ttlSeconds: 3_600 })).status).toBe(
        202,
      );
      expect((await write('pd-agent', { scope: { agentId: 'a1' } })).status).toBe(202);
      expect((await write('pd-user', { scope: { userId: 'u1' } })).status).toBe(202);
      expect(Date.parse(await expiryOf('pd-explicit'))).toBeGreaterThan(before + 3_000_000);
      expect(Date.parse(await expiryOf('pd-agent'))).toBeGreaterThan(before + 3_000_000);
      expect(await expiryOf('pd-user')).toBeUndefined();
      await sleep(Math.max(0, session + 100 - Date.now()));
      expect((await h.call('GET', '/v1/memories/pd-session')).status).toBe(404);
      for (const id of ['pd-explicit', 'pd-agent', 'pd-user']) {
        expect((await h.call('GET', `/v1/memories/${id}`)).status, id).toBe(200);
      }
      const hits = await h.call('POST', '/v1/search', { query: 'Policy default case', topK: 10 });
      expect(hits.body.results.map((r: { id: string }) => r.id)).not.toContain('pd-session');
    } finally {
      await h.agent.routing.putTenant(policy);
    }
  });

  it('expiry - bad TTLs are 400 with a clear message, single and batch, never 500', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const tooFar = new Date(Date.now() + 11 * 365 * 24 * 3_600_000).toISOString();
    const bad: [object, RegExp][] = [
      [{ ttlSeconds: -1 }, /ttlSeconds must be at least 1/],
      [{ ttlSeconds: 0 }, /ttlSeconds must be at least 1/],
      [{ ttlSeconds: 1.5 }, /whole number/],
      [{ ttlSeconds: '60' }, /ttlSeconds/],
      [{ ttlSeconds: 10 * 365 * 24 * 3_600 + 1 }, /at most/],
      [{ ttlSeconds: 1e300 }, /ttlSeconds/],
      [{ ttlSeconds: 60, expiresAt: tooFar }, /not both/],
      [{ expiresAt: past }, /not in the future/],
      [{ expiresAt: tooFar }, /ten years/],
      [{ expiresAt: 'tomorrow' }, /ISO 8601/],
      [{ expiresAt: '2030-01-01' }, /ISO 8601/],
      [{ expiresAt: 1_900_000_000_000 }, /expiresAt/],
    ];
    for (const [extra, message] of bad) {
      const one = await h.call('POST', '/v1/memories', { text: 'A memory with a bad expiry.', ...extra });
      expect(one.status, JSON.stringify(extra)).toBe(400);
      expect(JSON.stringify(one.body.error), JSON.stringify(extra)).toMatch(message);
      const batch = await h.call('POST', '/v1/memories/batch', {
        memories: [{ text: 'A fine one.' }, { text: 'A memory with a bad expiry.', ...extra }],
      });
      expect(batch.status, JSON.stringify(extra)).toBe(400);
      expect(JSON.stringify(batch.body.error), JSON.stringify(extra)).toMatch(message);
    }
    const farWithOffset = await h.call('POST', '/v1/memories', {
      text: 'Expires at an instant.',
      expiresAt: '2099-01-01T00:00:00+02:00',
    });
    expect(farWithOffset.status).toBe(400);
    const soon = new Date(Date.now() + 3_600_000).toISOString().replace('Z', '+00:00');
    const ok = await h.call('POST', '/v1/memories?wait=true', {
      id: 'at-ok',
      text: 'In an hour.',
      expiresAt: soon,
    });
    expect(ok.status).toBe(202);
    expect((await h.call('GET', '/v1/memories/at-ok')).body.expiresAt).toBe(
      new Date(Date.parse(soon)).toISOString(),
    );
  });
});
