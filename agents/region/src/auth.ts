/**
 * @module auth
 * API keys → tenants, and per-tenant rate limits. Keys are held as sha256 hashes, so the
 * table in memory (and later in the routing table) never contains a usable key.
 */
import { ErrorCode, MeshError, sha256Hex } from '@memmesh/core';

export interface ApiKeyTable {
  tenantOf(authorization: string | undefined): string;
}

export function createApiKeyTable(keys: Readonly<Record<string, string>>): ApiKeyTable {
  const byHash = new Map(Object.entries(keys).map(([key, tenant]) => [sha256Hex(key), tenant]));
  return {
    tenantOf(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (!match)
        throw new MeshError(
          ErrorCode.Unauthorized,
          'missing bearer token: send Authorization: Bearer <api key>',
        );
      const tenant = byHash.get(sha256Hex(match[1] as string));
      if (!tenant) throw new MeshError(ErrorCode.Unauthorized, 'unknown API key');
      return tenant;
    },
  };
}

export interface RateLimiter {
  /** Takes one token for the tenant or throws `rate_limited` with the wait until the next one. */
  take(tenant: string): void;
}

/** A token bucket per tenant: `perSecond` sustained, `burst` at once. */
export function createRateLimiter(
  perSecond: number,
  burst: number,
  now: () => number = performance.now.bind(performance),
): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(tenant) {
      const t = now();
      const bucket = buckets.get(tenant) ?? { tokens: burst, at: t };
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond);
      bucket.at = t;
      buckets.set(tenant, bucket);
      if (bucket.tokens < 1) {
        const retryAfterMs = Math.ceil(((1 - bucket.tokens) / perSecond) * 1000);
        throw new MeshError(
          ErrorCode.RateLimited,
          `tenant ${tenant} is over ${perSecond} requests per second`,
          { retryAfterMs },
        );
      }
      bucket.tokens -= 1;
    },
  };
}
