/**
 * @module rate-limit
 * Per-tenant token buckets. The request limit is the same bucket in the agents and in the
 * gateway: a region limits what reaches it, and the gateway limits a tenant across all
 * regions, so that the regions' limits do not add up for a tenant whose requests the gateway
 * spreads. A cost bucket counts work instead of requests (characters to embed, chunks to
 * index, shard results to rank): one request of a thousand texts is not one request's worth
 * of work, and counting it as one let a single tenant keep a shared embedder busy.
 */
import { ErrorCode, MeshError } from '@memmesh/core';

export interface RateLimiter {
  /** Takes one token for the tenant or throws `rate_limited` with the wait until the next one. */
  take(tenant: string): void;
}

export interface CostLimiterOptions {
  /** Sustained cost per second per tenant. */
  perSecond: number;
  /** The most a tenant may spend at once; also the largest cost one request may have. */
  burst: number;
  /** What the cost counts, in messages (`embedding characters`, `requests`). */
  unit: string;
  now?: () => number;
}

export interface CostLimiter {
  readonly unit: string;
  readonly perSecond: number;
  readonly burst: number;
  /**
   * How long until the tenant's bucket holds `cost`: 0 when it does now. A cost above the
   * burst would never fit, so it throws `payload_too_large` rather than naming a wait.
   */
  waitMs(tenant: string, cost: number): number;
  /** Spends `cost` of the tenant's bucket, which `waitMs` said holds it. */
  spend(tenant: string, cost: number): void;
  /** `waitMs` then `spend`, throwing `rate_limited` with the wait when it must wait. */
  take(tenant: string, cost: number): void;
}

/** One cost of a request, in one limiter. */
export interface Charge {
  limiter: CostLimiter;
  cost: number;
}

/**
 * Past this many buckets, full ones are dropped: a full bucket is the same as none. Tenants
 * come from configured keys, so this is a bound against a bug, not an expected size.
 */
const BUCKETS_SWEEP_AT = 10_000;

/** A token bucket of cost per tenant: `perSecond` sustained, `burst` at once. */
export function createCostLimiter(options: CostLimiterOptions): CostLimiter {
  const { perSecond, burst, unit } = options;
  if (!(perSecond > 0) || !(burst >= 1)) {
    throw new RangeError(`cost limiter (${unit}): perSecond must be > 0 and burst >= 1`);
  }
  const now = options.now ?? performance.now.bind(performance);
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refilled = (tenant: string) => {
    const t = now();
    const bucket = buckets.get(tenant) ?? { tokens: burst, at: t };
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond);
    bucket.at = t;
    return bucket;
  };
  const limiter: CostLimiter = {
    unit,
    perSecond,
    burst,
    waitMs(tenant, cost) {
      if (cost > burst) {
        throw new MeshError(
          ErrorCode.PayloadTooLarge,
          `this request costs ${cost} ${unit}, more than the ${burst} a tenant may spend at once (${perSecond} per second); split it into smaller requests`,
          { details: { unit, cost, burst, perSecond } },
        );
      }
      const { tokens } = refilled(tenant);
      return tokens >= cost ? 0 : Math.ceil(((cost - tokens) / perSecond) * 1000);
    },
    spend(tenant, cost) {
      const bucket = refilled(tenant);
      bucket.tokens -= cost;
      if (buckets.size >= BUCKETS_SWEEP_AT) sweep(buckets, burst);
      buckets.set(tenant, bucket);
    },
    take(tenant, cost) {
      takeAll(tenant, [{ limiter, cost }]);
    },
  };
  return limiter;
}

function sweep(buckets: Map<string, { tokens: number }>, burst: number): void {
  for (const [tenant, bucket] of buckets) if (bucket.tokens >= burst) buckets.delete(tenant);
}

/**
 * Spends every charge or none: a request refused by one budget must not use up the others.
 * Refused, it throws `rate_limited` with the longest wait, the time after which all of its
 * budgets hold it, so that a client retrying after Retry-After is not refused again by them.
 */
export function takeAll(tenant: string, charges: readonly Charge[]): void {
  let waitMs = 0;
  let over: Charge | undefined;
  for (const charge of charges) {
    if (charge.cost <= 0) continue;
    const wait = charge.limiter.waitMs(tenant, charge.cost);
    if (wait > waitMs) {
      waitMs = wait;
      over = charge;
    }
  }
  if (over) {
    const { unit, perSecond } = over.limiter;
    throw new MeshError(ErrorCode.RateLimited, `tenant ${tenant} is over ${perSecond} ${unit} per second`, {
      retryAfterMs: waitMs,
      details: { unit, cost: over.cost },
    });
  }
  for (const charge of charges) if (charge.cost > 0) charge.limiter.spend(tenant, charge.cost);
}

/** A token bucket of requests per tenant: `perSecond` sustained, `burst` at once. */
export function createRateLimiter(
  perSecond: number,
  burst: number,
  now: () => number = performance.now.bind(performance),
): RateLimiter {
  const requests = createCostLimiter({ perSecond, burst, unit: 'requests', now });
  return { take: (tenant) => requests.take(tenant, 1) };
}
