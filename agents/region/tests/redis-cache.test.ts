/**
 * A region agent on the Redis cache: searches are served (and cached) through Redis, and
 * when Redis dies during a query loop no query fails; the cache comes back by itself.
 * Two replicas of a region share cached results through the tenant tokens kept in Redis,
 * and a write applied by a replica makes the shared entries unreachable.
 */
import { createRedisCache, resultCacheKey } from '@memmesh/cache';
import { silentLogger } from '@memmesh/telemetry';
import { eventually, type RedisServer, startRedisServer } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegionAgent, resolveConfig, startRegionAgent } from '../src/index.ts';
import { ACME, type Harness, natsCredentialsOf, startHarness } from './harness.ts';

const POLL_MS = 20;
const SETTLE_ATTEMPTS_MAX = 50;
const APPLY_WAIT_MS_MAX = 10_000;

let redis: RedisServer;
let h: Harness;

beforeAll(async () => {
  redis = await startRedisServer();
  h = await startHarness({ cache: 'redis', redisUrl: redis.url });
});

afterAll(async () => {
  await h?.stop();
  await redis?.stop();
});

describe('redis cache', () => {
  it('redis cache - a redis cache without a URL is refused at start-up, not replaced by the LRU', () => {
    expect(() => resolveConfig({ cache: 'redis' })).toThrow(/redisUrl.*required when cache is redis/);
  });

  it('redis cache - killing Redis during a query loop fails no query', async () => {
    await h.call(
      'POST',
      '/v1/memories?wait=true',
      { id: 'rc-1', text: 'Redis-backed cache probe about tidal clocks.' },
      ACME,
    );
    const failures: number[] = [];
    for (let i = 0; i < 120; i++) {
      if (i === 40) await redis.kill();
      if (i === 80) await redis.restart();
      const r = await h.call('POST', '/v1/search', { query: `tidal clocks ${i % 10}`, topK: 1 });
      if (r.status !== 200 || r.body.results[0]?.id !== 'rc-1') failures.push(r.status);
    }
    expect(failures).toEqual([]);
  });
});

describe('redis cache shared by replicas', () => {
  it('redis cache - a replica serves what another replica cached, and a write applied by both hides it', async () => {
    // Two fresh replicas: the harness's agent may still be reconnecting to the Redis that the
    // previous test restarted (its client backs off up to 2 s), and would then cache nothing.
    const replicaOf = (agentId: string) =>
      startRegionAgent(
        resolveConfig({
          natsUrl: h.nats.url,
          ...natsCredentialsOf(h.security.agent('us-east-1')),
          agentId,
          port: 0,
          cache: 'redis',
          redisUrl: redis.url,
        }),
        silentLogger,
      );
    const primary = await replicaOf('us-east-1-a2');
    const replica = await replicaOf('us-east-1-a1');
    const probe = await createRedisCache({ url: redis.url });
    try {
      const search = async (agent: RegionAgent, query: string) => {
        const res = await agent.app.request('/v1/search', {
          method: 'POST',
          headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query, topK: 3 }),
        });
        expect(res.status).toBe(200);
        return (await res.json()) as { results: { id: string }[]; region: string };
      };
      /** A write and, once it is accepted, a wait until both replicas have applied it. */
      const writeToBoth = async (doc: { id: string; text: string }) => {
        const w = await h.call('POST', '/v1/memories?wait=true', doc, ACME);
        if (w.status === 202) {
          await appliedBy(replica, w.body.version);
          await appliedBy(primary, w.body.version);
        }
        return w;
      };
      const write = await writeToBoth({
        id: 'shared-1',
        text: 'Saffron lanterns guide the night ferry across the lagoon.',
      });
      expect(write.status).toBe(202);
      const query = 'saffron lanterns over the lagoon';
      // The replica, just started, replays the log and replaces acme's token as it applies;
      // its last replacement may land after a search. Search until the token holds still
      // around a search, so that what follows starts from one cached entry.
      let token: string | undefined;
      for (let attempt = 0; attempt < SETTLE_ATTEMPTS_MAX; attempt++) {
        const before = await probe.get('v:us-east-1:acme');
        const first = await search(primary, query);
        expect(first.results[0]?.id).toBe('shared-1');
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        token = await probe.get('v:us-east-1:acme');
        if (before !== undefined && token === before) break;
      }

      // The entry the first agent cached sits under a key the replica also asks for: replace
      // it with a marker and the replica answers with the marker.
      expect(token).toBeDefined();
      const key = resultCacheKey({
        tenant: 'acme',
        tenantVersion: token as string,
        query,
        topK: 3,
        filter: {},
      });
      expect(await probe.get(key)).toBeDefined();
      const marker = {
        results: [{ id: 'marker', score: 1, text: 'm', metadata: {}, scope: {}, version: 1 }],
        region: 'marker',
        tookMs: 0,
      };
      await probe.set(key, JSON.stringify(marker), 60_000);
      expect((await search(replica, query)).results[0]?.id).toBe('marker');

      // A write applied by both replicas replaces the token: neither serves the marker again.
      const update = await writeToBoth({
        id: 'shared-2',
        text: 'Saffron lanterns also light the lagoon harbour steps.',
      });
      expect(update.status).toBe(202);
      for (const agent of [primary, replica]) {
        const ids = (await search(agent, query)).results.map((r) => r.id);
        expect(ids).not.toContain('marker');
        expect(ids).toEqual(expect.arrayContaining(['shared-1', 'shared-2']));
      }
    } finally {
      await probe.close();
      await replica.close();
      await primary.close();
    }
  });
});

/** Waits (bounded) until the agent's views have applied `version` of acme. */
async function appliedBy(agent: RegionAgent, version: number): Promise<void> {
  const applied = () => agent.region.status('acme').shards.reduce((max, s) => Math.max(max, s.appliedSeq), 0);
  await eventually(`version ${version} applied`, async () => (applied() >= version ? true : undefined), {
    timeoutMs: APPLY_WAIT_MS_MAX,
    stepMs: POLL_MS,
  });
}
