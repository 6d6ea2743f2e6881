/**
 * @module lexical
 * The lexical (BM25) half of a tenant's view: one MiniSearch index per (shard, tenant), whose
 * documents are the tenant's chunks, keyed by the same numeric key as the chunk's vector.
 *
 * Why MiniSearch: it scores with BM25+ (the variant that keeps long documents from scoring
 * below short ones that lack the term), tokenises Unicode text on word boundaries, adds and
 * removes documents one at a time (a view is updated per event, never rebuilt), and has no
 * dependencies. Chunks rather than whole documents
 * are the unit so that one sentence inside a long memory is not diluted by the rest of its
 * text (BM25 normalises by length); a document then scores by its best chunk, as it does in
 * the vector half.
 *
 * Removal uses `remove(document)` with the chunk's exact text (the record still holds it)
 * rather than `discard`: it leaves no garbage behind to vacuum, and vacuuming runs
 * asynchronously, which would make a snapshot's state depend on timing.
 */
import { LIMITS } from '@memmesh/core';
import MiniSearch, { type Options } from 'minisearch';

/** What is indexed for one chunk: its key and its text. */
interface LexicalChunk {
  id: number;
  text: string;
}

export interface LexicalMatch {
  /** The chunk's key (the same as its vector's). */
  key: number;
  /** BM25+ score; higher is better, not bounded. */
  score: number;
}

/** Chunk keys are positive; the query's probe (see `search`) takes one that never is. */
const QUERY_PROBE_KEY = -1;

const OPTIONS: Options<LexicalChunk> = {
  fields: ['text'],
  idField: 'id',
  // No stored fields: the record holds the text, and a second copy would double memory.
  storeFields: [],
  // Removal is exact (see above), so there is never anything to vacuum.
  autoVacuum: false,
};

const tokenize = MiniSearch.getDefault('tokenize') as (text: string) => string[];
const processTerm = MiniSearch.getDefault('processTerm') as (
  term: string,
) => string | null | undefined | false;

/**
 * The query's distinct terms, as the index processes them, at most LIMITS.queryTermsMax: a
 * query's cost grows with its terms, and a 4 KiB query could otherwise hold hundreds.
 */
export function queryTerms(text: string): string[] {
  const terms = new Set<string>();
  for (const token of tokenize(text)) {
    const term = processTerm(token);
    if (typeof term !== 'string' || term.length === 0) continue;
    terms.add(term);
    if (terms.size >= LIMITS.queryTermsMax) break;
  }
  return [...terms];
}

/** The distinct processed terms of a text, as the index stores them. */
function termsOf(text: string): Set<string> {
  const terms = new Set<string>();
  for (const token of tokenize(text)) {
    const term = processTerm(token);
    if (typeof term === 'string' && term.length > 0) terms.add(term);
  }
  return terms;
}

/**
 * A query term found in more than this share of the tenant's chunks is left out of the
 * lexical half when the query has rarer ones. Its BM25 weight (IDF) is near zero anyway, but
 * MiniSearch would still score every chunk holding it: measured on 10,000 chunks, eight-word
 * queries with common words cost 16 ms p50 with them and well under a millisecond without.
 */
const COMMON_TERM_SHARE_MAX = 0.1;
/** Below this many chunks holding it, no term counts as common: scoring them costs little. */
const COMMON_TERM_CHUNKS_MIN = 256;

export class LexicalIndex {
  #search: MiniSearch<LexicalChunk>;
  /** Chunks holding each term (document frequency), to leave common terms out of queries. */
  readonly #chunksWith: Map<string, number>;

  private constructor(search: MiniSearch<LexicalChunk>, chunksWith: Map<string, number>) {
    this.#search = search;
    this.#chunksWith = chunksWith;
  }

  static create(): LexicalIndex {
    return new LexicalIndex(new MiniSearch<LexicalChunk>(OPTIONS), new Map());
  }

  add(key: number, text: string): void {
    this.#search.add({ id: key, text });
    for (const term of termsOf(text)) this.#chunksWith.set(term, (this.#chunksWith.get(term) ?? 0) + 1);
  }

  /** Removes a chunk added with exactly this text. */
  remove(key: number, text: string): void {
    if (!this.#search.has(key)) return;
    this.#search.remove({ id: key, text });
    for (const term of termsOf(text)) {
      const left = (this.#chunksWith.get(term) ?? 1) - 1;
      if (left > 0) this.#chunksWith.set(term, left);
      else this.#chunksWith.delete(term);
    }
  }

  /**
   * The terms worth looking up: without the common ones (see COMMON_TERM_SHARE_MAX) unless
   * nothing rarer is held, then the rarest alone. Terms this index does not hold stay: they
   * match only the query's probe, whose self-score must count them, or a shard that lacks a
   * query's rare word would score a chunk holding its common words alone as a full match.
   */
  #selective(terms: readonly string[]): string[] {
    const commonFrom = Math.max(COMMON_TERM_CHUNKS_MIN, COMMON_TERM_SHARE_MAX * this.#search.documentCount);
    const chunksWith = (term: string) => this.#chunksWith.get(term) ?? 0;
    const held = terms.filter((term) => chunksWith(term) > 0);
    const rare = held.filter((term) => chunksWith(term) <= commonFrom);
    const unheld = terms.filter((term) => chunksWith(term) === 0);
    if (rare.length > 0 || held.length === 0) return [...rare, ...unheld];
    const counts = held.map(chunksWith);
    return [held[counts.indexOf(Math.min(...counts))] as string, ...unheld];
  }

  /**
   * Chunks matching any of the terms, best first (every match: the caller folds and cuts),
   * and the score the query's own words would get as a chunk of this index (`selfScore`).
   *
   * BM25 is unbounded and its scale depends on the index's statistics, so a score alone
   * cannot say whether a match is strong; the self-score can: a chunk that holds every rare
   * word of the query scores near it, one that shares only common words far below. It is
   * measured by adding the query as a chunk under a key no chunk has, searching, and removing
   * it again, all in one synchronous step, so nothing else ever sees it.
   */
  search(queryTerms: readonly string[]): { matches: LexicalMatch[]; selfScore: number } {
    const terms = this.#selective(queryTerms);
    if (terms.length === 0 || this.#search.documentCount === 0) return { matches: [], selfScore: 0 };
    const probe = { id: QUERY_PROBE_KEY, text: terms.join(' ') };
    this.#search.add(probe);
    try {
      // The terms are already processed; the query is not tokenised again into other ones.
      const found = this.#search.search(
        { queries: [...terms], combineWith: 'OR' },
        { tokenize: (query) => [query], processTerm: (term) => term, prefix: false, fuzzy: false },
      );
      let selfScore = 0;
      const matches: LexicalMatch[] = [];
      for (const result of found) {
        if (result.id === QUERY_PROBE_KEY) selfScore = result.score;
        else matches.push({ key: result.id as number, score: result.score });
      }
      return { matches, selfScore };
    } finally {
      // Through MiniSearch alone: the probe never counted in #chunksWith.
      this.#search.remove(probe);
    }
  }
}
