/**
 * The MiniLM embedder on the real model files that scripts/models/install-minilm.sh installs
 * (the toolchain exports MEMMESH_MINILM_DIR). Reference vectors in minilm-reference.json were
 * made once by scripts/models/minilm-reference.py: `int8` by Python onnxruntime on the same
 * model.onnx, tokenized by Hugging Face `tokenizers`, and `fp32` by a numpy forward pass over
 * the original weights, which reproduces the vector published on the model card.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dot, ErrorCode } from '@memmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEmbedderConformance } from '../src/conformance.ts';
import { createMiniLmEmbedder, type Embedder, MINILM_DIMENSIONS, MINILM_MODEL } from '../src/index.ts';
import { encode, parseVocab } from '../src/wordpiece.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const MODEL_DIR = process.env.MEMMESH_MINILM_DIR ?? join(HERE, '../../../.tools/models/all-MiniLM-L6-v2');

interface ReferenceSentence {
  text: string;
  ids: number[];
  fp32: number[];
  int8: number[];
}
const REFERENCE: ReferenceSentence[] = JSON.parse(
  readFileSync(join(HERE, 'minilm-reference.json'), 'utf8'),
).sentences;

/** Same graph, same tokens: only float summation order differs from Python onnxruntime. */
const INT8_COMPONENT_TOLERANCE = 2e-4;
/** int8 weights against the fp32 original: measured 0.9993 to 0.9996 on the references. */
const FP32_COSINE_MIN = 0.998;
/** Texts padded in a batch may differ from the same text alone in the last float bits. */
const CROSS_BATCH_TOLERANCE = 1e-4;

/** Token ids from Hugging Face `tokenizers` 0.23.3 on the model's tokenizer.json. */
const TOKENIZER_CASES: [string, number[]][] = [
  [
    "Hello, World! It's 3.14 o'clock.",
    [101, 7592, 1010, 2088, 999, 2009, 1005, 1055, 1017, 1012, 2403, 1051, 1005, 5119, 1012, 102],
  ],
  ['Café naïve résumé — ÜBER straße', [101, 7668, 15743, 13746, 1517, 19169, 2358, 27807, 102]],
  [
    '東京タワーは高い。漢字 and 中文',
    [101, 1879, 1755, 1709, 30262, 30265, 30198, 1981, 1647, 1636, 1904, 100, 1998, 1746, 1861, 102],
  ],
  [
    'emoji 😀 and tabs\tnew\nlines\u0000ctrl\u200b',
    [101, 7861, 29147, 2072, 100, 1998, 21628, 2015, 2047, 3210, 6593, 12190, 102],
  ],
  [
    'unaffable antidisestablishmentarianism xyzzyq',
    [
      101, 14477, 20961, 3468, 3424, 10521, 4355, 7875, 13602, 3672, 12199, 2964, 1060, 2100, 28753, 4160,
      102,
    ],
  ],
  [`${'a'.repeat(120)} end`, [101, 100, 2203, 102]],
  [
    '$5+3=8 <tag> ^~`|',
    [101, 1002, 1019, 1009, 1017, 1027, 1022, 1026, 6415, 1028, 1034, 1066, 1036, 1064, 102],
  ],
];

/** [text, paraphrase with few shared words, unrelated text]. */
const TRIPLES: [string, string, string][] = [
  [
    'A man is playing a guitar.',
    'Someone is strumming an acoustic guitar.',
    'The stock market fell sharply today.',
  ],
  [
    'How do I reset my password?',
    'I forgot my login credentials and need to change them.',
    'The recipe calls for two cups of flour.',
  ],
  ['The weather is lovely today.', "It's so sunny outside!", 'He drove to the stadium.'],
  ['The cat sat on the mat.', 'A kitten was resting on the rug.', 'Quarterly revenue grew in Europe.'],
  [
    'The deployment failed because the database was unreachable.',
    'Our release broke since the DB could not be contacted.',
    'She enjoys painting landscapes in the mountains.',
  ],
];

const open = (): Promise<Embedder> => createMiniLmEmbedder({ modelDir: MODEL_DIR, batchSizeMax: 64 });

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describeEmbedderConformance('minilm', open, { componentToleranceMax: CROSS_BATCH_TOLERANCE });

describe('minilm embedder', () => {
  let embedder: Embedder;

  beforeAll(async () => {
    embedder = await open();
  });
  afterAll(async () => {
    await embedder?.close();
  });

  it('minilm embedder - is all-MiniLM-L6-v2 with 384 dimensions', () => {
    expect(embedder.modelId).toBe(MINILM_MODEL);
    expect(embedder.dimensions).toBe(MINILM_DIMENSIONS);
  });

  it('minilm embedder - tokenizes as the reference BERT tokenizer does', () => {
    const vocab = parseVocab(readFileSync(join(MODEL_DIR, 'vocab.txt'), 'utf8'));
    for (const [text, ids] of TOKENIZER_CASES) expect(encode(text, vocab, 256), text).toEqual(ids);
    for (const { text, ids } of REFERENCE) expect(encode(text, vocab, 256)).toEqual(ids);
  });

  it('minilm embedder - keeps the head of a long text within the token limit', () => {
    const vocab = parseVocab(readFileSync(join(MODEL_DIR, 'vocab.txt'), 'utf8'));
    const long = Array.from({ length: 1_000 }, (_, i) => `word${i}`).join(' ');
    const ids = encode(long, vocab, 256);
    expect(ids).toHaveLength(256);
    expect(ids.slice(0, 20)).toEqual(encode(long.slice(0, 200), vocab, 256).slice(0, 20));
    expect(ids.at(-1)).toBe(vocab.sepId);
  });

  it('minilm embedder - matches the reference vectors', async () => {
    const vectors = await embedder.embed(REFERENCE.map((r) => r.text));
    REFERENCE.forEach((reference, i) => {
      const vector = vectors[i] as Float32Array;
      expect(Math.sqrt(dot(vector, vector))).toBeCloseTo(1, 5);
      for (let d = 0; d < MINILM_DIMENSIONS; d++) {
        expect(Math.abs((vector[d] as number) - (reference.int8[d] as number))).toBeLessThan(
          INT8_COMPONENT_TOLERANCE,
        );
      }
      expect(cosine(vector, reference.fp32)).toBeGreaterThan(FP32_COSINE_MIN);
    });
    // Pinned here as well, so that a changed fixture cannot hide a changed model: the first eight
    // fp32 components of the model card's example sentence (the numpy reference; its first five
    // are the values sentence-transformers' documentation prints).
    const card = [0.0676568, 0.063496, 0.0487131, 0.079305, 0.0374481, 0.0026528, 0.0393749, -0.0070985];
    card.forEach((value, d) => {
      expect(Math.abs((vectors[0]?.[d] as number) - value)).toBeLessThan(0.005);
    });
  });

  it('minilm embedder - ranks a paraphrase above an unrelated sentence', async () => {
    const vectors = await embedder.embed(TRIPLES.flat());
    for (let t = 0; t < TRIPLES.length; t++) {
      const [text, paraphrase, unrelated] = vectors.slice(t * 3, t * 3 + 3) as Float32Array[];
      const close = dot(text!, paraphrase!);
      const far = dot(text!, unrelated!);
      expect(close - far, TRIPLES[t]?.[0]).toBeGreaterThan(0.2);
    }
  });

  it('minilm embedder - rejects a missing model directory with a config error', async () => {
    await expect(createMiniLmEmbedder({ modelDir: join(HERE, 'no-such-model') })).rejects.toThrow(
      expect.objectContaining({
        code: ErrorCode.Config,
        message: expect.stringMatching(/install-minilm\.sh/),
      }),
    );
    await expect(createMiniLmEmbedder({ modelDir: MODEL_DIR, tokensMax: 512 })).rejects.toThrow('tokensMax');
  });
});
