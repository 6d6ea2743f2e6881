/**
 * @module conformance
 * The one test suite every `Embedder` passes (DESIGN §5): the local hashing embedder, MiniLM
 * on ONNX Runtime, and the OpenAI embedder against a local server that speaks its wire format.
 * It uses only the `Embedder` interface. Texts are never empty, since OpenAI rejects empty input.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Embedder } from './types.ts';

export interface EmbedderConformanceOptions {
  /**
   * Largest difference allowed per component between two embeddings of the same text. Zero
   * demands bit-identical vectors; a neural model batched with padding may differ in the last
   * bits from one batch composition to another, so it passes a small tolerance instead.
   */
  componentToleranceMax?: number;
}

/** Checked to this many decimal places (1e-5): float32 vectors summed in float64. */
const UNIT_NORM_DIGITS = 5;
/** Below this cosine two different texts count as different vectors. */
const DISTINCT_COSINE_MAX = 0.9999;

const SAMPLE_TEXTS = [
  'The deployment finished without errors in every region.',
  'Our customers asked for faster search and better filters.',
  'Ünïcödé wörds и кириллица 漢字 123',
  'x',
  'A much longer text about memory: the agent stored a summary of the conversation, the open tasks, and the names of the people involved, so that the next session can continue.',
];

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

function expectSameVector(
  actual: Float32Array | undefined,
  expected: Float32Array | undefined,
  tolerance: number,
) {
  expect(actual).toBeInstanceOf(Float32Array);
  expect(actual?.length).toBe(expected?.length);
  if (tolerance === 0) {
    expect(actual).toEqual(expected);
    return;
  }
  let worst = 0;
  for (let i = 0; i < (expected as Float32Array).length; i++) {
    worst = Math.max(worst, Math.abs((actual as Float32Array)[i]! - (expected as Float32Array)[i]!));
  }
  expect(worst).toBeLessThanOrEqual(tolerance);
}

function expectUnitVectors(vectors: readonly Float32Array[], dimensions: number): void {
  for (const vector of vectors) {
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector.length).toBe(dimensions);
    expect(vector.every(Number.isFinite)).toBe(true);
    expect(Math.sqrt(dot(vector, vector))).toBeCloseTo(1, UNIT_NORM_DIGITS);
  }
}

export function describeEmbedderConformance(
  name: string,
  open: () => Promise<Embedder>,
  options: EmbedderConformanceOptions = {},
): void {
  const tolerance = options.componentToleranceMax ?? 0;

  describe(`${name} embedder conformance`, () => {
    let embedder: Embedder;

    beforeEach(async () => {
      embedder = await open();
    });
    afterEach(async () => {
      await embedder.close();
    });

    it('embedder - names its model, dimension and batch limit', () => {
      expect(embedder.modelId).toMatch(/^\S+$/);
      expect(Number.isInteger(embedder.dimensions) && embedder.dimensions > 0).toBe(true);
      expect(Number.isInteger(embedder.batchSizeMax) && embedder.batchSizeMax > 0).toBe(true);
    });

    it('embedder - returns one unit vector of `dimensions` per input, in input order', async () => {
      const vectors = await embedder.embed(SAMPLE_TEXTS);
      expect(vectors).toHaveLength(SAMPLE_TEXTS.length);
      expectUnitVectors(vectors, embedder.dimensions);
      const reversed = await embedder.embed([...SAMPLE_TEXTS].reverse());
      reversed.reverse();
      for (const [i, vector] of reversed.entries()) expectSameVector(vector, vectors[i], tolerance);
      for (const [i, text] of SAMPLE_TEXTS.entries()) {
        const [alone] = await embedder.embed([text]);
        expectSameVector(alone, vectors[i], tolerance);
      }
      // Different texts must not collapse onto one vector.
      for (let i = 1; i < vectors.length; i++) {
        expect(dot(vectors[i - 1]!, vectors[i]!)).toBeLessThan(DISTINCT_COSINE_MAX);
      }
    });

    it('embedder - is deterministic for the same input, across calls and instances', async () => {
      const first = await embedder.embed(SAMPLE_TEXTS);
      const second = await embedder.embed(SAMPLE_TEXTS);
      const other = await open();
      try {
        const third = await other.embed(SAMPLE_TEXTS);
        expect(other.modelId).toBe(embedder.modelId);
        first.forEach((vector, i) => {
          expectSameVector(second[i], vector, tolerance);
          expectSameVector(third[i], vector, tolerance);
        });
      } finally {
        await other.close();
      }
    });

    it('embedder - accepts a batch of batchSizeMax and rejects a larger one', async () => {
      const texts = Array.from(
        { length: embedder.batchSizeMax },
        (_, i) => `note ${i}: ${SAMPLE_TEXTS[i % 2]}`,
      );
      const vectors = await embedder.embed(texts);
      expect(vectors).toHaveLength(texts.length);
      expectUnitVectors(vectors, embedder.dimensions);
      await expect(embedder.embed([...texts, 'one too many'])).rejects.toThrow(RangeError);
    });

    it('embedder - answers an empty batch with no vectors', async () => {
      await expect(embedder.embed([])).resolves.toEqual([]);
    });

    it('embedder - keeps its model id and dimension across calls', async () => {
      const { modelId, dimensions } = embedder;
      await embedder.embed(SAMPLE_TEXTS.slice(0, 2));
      expect(embedder.modelId).toBe(modelId);
      expect(embedder.dimensions).toBe(dimensions);
    });

    it('embedder - close is idempotent', async () => {
      await embedder.close();
      await expect(embedder.close()).resolves.toBeUndefined();
    });
  });
}
