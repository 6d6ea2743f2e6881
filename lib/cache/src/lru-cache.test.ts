import { describe, expect, it } from 'vitest';
import { describeCacheConformance } from './conformance.ts';
import { createLruCache, DEFAULT_LRU_CACHE_OPTIONS } from './index.ts';

const TTL_MS = 60_000;

describeCacheConformance('lru', async () => createLruCache());

/** A clock that moves only when the test says so. */
function manualClock(startMs = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

async function present(cache: ReturnType<typeof createLruCache>, keys: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const key of keys) if ((await cache.get(key)) !== undefined) found.push(key);
  return found;
}

describe('lru cache', () => {
  it('lru cache - has kind lru and the documented defaults', () => {
    expect(createLruCache().kind).toBe('lru');
    expect(DEFAULT_LRU_CACHE_OPTIONS).toEqual({ entriesMax: 10_000, bytesMax: 64 * 1024 * 1024 });
  });

  it('lru cache - evicts the least recently set entry beyond entriesMax', async () => {
    const cache = createLruCache({ entriesMax: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, key, TTL_MS);
    expect(await present(cache, ['a', 'b', 'c', 'd'])).toEqual(['b', 'c', 'd']);
  });

  it('lru cache - get refreshes recency', async () => {
    const cache = createLruCache({ entriesMax: 3 });
    for (const key of ['a', 'b', 'c']) await cache.set(key, key, TTL_MS);
    await cache.get('a');
    await cache.set('d', 'd', TTL_MS);
    expect(await present(cache, ['a', 'b', 'c', 'd'])).toEqual(['a', 'c', 'd']);
  });

  it('lru cache - overwrite refreshes recency', async () => {
    const cache = createLruCache({ entriesMax: 2 });
    await cache.set('a', '1', TTL_MS);
    await cache.set('b', '1', TTL_MS);
    await cache.set('a', '2', TTL_MS);
    await cache.set('c', '1', TTL_MS);
    expect(await present(cache, ['a', 'b', 'c'])).toEqual(['a', 'c']);
  });

  it('lru cache - evicts least recently used entries beyond bytesMax', async () => {
    // Each entry is (1 + 9) code units × 2 = 20 bytes; 50 bytes hold two of them.
    const cache = createLruCache({ bytesMax: 50 });
    await cache.set('a', 'x'.repeat(9), TTL_MS);
    await cache.set('b', 'x'.repeat(9), TTL_MS);
    await cache.get('a');
    await cache.set('c', 'x'.repeat(9), TTL_MS);
    expect(await present(cache, ['a', 'b', 'c'])).toEqual(['a', 'c']);
    // A larger entry evicts as many old entries as it needs.
    await cache.set('d', 'x'.repeat(19), TTL_MS);
    expect(await present(cache, ['a', 'b', 'c', 'd'])).toEqual(['d']);
  });

  it('lru cache - declines an entry larger than bytesMax without evicting others', async () => {
    const cache = createLruCache({ bytesMax: 100 });
    await cache.set('small', 'x', TTL_MS);
    await cache.set('huge', 'x'.repeat(100), TTL_MS);
    expect(await cache.get('huge')).toBeUndefined();
    expect(await cache.get('small')).toBe('x');
  });

  it('lru cache - never returns an entry at or after its expiry on the injected clock', async () => {
    const clock = manualClock();
    const cache = createLruCache({ now: clock.now });
    await cache.set('a', 'value', 1_000);
    clock.advance(999);
    expect(await cache.get('a')).toBe('value');
    clock.advance(1);
    expect(await cache.get('a')).toBeUndefined();
  });

  it('lru cache - an expired entry no longer counts against the limits once read', async () => {
    const clock = manualClock();
    const cache = createLruCache({ entriesMax: 2, now: clock.now });
    await cache.set('old', 'v', 10);
    await cache.set('b', 'v', TTL_MS);
    clock.advance(10);
    expect(await cache.get('old')).toBeUndefined();
    await cache.set('c', 'v', TTL_MS);
    expect(await present(cache, ['b', 'c'])).toEqual(['b', 'c']);
  });

  it('lru cache - rejects invalid limits and ttls', async () => {
    expect(() => createLruCache({ entriesMax: 0 })).toThrow(RangeError);
    expect(() => createLruCache({ bytesMax: 1.5 })).toThrow(RangeError);
    const cache = createLruCache();
    await expect(cache.set('a', 'v', 0)).rejects.toThrow(RangeError);
    await expect(cache.set('a', 'v', Number.NaN)).rejects.toThrow(RangeError);
  });

  it('lru cache - refuses use after close', async () => {
    const cache = createLruCache();
    await cache.close();
    await expect(cache.get('a')).rejects.toThrow(/after close/);
  });
});
