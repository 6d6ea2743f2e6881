/**
 * @module lexical
 * The lexical (BM25) half of a tenant's view: one MiniSearch index per (shard, tenant), whose
 * documents are the tenant's chunks, keyed by the same numeric key as the chunk's vector.
 *
 * Why MiniSearch: it scores with BM25+ (the variant that keeps long documents from scoring
 * below short ones that lack the term), tokenises Unicode text on word boundaries, adds and
 * removes documents one at a time (a view is updated per event, never rebuilt), serialises
 * to JSON and back (snapshots), and has no dependencies. Chunks rather than whole documents
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

/**
 * One serialisation format for every lexical index, named in snapshots: a change of
 * tokenisation or term processing makes old files unusable (they are rebuilt from text).
 */
export const LEXICAL_FORMAT = 1;

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

export class LexicalIndex {
  #search: MiniSearch<LexicalChunk>;

  private constructor(search: MiniSearch<LexicalChunk>) {
    this.#search = search;
  }

  static create(): LexicalIndex {
    return new LexicalIndex(new MiniSearch<LexicalChunk>(OPTIONS));
  }

  /** Loads a serialised index; undefined when the JSON is not one (the caller rebuilds). */
  static load(json: string): LexicalIndex | undefined {
    try {
      return new LexicalIndex(MiniSearch.loadJSON<LexicalChunk>(json, OPTIONS));
    } catch {
      return undefined;
    }
  }

  get chunkCount(): number {
    return this.#search.documentCount;
  }

  has(key: number): boolean {
    return this.#search.has(key);
  }

  add(key: number, text: string): void {
    this.#search.add({ id: key, text });
  }

  /** Removes a chunk added with exactly this text. */
  remove(key: number, text: string): void {
    if (this.#search.has(key)) this.#search.remove({ id: key, text });
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
  search(terms: readonly string[]): { matches: LexicalMatch[]; selfScore: number } {
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
      this.#search.remove(probe);
    }
  }

  toJSON(): string {
    return JSON.stringify(this.#search);
  }
}
