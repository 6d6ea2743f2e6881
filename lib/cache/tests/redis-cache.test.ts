import { type RedisServer, startRedisServer } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCacheConformance } from '../src/conformance.ts';
import { createRedisCache } from '../src/index.ts';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

describeCacheConformance('redis', async () => createRedisCache({ url: redis.url }));

describe('redis cache outage', () => {
  it('redis cache - while Redis is down calls fail fast, and the cache reconnects by itself', async () => {
    const errors: Error[] = [];
    const cache = await createRedisCache({ url: redis.url, onError: (err) => errors.push(err) });
    try {
      await cache.set('outage-key', 'before', 60_000);
      expect(await cache.get('outage-key')).toBe('before');
      await redis.kill();
      const started = performance.now();
      await expect(cache.get('outage-key')).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(500);
      await redis.restart();
      const deadline = Date.now() + 10_000;
      let back = false;
      while (!back && Date.now() < deadline) {
        back = await cache.set('outage-key', 'after', 60_000).then(
          () => true,
          () => false,
        );
        if (!back) await new Promise((r) => setTimeout(r, 50));
      }
      expect(back).toBe(true);
      expect(await cache.get('outage-key')).toBe('after');
      // One report per outage, not one per failed command.
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors.length).toBeLessThanOrEqual(3);
    } finally {
      await cache.close();
    }
  });
});
