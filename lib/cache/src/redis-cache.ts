/**
 * @module redis-cache
 * The production cache: Redis through ioredis, shared by the agent replicas of a region.
 *
 * A cache must never make a request slower or fail it. So commands are not queued while
 * Redis is away (enableOfflineQueue: false): they fail at once, the caller answers uncached,
 * and `onError` lets the owner log it. Each command also has a timeout, and the client keeps
 * reconnecting in the background with capped backoff, so the cache comes back by itself.
 */
import { Redis } from 'ioredis';
import type { Cache } from './types.ts';

export interface RedisCacheOptions {
  url: string;
  /** Prefix of every key, so that several meshes can share one Redis. */
  keyPrefix?: string;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  reconnectDelayMsMax?: number;
  /** Told about connection errors (once per outage, not per command). */
  onError?: (err: Error) => void;
}

export const DEFAULT_REDIS_CACHE_OPTIONS = {
  keyPrefix: 'memmesh:',
  commandTimeoutMs: 200,
  connectTimeoutMs: 2_000,
  reconnectDelayMsMax: 2_000,
} as const;

/** Keys SCAN looks at per step, and steps per `keys` call (10^7 keys at most). */
const SCAN_COUNT = 1_000;
const SCAN_STEPS_MAX = 10_000;

/**
 * Connects, waiting up to connectTimeoutMs for Redis. If it is unreachable the cache is
 * returned anyway: it answers every call with an error (the caller goes uncached) until the
 * background reconnect succeeds, so a Redis outage never stops an agent from starting.
 */
export async function createRedisCache(options: RedisCacheOptions): Promise<Cache> {
  const config = { ...DEFAULT_REDIS_CACHE_OPTIONS, ...options };
  const redis = new Redis(config.url, {
    keyPrefix: config.keyPrefix,
    enableOfflineQueue: false,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(config.reconnectDelayMsMax, 50 * 2 ** Math.min(attempt, 10)),
    lazyConnect: false,
  });
  // Report each outage once: its first error or lost connection, not every failed command.
  let reported = false;
  let closing = false;
  const report = (err: Error) => {
    if (reported || closing) return;
    reported = true;
    config.onError?.(err);
  };
  redis.on('error', report);
  redis.on('close', () => report(new Error(`connection to Redis at ${config.url} lost`)));
  redis.on('ready', () => {
    reported = false;
  });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, config.connectTimeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });

  return {
    kind: 'redis',
    async get(key) {
      return (await redis.get(key)) ?? undefined;
    },
    async set(key, value, ttlMs) {
      if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be positive, got ${ttlMs}`);
      await redis.set(key, value, 'PX', Math.ceil(ttlMs));
    },
    async delete(key) {
      await redis.del(key);
    },
    async keys(prefix, max) {
      // SCAN, never KEYS: it walks the keyspace in steps without blocking Redis. Bounded:
      // it stops at `max` keys or after SCAN_STEPS_MAX steps, whichever comes first.
      // ioredis prefixes the keys of commands, not SCAN's pattern nor the keys it returns.
      const glob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');
      const pattern = `${glob(config.keyPrefix)}${glob(prefix)}*`;
      const found = new Set<string>();
      let cursor = '0';
      for (let step = 0; step < SCAN_STEPS_MAX; step++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        for (const key of keys) if (found.size < max) found.add(key.slice(config.keyPrefix.length));
        cursor = next;
        if (cursor === '0' || found.size >= max) break;
      }
      return [...found];
    },
    async close() {
      closing = true;
      redis.disconnect();
    },
  };
}
