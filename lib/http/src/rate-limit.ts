/**
 * @module rate-limit
 * Per-tenant request limits, the same token bucket in the agents and in the gateway: a region
 * limits what reaches it, and the gateway limits a tenant across all regions, so that the
 * regions' limits do not add up for a tenant whose requests the gateway spreads.
 */
import { ErrorCode, MeshError } from '@memmesh/core';

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
