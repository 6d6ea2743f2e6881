/**
 * @module corpus
 * A deterministic synthetic corpus for the bench: short memories (one chunk each) built
 * from a vocabulary of common and rare words, so that similarity search has real work to do.
 */
import { seededRandom } from './stats.ts';

const COMMON = (
  'the a of to and in for on with as by at from agent user memory task plan step tool result ' +
  'error request customer order deploy service region cache index query note meeting team project'
).split(' ');
const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'zen',
  'tor',
  'vek',
  'ri',
  'sa',
  'pul',
  'dra',
  'no',
  'qui',
  'bel',
  'fi',
  'gar',
  'hu',
];

function vocabulary(size: number, random: () => number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const n = 2 + Math.floor(random() * 3);
    words.add(Array.from({ length: n }, () => SYLLABLES[Math.floor(random() * SYLLABLES.length)]).join(''));
  }
  return [...words];
}

export interface BenchDoc {
  id: string;
  text: string;
}

/** `count` memories of 25-40 words (about 150-300 characters). */
export function makeCorpus(count: number, seed = 7): BenchDoc[] {
  const random = seededRandom(seed);
  const rare = vocabulary(4_000, random);
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)] as string;
  return Array.from({ length: count }, (_, i) => {
    const length = 25 + Math.floor(random() * 16);
    const words = Array.from({ length }, () => (random() < 0.55 ? pick(COMMON) : pick(rare)));
    return { id: `bench-${i}`, text: `${words.join(' ')}.` };
  });
}

/**
 * `count` distinct queries: eight consecutive words of a random document. Distinct, so that
 * neither the result cache nor the embedding cache can answer one query for another.
 */
export function makeQueries(corpus: readonly BenchDoc[], count: number, seed = 11): string[] {
  const random = seededRandom(seed);
  const queries = new Set<string>();
  // Collisions are rare; the attempt bound only keeps a degenerate corpus from looping forever.
  for (let attempt = 0; queries.size < count && attempt < count * 20; attempt++) {
    const doc = corpus[Math.floor(random() * corpus.length)] as BenchDoc;
    const words = doc.text.replace(/\.$/, '').split(' ');
    const start = Math.floor(random() * Math.max(1, words.length - 8));
    queries.add(words.slice(start, start + 8).join(' '));
  }
  if (queries.size < count) throw new Error(`only ${queries.size} distinct queries of ${count} wanted`);
  return [...queries];
}
