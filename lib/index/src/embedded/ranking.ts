/**
 * @module ranking
 * One tenant's ranking for a query in each search mode: the vector half (search-plan.ts),
 * the lexical half (BM25 over the tenant's chunks), their fusion (fusion.ts), and the
 * recency weight. Filters (metadata, scope, time, expiry) apply to both halves before
 * anything is cut, so every mode honours them alike.
 */
import { fuseScores, fusionDepth, weighByRecency } from '../fusion.ts';
import { queryTerms } from '../lexical.ts';
import type { HitRanks, VectorQuery } from '../types.ts';
import type { DocRecord } from './doc-record.ts';
import { both, livePredicate, queryPredicate, type SearchPlanConfig, searchTenant } from './search-plan.ts';
import type { TenantIndex } from './tenant-index.ts';

export interface RankedDoc {
  record: DocRecord;
  score: number;
  ranks?: HitRanks | undefined;
}

/** The tenant's topK documents for the query, in the query's mode (vector when none is given). */
export function rankTenant(
  tenant: TenantIndex,
  vector: Float32Array,
  query: VectorQuery,
  plan: SearchPlanConfig,
  nowMs: number,
): RankedDoc[] {
  const mode = query.mode ?? 'vector';
  const accept = queryPredicate(query);
  const halfLife = query.recencyHalfLifeDays;
  // Recency reorders candidates, so it needs more than topK of them to choose from.
  const depth = mode === 'vector' && halfLife === undefined ? query.topK : fusionDepth(query.topK);
  let ranked: RankedDoc[];
  if (mode === 'vector') {
    ranked = searchTenant(tenant, vector, depth, accept, plan, nowMs).map(({ record, score }, i) => ({
      record,
      score,
      ranks: { vectorRank: i + 1 },
    }));
  } else {
    const terms = queryTerms(query.text ?? '');
    const lexical = tenant.keyword(terms, depth, both(accept, livePredicate(tenant, nowMs)));
    if (mode === 'keyword') {
      ranked = lexical.map(({ record, score }, i) => ({ record, score, ranks: { keywordRank: i + 1 } }));
    } else {
      const dense = searchTenant(tenant, vector, depth, accept, plan, nowMs);
      const pair = (hit: { record: DocRecord; score: number }) => ({ item: hit, score: hit.score });
      const fused = fuseScores(dense.map(pair), lexical.map(pair), (hit) => hit.record.id, depth);
      ranked = fused.map(({ item, score, ranks }) => ({
        record: item.record,
        score,
        ranks,
      }));
    }
  }
  if (halfLife !== undefined) {
    ranked = weighByRecency(ranked, halfLife, nowMs, (hit) => hit.record.createdAtMs);
  }
  return ranked.slice(0, query.topK);
}
