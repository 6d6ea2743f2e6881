/**
 * @module auth
 * API keys → tenants (through the routing table, which holds only sha256 hashes of keys),
 * and per-tenant rate limits.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';

/** The tenant of an `Authorization: Bearer <key>` header, or `unauthorized`. */
export async function tenantOfAuthorization(
  routing: RoutingTable,
  authorization: string | undefined,
): Promise<string> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match)
    throw new MeshError(ErrorCode.Unauthorized, 'missing bearer token: send Authorization: Bearer <api key>');
  const tenant = await routing.tenantOfApiKey(match[1] as string);
  if (!tenant) throw new MeshError(ErrorCode.Unauthorized, 'unknown API key');
  return tenant;
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
