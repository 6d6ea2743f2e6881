/**
 * @module tenant-versions
 * Per-tenant cache versions: the token that result-cache keys carry (keys.ts), kept in the
 * cache itself so that every agent replica sharing a cache (Redis) shares the tokens too,
 * and a result cached by one replica is served by the others.
 *
 * A token is a fresh unique value, never a counter. A counter would restart at a value it
 * had before whenever its key is evicted or expires (Redis `allkeys-lru`, an LRU's own
 * eviction, a TTL) while results cached under that value still sit in the cache; a new
 * random token can never meet an old entry. So:
 * - a shard that applies an event of a tenant calls `bump`, which stores a new token
 *   (write-through invalidation: from then on every lookup asks for new keys);
 * - a reader whose tenant has no token (first use, evicted, expired) creates one.
 * Two replicas that create a token at the same moment just miss the cache once.
 *
 * Bumps are coalesced per tenant within one tick, so an ingest burst costs one cache write
 * per tenant per tick rather than one per event. A bump that fails (Redis is down) leaves
 * the tenant dirty: its results are neither read from nor written to the cache until a
 * later bump succeeds, because entries cached under its old token could be stale by then.
 *
 * What this does not give: replicas apply the log independently, so a replica that has not
 * applied an event yet can still cache a result under the token that another replica's
 * bump created. Such an entry lives until that replica applies the event and bumps again —
 * at most as stale as the replica itself. Reads that must see a write use `minVersion`,
 * which never uses the result cache.
 */
import { randomBytes } from 'node:crypto';
import { isTenant } from '@memmesh/core';
import type { Cache } from './types.ts';

export interface TenantVersions {
  /** The token for the tenant's result-cache keys; undefined when results must not be cached now. */
  token(tenant: string): Promise<string | undefined>;
  /** Records that an event of the tenant was applied; cached results of the tenant are obsolete. */
  bump(tenant: string): void;
  /** Bumps still queued or failed; tests and shutdown wait for them. */
  flush(): Promise<void>;
}

export interface TenantVersionsOptions {
  /** Scope of the tokens: a region's views differ from another region's, even in one cache. */
  region: string;
  /**
   * How long a token lives after its last bump. Longer than any result TTL, so that a token
   * rarely expires under live entries; when it does, the next reader just makes a new one.
   */
  tokenTtlMs?: number;
  /** Told when a bump fails (once per failing flush). */
  onError?: (err: unknown) => void;
}

export const DEFAULT_TENANT_VERSIONS_OPTIONS = {
  tokenTtlMs: 24 * 60 * 60 * 1000,
} as const;

/** 12 random bytes: a collision between two tokens of one tenant is not a practical concern. */
const TOKEN_BYTES = 12;
/** A reader waits for at most this many flushes of a busy tenant, then answers uncached. */
const UNSETTLED_FLUSHES_MAX = 2;

export function createTenantVersions(cache: Cache, options: TenantVersionsOptions): TenantVersions {
  const config = { ...DEFAULT_TENANT_VERSIONS_OPTIONS, ...options };
  const pending = new Set<string>();
  /** Tenants with a bump queued or in flight: their current token may already be obsolete. */
  const unsettled = new Set<string>();
  const dirty = new Set<string>();
  let flushing: Promise<void> | undefined;
  const keyOf = (tenant: string) => `v:${config.region}:${tenant}`;
  const fresh = () => randomBytes(TOKEN_BYTES).toString('base64url');

  const flushOnce = async (): Promise<void> => {
    const tenants = [...pending];
    pending.clear();
    let failure: unknown;
    await Promise.all(
      tenants.map((tenant) =>
        cache
          .set(keyOf(tenant), fresh(), config.tokenTtlMs)
          .then(
            () => dirty.delete(tenant),
            (err: unknown) => {
              dirty.add(tenant);
              failure ??= err;
            },
          )
          .finally(() => {
            if (!pending.has(tenant)) unsettled.delete(tenant);
          }),
      ),
    );
    if (failure !== undefined) config.onError?.(failure);
  };

  const schedule = () => {
    if (flushing) return;
    flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(flushOnce).finally(() => {
      flushing = undefined;
      if (pending.size > 0) schedule();
    });
  };

  return {
    async token(tenant) {
      if (!isTenant(tenant))
        throw new RangeError(`tenant versions: invalid tenant ${JSON.stringify(tenant)}`);
      // A read right after an applied write (`?wait=true`, then search) must not find the
      // token the write made obsolete, so it waits for the bump (bounded by the cache's
      // command timeout; a bump queued meanwhile can extend it by at most one more flush).
      for (let flushes = 0; unsettled.has(tenant) && flushing && flushes < UNSETTLED_FLUSHES_MAX; flushes++) {
        await flushing;
      }
      if (unsettled.has(tenant)) return undefined;
      if (dirty.has(tenant)) {
        // Retry the failed bump; the tenant stays uncached until one succeeds.
        pending.add(tenant);
        unsettled.add(tenant);
        schedule();
        return undefined;
      }
      try {
        const current = await cache.get(keyOf(tenant));
        if (current) return current;
        const created = fresh();
        await cache.set(keyOf(tenant), created, config.tokenTtlMs);
        return created;
      } catch {
        // The cache is unreachable: answer uncached (the cache's owner reports the outage).
        return undefined;
      }
    },
    bump(tenant) {
      pending.add(tenant);
      unsettled.add(tenant);
      schedule();
    },
    async flush() {
      while (flushing) await flushing;
    },
  };
}
