import { describe, expect, it } from 'vitest';
import { createLruCache } from './lru-cache.ts';
import { createTenantVersions } from './tenant-versions.ts';
import type { Cache } from './types.ts';

/** An LRU whose writes can be made to fail, standing in for a cache that went away. */
function flakyCache(): Cache & { failing: boolean } {
  const inner = createLruCache();
  const cache = {
    failing: false,
    kind: 'flaky',
    get: (key: string) => (cache.failing ? Promise.reject(new Error('down')) : inner.get(key)),
    set: (key: string, value: string, ttlMs: number) =>
      cache.failing ? Promise.reject(new Error('down')) : inner.set(key, value, ttlMs),
    delete: (key: string) => inner.delete(key),
    keys: (prefix: string, max: number) => inner.keys(prefix, max),
    close: () => inner.close(),
  };
  return cache;
}

describe('tenant versions', () => {
  it('tenant versions - a token stays until a bump replaces it', async () => {
    const versions = createTenantVersions(createLruCache(), { region: 'us-east-1' });
    const first = await versions.token('acme');
    expect(first).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(await versions.token('acme')).toBe(first);
    versions.bump('acme');
    const second = await versions.token('acme');
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(await versions.token('acme')).toBe(second);
  });

  it('tenant versions - a bump of one tenant leaves the others alone', async () => {
    const versions = createTenantVersions(createLruCache(), { region: 'us-east-1' });
    const acme = await versions.token('acme');
    const globex = await versions.token('globex');
    versions.bump('acme');
    await versions.flush();
    expect(await versions.token('acme')).not.toBe(acme);
    expect(await versions.token('globex')).toBe(globex);
  });

  it('tenant versions - a token lost from the cache is replaced by a new one, never an old one', async () => {
    const cache = createLruCache();
    const versions = createTenantVersions(cache, { region: 'us-east-1' });
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const token = await versions.token('acme');
      expect(token).toBeDefined();
      expect(seen.has(token as string)).toBe(false);
      seen.add(token as string);
      await cache.delete('v:us-east-1:acme');
    }
  });

  it('tenant versions - replicas sharing a cache share tokens, and one replica bumping moves both', async () => {
    const cache = createLruCache();
    const a = createTenantVersions(cache, { region: 'us-east-1' });
    const b = createTenantVersions(cache, { region: 'us-east-1' });
    const other = createTenantVersions(cache, { region: 'eu-central-1' });
    const token = await a.token('acme');
    expect(await b.token('acme')).toBe(token);
    expect(await other.token('acme')).not.toBe(token);
    a.bump('acme');
    await a.flush();
    expect(await b.token('acme')).not.toBe(token);
  });

  it('tenant versions - while a bump cannot be stored the tenant is uncached, until a bump succeeds', async () => {
    const cache = flakyCache();
    const errors: unknown[] = [];
    const versions = createTenantVersions(cache, { region: 'us-east-1', onError: (err) => errors.push(err) });
    const before = await versions.token('acme');
    cache.failing = true;
    versions.bump('acme');
    await versions.flush();
    expect(errors).toHaveLength(1);
    // Back up, but the failed bump has not been stored yet: the old token must not be used.
    cache.failing = false;
    expect(await versions.token('acme')).toBeUndefined();
    await versions.flush();
    const after = await versions.token('acme');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('tenant versions - a read while the cache is unreachable answers undefined, not an error', async () => {
    const cache = flakyCache();
    const versions = createTenantVersions(cache, { region: 'us-east-1' });
    cache.failing = true;
    expect(await versions.token('acme')).toBeUndefined();
  });

  it('tenant versions - rejects an invalid tenant', async () => {
    const versions = createTenantVersions(createLruCache(), { region: 'us-east-1' });
    await expect(versions.token('Not A Tenant')).rejects.toThrow(RangeError);
  });
});
