/**
 * A region agent on the Redis cache: searches are served (and cached) through Redis, and
 * when Redis dies during a query loop no query fails; the cache comes back by itself.
 */
import { type RedisServer, startRedisServer } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/index.ts';
import { ACME, type Harness, startHarness } from './harness.ts';

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
