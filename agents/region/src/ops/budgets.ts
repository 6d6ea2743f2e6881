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
 *
 * What a search returns is only known after it ran, and it is most of its cost when hits
 * carry long texts (50 hits of 16 KiB are 800 kB to encode at every shard, carry over NATS,
 * merge and send): those bytes are charged afterwards, and a tenant whose budget of them is
 * spent waits before its next search (the charge before a search asks for one byte of it).
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import { type CostLimiter, createCostLimiter, takeAll } from '@memmesh/http';
import type { RegionAgentConfig } from '../config/config.ts';

export interface TenantBudgets {
  /** A write of `texts` (its chunks): their characters to embed and one index entry each. */
  chargeWrite(tenant: string, texts: readonly string[]): void;
  /**
   * Before the body of a write is read: refuses (429) when the tenant's embedding budget
   * cannot hold a quarter of `bodyBytes` (a UTF-8 character is at most 4 bytes, so a body's
   * texts are never fewer characters than that, give or take its metadata), or its index
   * budget a single chunk. Unknown length: nothing to check yet.
   */
  admitWrite(tenant: string, bodyBytes: number | undefined): void;
  /** A search: its query's characters to embed and `shards × topK` shard results. */
  chargeSearch(tenant: string, query: string, shards: number, topK: number): void;
  /** After a search: the bytes of text and metadata it returned. Never refuses; it is done. */
  chargeSearchResults(tenant: string, bytes: number): void;
}

type BudgetConfig = Pick<
  RegionAgentConfig,
  | 'tenantEmbedCharsPerSecond'
  | 'tenantEmbedCharsBurst'
  | 'tenantIndexChunksPerSecond'
  | 'tenantIndexChunksBurst'
  | 'tenantSearchHitsPerSecond'
  | 'tenantSearchHitsBurst'
  | 'tenantSearchBytesPerSecond'
  | 'tenantSearchBytesBurst'
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
  const resultBytes = limiter(
    config.tenantSearchBytesPerSecond,
    config.tenantSearchBytesBurst,
    'bytes of search results',
  );
  return {
    chargeWrite(tenant, texts) {
      const chars = texts.reduce((sum, text) => sum + text.length, 0);
      takeAll(tenant, [
        { limiter: embed, cost: chars },
        { limiter: index, cost: texts.length },
      ]);
    },
    admitWrite(tenant, bodyBytes) {
      if (bodyBytes === undefined || !(bodyBytes > 0)) return;
      const chars = Math.min(Math.floor(bodyBytes / 4), embed.burst);
      const embedWaitMs = embed.waitMs(tenant, chars);
      const waitMs = Math.max(embedWaitMs, index.waitMs(tenant, 1));
      if (waitMs > 0) {
        const unit = embedWaitMs > 0 ? embed.unit : index.unit;
        throw new MeshError(
          ErrorCode.RateLimited,
          `tenant ${tenant} is over its budget of ${unit} for a write this large`,
          {
            retryAfterMs: waitMs,
          },
        );
      }
    },
    chargeSearch(tenant, query, shards, topK) {
      takeAll(tenant, [
        { limiter: embed, cost: query.length },
        { limiter: search, cost: shards * topK },
        { limiter: resultBytes, cost: 1 },
      ]);
    },
    chargeSearchResults(tenant, bytes) {
      // Spent even past the bucket's bottom: the work is done, so the debt is waited off.
      if (bytes > 0) resultBytes.spend(tenant, Math.min(bytes, resultBytes.burst));
    },
  };
}
