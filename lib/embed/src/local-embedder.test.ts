import { dot, ErrorCode, isMeshError } from '@memmesh/core';
import { seededRandom } from '@memmesh/testkit';
import { describe, expect, it } from 'vitest';
import { describeEmbedderConformance } from './conformance.ts';
import { createLocalEmbedder, DEFAULT_LOCAL_EMBEDDER_OPTIONS, LOCAL_EMBEDDER_MODEL } from './index.ts';

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'zen',
  'tor',
  'vek',
  'ri',
  'sa',
  'dun',
  'pel',
  'qua',
  'bix',
  'nor',
  'fe',
];
const COMMON_SENTENCES = [
  'The team met on Monday to review the quarterly plan.',
  'Please remember to update the shared notes after the call.',
  'The deployment finished without errors in every region.',
  'Our customers asked for faster search and better filters.',
  'The agent stored a summary of the conversation for later.',
  'Latency stayed under fifty milliseconds during the test.',
];

function makeWord(random: () => number): string {
  const length = 2 + Math.floor(random() * 3);
  let word = '';
  for (let i = 0; i < length; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
  return word;
}

/** Documents that share boilerplate and differ by one sentence of invented words. */
function makeCorpus(count: number): { docs: string[]; distinctive: string[] } {
  const random = seededRandom(42);
  const docs: string[] = [];
  const distinctive: string[] = [];
  for (let d = 0; d < count; d++) {
    const words = Array.from({ length: 6 }, () => makeWord(random));
    const sentence = `The ${words.join(' ')} report.`;
    const filler = Array.from(
      { length: 4 },
      () => COMMON_SENTENCES[Math.floor(random() * COMMON_SENTENCES.length)],
    );
    docs.push([...filler.slice(0, 2), sentence, ...filler.slice(2)].join(' '));
    distinctive.push(sentence);
  }
  return { docs, distinctive };
}

function norm(vector: Float32Array): number {
  return Math.sqrt(dot(vector, vector));
}

describeEmbedderConformance('local', async () => createLocalEmbedder());

describe('local embedder', () => {
  it('local embedder - has the default model id, dimensions and batch limit', () => {
    const embedder = createLocalEmbedder();
    expect(embedder.modelId).toBe(LOCAL_EMBEDDER_MODEL);
    expect(embedder.modelId).toBe('local-hash-v1');
    expect(embedder.dimensions).toBe(DEFAULT_LOCAL_EMBEDDER_OPTIONS.dimensions);
    expect(embedder.batchSizeMax).toBe(DEFAULT_LOCAL_EMBEDDER_OPTIONS.batchSizeMax);
  });

  it('local embedder - names non-default dimensions in the model id', async () => {
    const embedder = createLocalEmbedder({ dimensions: 256 });
    expect(embedder.modelId).toBe('local-hash-v1-256');
    const [vector] = await embedder.embed(['hello world']);
    expect(vector?.length).toBe(256);
  });

  it('local embedder - is deterministic across calls and instances', async () => {
    const texts = ['The quick brown fox jumps over the lazy dog.', 'Ünïcödé wörds и кириллица 漢字 123'];
    const first = await createLocalEmbedder().embed(texts);
    const second = await createLocalEmbedder().embed(texts);
    const again = await createLocalEmbedder().embed([texts[1] as string]);
    expect(second).toEqual(first);
    expect(again[0]).toEqual(first[1]);
  });

  it('local embedder - returns unit vectors, including for text without tokens', async () => {
    const embedder = createLocalEmbedder();
    const vectors = await embedder.embed(['a short sentence', 'to be or not to be', '', '  ...  !? ', 'x']);
    for (const vector of vectors) {
      expect(vector.length).toBe(embedder.dimensions);
      expect(vector.every(Number.isFinite)).toBe(true);
      expect(norm(vector)).toBeCloseTo(1, 5);
    }
    expect(vectors[2]).toEqual(vectors[3]);
  });

  it('local embedder - ignores case and punctuation', async () => {
    const [a, b] = await createLocalEmbedder().embed(['Hello, World!', 'hello world']);
    expect(a).toEqual(b);
  });

  it('local embedder - ranks a paraphrase with shared words above an unrelated text', async () => {
    const [text, paraphrase, unrelated] = await createLocalEmbedder().embed([
      'The cat sat on the mat near the kitchen door.',
      'A cat was sitting on a mat by the kitchen door.',
      'Quarterly revenue grew strongly in the European market.',
    ]);
    const close = dot(text!, paraphrase!);
    const far = dot(text!, unrelated!);
    expect(close).toBeGreaterThan(far);
    expect(close).toBeGreaterThan(0.5);
  });

  it('local embedder - finds each document by its distinctive sentence', async () => {
    const { docs, distinctive } = makeCorpus(200);
    const embedder = createLocalEmbedder();
    const docVectors = await embedder.embed(docs.slice(0, 100));
    docVectors.push(...(await embedder.embed(docs.slice(100))));
    const queryVectors = await embedder.embed(distinctive.slice(0, 100));
    queryVectors.push(...(await embedder.embed(distinctive.slice(100))));
    queryVectors.forEach((query, expected) => {
      let best = -1;
      let bestScore = Number.NEGATIVE_INFINITY;
      docVectors.forEach((doc, index) => {
        const score = dot(query, doc);
        if (score > bestScore) {
          bestScore = score;
          best = index;
        }
      });
      expect(best, distinctive[expected]).toBe(expected);
    });
  });

  it('local embedder - rejects a batch larger than batchSizeMax', async () => {
    const embedder = createLocalEmbedder({ batchSizeMax: 4 });
    await expect(embedder.embed(['a', 'b', 'c', 'd', 'e'])).rejects.toThrow(RangeError);
    await expect(embedder.embed(['a', 'b', 'c', 'd'])).resolves.toHaveLength(4);
    await expect(embedder.embed([])).resolves.toEqual([]);
  });

  it('local embedder - rejects invalid options with a config error', () => {
    for (const options of [{ dimensions: 0 }, { dimensions: 100.5 }, { batchSizeMax: 0 }]) {
      let caught: unknown;
      try {
        createLocalEmbedder(options);
      } catch (err) {
        caught = err;
      }
      expect(isMeshError(caught, ErrorCode.Config)).toBe(true);
    }
  });
});
