/**
 * @module options
 * What the options of both backends share: the HNSW settings in one vocabulary, with their
 * defaults and ranges, the dimension limit, and the check every numeric option goes through
 * (a config error naming the field).
 *
 * usearch calls the HNSW settings `connectivity`, `expansion_add` and `expansion_search`;
 * Milvus calls them `M`, `efConstruction` and `ef`. memmesh says `m`, `efConstruction` and
 * `efSearch` for both, and each backend maps them onto its own names where it calls its
 * library.
 */
import { ErrorCode, LIMITS, MeshError } from '@memmesh/core';

/** The settings of an HNSW graph, whichever backend builds it. */
export interface HnswOptions {
  /** Links per node (M). Fixed once a Milvus collection's index is built. */
  m: number;
  /** Candidate list size while inserting. Fixed once a Milvus collection's index is built. */
  efConstruction: number;
  /** Candidate list size while searching (ef); Milvus raises it to topK when smaller, as it requires. */
  efSearch: number;
}

export const DEFAULT_HNSW: Readonly<HnswOptions> = Object.freeze({
  /** Milvus's own documented default is 16; the recommended range for HNSW is 8 to 64. */
  m: 16,
  efConstruction: 128,
  /**
   * Measured, not guessed, with m 16. On 5,000 random unit vectors of 384 dimensions (the
   * hardest case, no structure for the graph to exploit) recall@10 was 0.57 at ef 64, 0.79 at
   * 128, 0.94 at 256 and 0.99 at 512. On text embedded by the local embedder it was 0.947 at
   * 128 and at or above 0.95 at 256 (embedded/embedded-index.test.ts), and 0.993 on the bench
   * corpus at 128. Search cost grows with ef, so 256 is the smallest that holds the 0.95 bar on
   * embeddings; random-vector workloads should set 512.
   */
  efSearch: 256,
});

/**
 * Both backends take the same ranges, so a setting one accepts the other accepts too. Memory
 * per node grows linearly with links; past 256, recall gains no longer pay for it. An ef of
 * 512 already reaches recall 0.99 on random vectors, so 32,768 is far beyond any use and only
 * keeps a typo from making every search walk the whole graph.
 */
export const HNSW_RANGES = {
  m: { min: 2, max: 256 },
  ef: { min: 1, max: 32_768 },
} as const;

/** The HNSW settings with defaults filled in, each checked against its range. */
export function resolveHnsw(owner: string, options: Partial<HnswOptions> | undefined): HnswOptions {
  const hnsw: HnswOptions = {
    m: options?.m ?? DEFAULT_HNSW.m,
    efConstruction: options?.efConstruction ?? DEFAULT_HNSW.efConstruction,
    efSearch: options?.efSearch ?? DEFAULT_HNSW.efSearch,
  };
  checkInteger(owner, 'hnsw.m', hnsw.m, HNSW_RANGES.m.min, HNSW_RANGES.m.max);
  checkInteger(owner, 'hnsw.efConstruction', hnsw.efConstruction, HNSW_RANGES.ef.min, HNSW_RANGES.ef.max);
  checkInteger(owner, 'hnsw.efSearch', hnsw.efSearch, HNSW_RANGES.ef.min, HNSW_RANGES.ef.max);
  return hnsw;
}

/**
 * An index holds the vectors that events carry, and an event's vectors have at most
 * LIMITS.dimensionsMax dimensions: an index of more could never be filled. Milvus itself
 * takes up to 32,768; that does not matter here.
 */
export function checkDimensions(owner: string, dimensions: number): void {
  checkInteger(owner, 'dimensions', dimensions, 1, LIMITS.dimensionsMax);
}

export function checkInteger(owner: string, field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(owner, field, value, `an integer in [${min}, ${max}]`);
  }
}

/** `owner` names the backend, e.g. `embedded index`, so the message says whose option is bad. */
export function invalidOption(owner: string, field: string, value: unknown, expected: string): MeshError {
  return new MeshError(
    ErrorCode.Config,
    `${owner} option ${field} is ${String(value)}, expected ${expected}`,
  );
}
