/**
 * Erasure with the production backends of one region: the views on Milvus (their rows go
 * with the tombstones; the verification asks each view for every erased document) and the
 * cache on Redis. 100 memories of u1 and 100 of u2: erasing u1 leaves no u1 hit in any search
 * and no Redis key or value of its texts, and every u2 memory stays.
 */
import { type Cache, createRedisCache } from '@memmesh/cache';
import type { ErasureReceipt } from '@memmesh/core';
import {
  eventually,
  type MilvusLite,
  type RedisServer,
  startMilvusLite,
  startRedisServer,
} from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distinctiveSentence, type Harness, startHarness } from './harness.ts';

const PER_USER = 100;

let milvus: MilvusLite;
let redis: RedisServer;
let view: Cache;
let h: Harness;

beforeAll(async () => {
  milvus = await startMilvusLite();
  redis = await startRedisServer();
  view = await createRedisCache({ url: redis.url });
  h = await startHarness({
    index: 'milvus',
    milvusAddress: milvus.address,
    cache: 'redis',
    redisUrl: redis.url,
    erasureFollowMs: 200,
  });
  for (const [userId, offset] of [
    ['u1', 0],
    ['u2', PER_USER],
  ] as const) {
    for (let start = 0; start < PER_USER; start += 100) {
      const memories = Array.from({ length: 100 }, (_, k) => ({
        id: `${userId}-${start + k}`,
        text: distinctiveSentence(offset + start + k),
        scope: { userId },
      }));
      expect((await h.call('POST', '/v1/memories/batch?wait=true', { memories })).status).toBe(202);
    }
  }
}, 300_000);

afterAll(async () => {
  await h?.stop();
  await view?.close();
  await redis?.stop();
  await milvus?.stop();
});

describe('erasure - Milvus and Redis', () => {
  it('erasure - u1 leaves the Milvus views and Redis; u2 stays', async () => {
    const probe = distinctiveSentence(3);
    // Milvus Lite's first searches may time out while it loads the collection.
    await eventually(
      'Milvus finds u1',
      async () => {
        const r = await h.call('POST', '/v1/search', { query: probe, topK: 1 });
        return r.status === 200 && r.body.results[0]?.id === 'u1-3' ? true : undefined;
      },
      { timeoutMs: 60_000, stepMs: 500 },
    );
    const accepted = await h.call('DELETE', '/v1/memories?userId=u1');
    expect(accepted.status).toBe(202);
    const receipt = await eventually(
      'erasure done',
      async () => {
        const r = (await h.call('GET', `/v1/erasures/${accepted.body.id}`)).body as ErasureReceipt;
        if (r.state === 'failed') throw new Error(JSON.stringify(r));
        return r.state === 'done' ? r : undefined;
      },
      { timeoutMs: 180_000, stepMs: 500 },
    ).catch(async (err) => {
      const r = await h.call('GET', `/v1/erasures/${accepted.body.id}`);
      throw new Error(`${(err as Error).message}: ${JSON.stringify(r.body)}`);
    });
    const region = receipt.regions['us-east-1'];
    expect(receipt.documents).toBe(PER_USER);
    expect(region).toMatchObject({ viewDocs: PER_USER, streamMessages: PER_USER });
    expect(region?.verification).toMatchObject({ ok: true, viewHitsLeft: 0, cacheEntriesLeft: 0 });
    expect(region?.cacheEntries).toBeGreaterThan(0);
    const erased = Array.from({ length: PER_USER }, (_, i) => distinctiveSentence(i));
    for (const key of await view.keys('', 100_000)) {
      const value = (await view.get(key)) ?? '';
      expect(
        erased.find((t) => value.includes(t)),
        key,
      ).toBeUndefined();
    }
    for (const text of erased.filter((_, i) => i % 10 === 0)) {
      const r = await h.call('POST', '/v1/search', { query: text, topK: 3 });
      expect((r.body.results as { id: string }[]).filter((x) => x.id.startsWith('u1-'))).toEqual([]);
    }
    const u2 = await h.call('POST', '/v1/search', { query: distinctiveSentence(PER_USER + 5), topK: 1 });
    expect(u2.body.results[0].id).toBe('u2-5');
    for (let i = 0; i < PER_USER; i += 17)
      expect((await h.call('GET', `/v1/memories/u2-${i}`)).status).toBe(200);
  }, 300_000);
});
