/**
 * The read cache and API keys: a key revoked behind the cache (by another process sharing the
 * table) stops working within the cache's TTL, and one revoked through it at once.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryRoutingTable, type RoutingTable, withReadCache } from '../src/index.ts';

const TTL_MS = 200;
const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function tables(): Promise<{ inner: RoutingTable; cached: RoutingTable }> {
  const inner = createMemoryRoutingTable();
  await inner.putRegion({
    id: 'us-east-1',
    location: { latitude: 1, longitude: 2 },
    residency: 'us',
    nats: { cluster: 'us-east-1', servers: 1 },
    shardCount: 4,
    streamReplicas: 1,
    backends: { index: 'embedded', cache: 'lru', embedder: 'local' },
  });
  await inner.putTenant({ tenant: 'acme', home: 'us-east-1' });
  return { inner, cached: withReadCache(inner, { ttlMs: TTL_MS }) };
}

describe('cached routing table', () => {
  it('cached table - a key revoked behind the cache stops working within the TTL, never later', async () => {
    const { inner, cached } = await tables();
    const { key, record } = await inner.createApiKey({ tenant: 'acme', scopes: ['read'] });
    expect(await cached.tenantOfApiKey(key)).toBe('acme');
    await inner.revokeApiKey('acme', record.keyId);
    // Within the TTL the cached record may still answer; the first lookup past it must not.
    await sleepMs(TTL_MS + 20);
    expect(await cached.apiKeyOf(key)).toBeUndefined();
    expect(await cached.tenantOfApiKey(key)).toBeUndefined();
  });

  it('cached table - a key revoked through the cache stops working at once', async () => {
    const { cached } = await tables();
    const { key, record } = await cached.createApiKey({ tenant: 'acme', scopes: ['read'] });
    expect(await cached.tenantOfApiKey(key)).toBe('acme');
    await cached.revokeApiKey('acme', record.keyId);
    expect(await cached.tenantOfApiKey(key)).toBeUndefined();
  });

  it('cached table - when the table cannot be read, the last known key record is served', async () => {
    const { inner, cached } = await tables();
    const { key } = await inner.createApiKey({ tenant: 'acme', scopes: ['read'] });
    expect(await cached.tenantOfApiKey(key)).toBe('acme');
    inner.apiKeyOf = () => Promise.reject(new Error('table down'));
    await sleepMs(TTL_MS + 20);
    expect(await cached.tenantOfApiKey(key)).toBe('acme');
  });
});
