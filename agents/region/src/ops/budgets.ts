/**
 * @module budgets
 * Each tenant's budgets of work in this region (DESIGN §12: fair use is counted in cost):
 * characters to embed, chunks to index, and shard results to rank. A request is charged
 * before any of its work starts, all of its costs or none, so that a refused request costs
 * the shared parts nothing; a refusal is `rate_limited` with the wait after which every one
 * of its budgets holds it (Retry-After), and a request above a whole burst is
 * `payload_too_large`, since no wait would ever let it through.
 *
 * A search is charged whether or not its answer is cached: the cost a client is told about
 * then depends only on what it asked, never on what the cache happens to hold.
 */
import { type CostLimiter, createCostLimiter, takeAll } from '@memmesh/http';
import type { RegionAgentConfig } from '../config/config.ts';

export interface TenantBudgets {
  /** A write of `texts` (its chunks): their characters to embed and one index entry each. */
  chargeWrite(tenant: string, texts: readonly string[]): void;
  /** A search: its query's characters to embed and `shards × topK` shard results. */
  chargeSearch(tenant: string, query: string, shards: number, topK: number): void;
}

type BudgetConfig = Pick<
  RegionAgentConfig,
  | 'tenantEmbedCharsPerSecond'
  | 'tenantEmbedCharsBurst'
  | 'tenantIndexChunksPerSecond'
  | 'tenantIndexChunksBurst'
  | 'tenantSearchHitsPerSecond'
  | 'tenantSearchHitsBurst'
>;

export function createTenantBudgets(config: BudgetConfig, now?: () => number): TenantBudgets {
  const limiter = (perSecond: number, burst: number, unit: string): CostLimiter =>
    createCostLimiter({ perSecond, burst, unit, ...(now ? { now } : {}) });
  const embed = limiter(
    config.tenantEmbedCharsPerSecond,
    config.tenantEmbedCharsBurst,
    'embedding characters',
  );
  const index = limiter(config.tenantIndexChunksPerSecond, config.tenantIndexChunksBurst, 'chunks indexed');
  const search = limiter(
    config.tenantSearchHitsPerSecond,
    config.tenantSearchHitsBurst,
    'search hits (shards × topK)',
  );
  return {
    chargeWrite(tenant, texts) {
      const chars = texts.reduce((sum, text) => sum + text.length, 0);
      takeAll(tenant, [
        { limiter: embed, cost: chars },
        { limiter: index, cost: texts.length },
      ]);
    },
    chargeSearch(tenant, query, shards, topK) {
      takeAll(tenant, [
        { limiter: embed, cost: query.length },
        { limiter: search, cost: shards * topK },
      ]);
    },
  };
}
