/**
 * @module fusion
 * The fusion of a shard's vector and lexical rankings (`fuseScores`) and the recency
 * weight, shared by both backends. Fused scores are on one scale in every shard, so the
 * shards' lists merge by score.
 */
import type { HitRanks } from './types.ts';

/**
 * Candidates each half of a hybrid search contributes: a document ranked below this in one
 * half can still win by scoring high in the other. Raised to topK when topK is larger.
 */
export const FUSION_DEPTH_MIN = 50;

export function fusionDepth(topK: number): number {
  return Math.max(topK, FUSION_DEPTH_MIN);
}

export interface Fused<T> {
  item: T;
  score: number;
  ranks: HitRanks;
}

/**
 * The weight of the lexical half in a hybrid score; the vector half has the rest. Even: a
 * query quoting a memory's distinctive words and a paraphrase sharing none both find it.
 */
export const HYBRID_KEYWORD_WEIGHT = 0.5;

export interface Scored<T> {
  item: T;
  score: number;
}

/**
 * Fuses a vector ranking (cosine scores) and a lexical one (scores relative to the query's
 * self-score, see LexicalIndex.search) into the topK best, per document:
 * (1 − w) · max(0, cosine) + w · min(1, lexical).
 *
 * Why a weighted sum and not reciprocal-rank fusion (RRF, Σ 1 / (60 + rank)): ranks drop how far apart the
 * scores are. Among near-duplicates that differ in a name and a number, the vector half
 * ranks them by noise (their cosines differ in the third decimal) while the lexical half
 * puts the quoted one far ahead; RRF then lets a duplicate that ranks first by vector and
 * second by keyword beat the quoted memory (measured: the conformance suite's near-duplicate
 * case fails under RRF in 4 of 4 queries). The lexical score is calibrated per query by its
 * self-score, so a match on common words only weighs little, and cosines are on one scale
 * for one model. Ties keep the vector order first, so a repeated search answers the same.
 */
export function fuseScores<T>(
  vector: readonly Scored<T>[],
  keyword: readonly Scored<T>[],
  idOf: (item: T) => string,
  topK: number,
): Fused<T>[] {
  const byId = new Map<string, Fused<T> & { cosine: number; lexical: number }>();
  vector.forEach(({ item, score }, i) => {
    byId.set(idOf(item), { item, score: 0, cosine: score, lexical: 0, ranks: { vectorRank: i + 1 } });
  });
  keyword.forEach(({ item, score }, i) => {
    const held = byId.get(idOf(item));
    if (held === undefined) {
      // Not among the vector half's candidates: its cosine is below theirs, counted as 0.
      byId.set(idOf(item), { item, score: 0, cosine: 0, lexical: score, ranks: { keywordRank: i + 1 } });
    } else {
      held.lexical = score;
      held.ranks.keywordRank = i + 1;
    }
  });
  const fused = [...byId.values()];
  for (const entry of fused) {
    entry.score =
      (1 - HYBRID_KEYWORD_WEIGHT) * Math.max(0, entry.cosine) +
      HYBRID_KEYWORD_WEIGHT * Math.min(1, entry.lexical);
  }
  // Array.prototype.sort is stable, so equal scores keep insertion (vector-first) order.
  return fused
    .sort((a, b) => b.score - a.score)
    .slice(0, topK)
    .map(({ item, score, ranks }) => ({ item, score, ranks }));
}

/** Milliseconds in a day, for half-lives given in days. */
const DAY_MS = 86_400_000;

/**
 * The recency weight 0.5^(age ÷ half-life) of a version written at `createdAtMs`: 1 for a
 * new memory, ½ at one half-life. A version from the future (clock skew between agents) is
 * not favoured beyond 1.
 */
export function recencyWeight(createdAtMs: number, nowMs: number, halfLifeDays: number): number {
  const ageMs = Math.max(0, nowMs - createdAtMs);
  return 0.5 ** (ageMs / (halfLifeDays * DAY_MS));
}

/**
 * Scores times the recency weight, best first. A negative score (a cosine below 0) is left as
 * it is, and so is a hit whose write time is unknown: scaling either would move an unrelated
 * memory up rather than an old one down.
 */
export function weighByRecency<T extends { score: number }>(
  ranked: T[],
  halfLifeDays: number,
  nowMs: number,
  createdAtOf: (hit: T) => number | undefined,
): T[] {
  for (const hit of ranked) {
    const createdAtMs = createdAtOf(hit);
    if (createdAtMs === undefined || hit.score <= 0) continue;
    hit.score *= recencyWeight(createdAtMs, nowMs, halfLifeDays);
  }
  return ranked.sort((a, b) => b.score - a.score);
}

/** The hybrid score of a hit that only the vector half could score (a vector-only shard). */
export function vectorOnlyHybridScore(cosine: number): number {
  return (1 - HYBRID_KEYWORD_WEIGHT) * Math.max(0, cosine);
}
