/**
 * @module conformance
 * The one test suite every `Cache` implementation passes (DESIGN §5): the in-process LRU
 * here, Redis against a real redis-server elsewhere. It uses only the `Cache` interface and
 * prefixes its keys with a random run id, so it can share a server with other tests.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cache } from './types.ts';

/** Long enough that no test sees it expire. */
const TTL_LONG_MS = 60_000;
/** The one real-time wait of the suite; short, with a wide margin over `TTL_SHORT_MS`. */
const TTL_SHORT_MS = 50;
const EXPIRY_WAIT_MS = 120;
/** Large enough to cross any small-value fast path (1 MiB of UTF-16 code units). */
const LARGE_VALUE_LENGTH = 1024 * 1024;

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function describeCacheConformance(name: string, make: () => Promise<Cache>): void {
  describe(`${name} cache conformance`, () => {
    let cache: Cache;
    let prefix: string;
    const k = (key: string): string => `${prefix}${key}`;

    beforeEach(async () => {
      cache = await make();
      prefix = `conformance:${randomUUID()}:`;
    });
    afterEach(async () => {
      await cache.close();
    });

    it('cache - names its kind', () => {
      expect(cache.kind).toMatch(/^\S+$/);
    });

    it('cache - get of a missing key is undefined', async () => {
      expect(await cache.get(k('missing'))).toBeUndefined();
    });

    it('cache - returns what was set, including the empty string', async () => {
      await cache.set(k('a'), 'value a', TTL_LONG_MS);
      await cache.set(k('empty'), '', TTL_LONG_MS);
      expect(await cache.get(k('a'))).toBe('value a');
      expect(await cache.get(k('empty'))).toBe('');
    });

    it('cache - overwrite replaces the value', async () => {
      await cache.set(k('a'), 'first', TTL_LONG_MS);
      await cache.set(k('a'), 'second', TTL_LONG_MS);
      expect(await cache.get(k('a'))).toBe('second');
    });

    it('cache - delete removes the key and ignores missing keys', async () => {
      await cache.set(k('a'), 'value', TTL_LONG_MS);
      await cache.set(k('b'), 'kept', TTL_LONG_MS);
      await cache.delete(k('a'));
      await cache.delete(k('never-set'));
      expect(await cache.get(k('a'))).toBeUndefined();
      expect(await cache.get(k('b'))).toBe('kept');
    });

    it('cache - keys lists the keys under a prefix, at most max', async () => {
      await cache.set(k('p:1'), 'one', TTL_LONG_MS);
      await cache.set(k('p:2'), 'two', TTL_LONG_MS);
      await cache.set(k('q:1'), 'other', TTL_LONG_MS);
      await cache.set(k('p*x'), 'glob', TTL_LONG_MS);
      expect((await cache.keys(k('p:'), 100)).sort()).toEqual([k('p:1'), k('p:2')]);
      expect(await cache.keys(k('p*'), 100)).toEqual([k('p*x')]);
      expect(await cache.keys(k('p:'), 1)).toHaveLength(1);
      expect(await cache.keys(k('none:'), 100)).toEqual([]);
    });

    it('cache - expires entries after their ttl, and overwrite resets the ttl', async () => {
      await cache.set(k('short'), 'gone soon', TTL_SHORT_MS);
      await cache.set(k('long'), 'stays', TTL_LONG_MS);
      await cache.set(k('renewed'), 'first', TTL_SHORT_MS);
      await cache.set(k('renewed'), 'second', TTL_LONG_MS);
      expect(await cache.get(k('short'))).toBe('gone soon');
      await wait(EXPIRY_WAIT_MS);
      expect(await cache.get(k('short'))).toBeUndefined();
      expect(await cache.get(k('long'))).toBe('stays');
      expect(await cache.get(k('renewed'))).toBe('second');
    });

    it('cache - round-trips a large value exactly', async () => {
      // The non-ASCII tail checks that nothing truncates or re-encodes at the end.
      const tail = 'ü€😀end';
      const large = `${'x'.repeat(LARGE_VALUE_LENGTH - tail.length)}${tail}`;
      await cache.set(k('large'), large, TTL_LONG_MS);
      expect(await cache.get(k('large'))).toBe(large);
    });

    it('cache - keeps unicode keys and values distinct and exact', async () => {
      // NFC "é" and NFD "e + combining accent" look alike but are different keys.
      const keys = ['ключ', '鍵', '🔑', 'caf\u00e9', 'cafe\u0301', 'with space', 'line\nbreak'];
      for (const [index, key] of keys.entries()) await cache.set(k(key), `${key}=${index}`, TTL_LONG_MS);
      for (const [index, key] of keys.entries()) expect(await cache.get(k(key))).toBe(`${key}=${index}`);
    });
  });
}
