/**
 * @module local-embedder
 * The embedded default `Embedder`: deterministic, offline signed feature hashing of words
 * and word pairs. It needs no model files and no network, so a local mesh and every test
 * run the same vectors everywhere. It matches shared words, not meaning: a paraphrase that
 * reuses words ranks high, a synonym does not. Production uses a learned model instead.
 */
import { ErrorCode, LIMITS, MeshError } from '@memmesh/core';
import { fmix32, fnv1a32, pairHash } from './hash.ts';
import { STOP_WORDS, tokenize } from './tokenize.ts';
import type { Embedder } from './types.ts';

export interface LocalEmbedderOptions {
  /** Vector length. Fewer dimensions mean more hash collisions between unrelated words. */
  dimensions?: number;
  /** Largest number of texts one `embed` call accepts. */
  batchSizeMax?: number;
}

export const DEFAULT_LOCAL_EMBEDDER_OPTIONS: Readonly<Required<LocalEmbedderOptions>> = {
  dimensions: 384,
  batchSizeMax: 256,
};

/** The model id; any change to tokens, weights or hashing must change it. */
export const LOCAL_EMBEDDER_MODEL = 'local-hash-v1';

/** Below this, collisions swamp the signal; above it, the vectors are mostly zeros. */
const DIMENSIONS_MIN = 16;
/** What an event may carry (lib/core limits). */
const DIMENSIONS_MAX = LIMITS.dimensionsMax;
/** A batch is embedded synchronously, so this bounds how long one call holds the event loop. */
const BATCH_SIZE_MAX_LIMIT = 4096;

/** Word pairs add word order and phrases, but must not outvote the words themselves. */
const BIGRAM_WEIGHT = 0.5;
/** Stop words still count a little, so that "to be or not to be" is not the empty vector. */
const STOP_WORD_WEIGHT = 0.15;

export function createLocalEmbedder(options: LocalEmbedderOptions = {}): Embedder {
  const resolved = { ...DEFAULT_LOCAL_EMBEDDER_OPTIONS, ...options };
  validateOptions(resolved);
  return new LocalEmbedder(resolved);
}

function validateOptions(options: Required<LocalEmbedderOptions>): void {
  const { dimensions, batchSizeMax } = options;
  if (!Number.isInteger(dimensions) || dimensions < DIMENSIONS_MIN || dimensions > DIMENSIONS_MAX) {
    throw new MeshError(
      ErrorCode.Config,
      `local embedder: dimensions must be an integer in [${DIMENSIONS_MIN}, ${DIMENSIONS_MAX}], got ${dimensions}`,
    );
  }
  if (!Number.isInteger(batchSizeMax) || batchSizeMax < 1 || batchSizeMax > BATCH_SIZE_MAX_LIMIT) {
    throw new MeshError(
      ErrorCode.Config,
      `local embedder: batchSizeMax must be an integer in [1, ${BATCH_SIZE_MAX_LIMIT}], got ${batchSizeMax}`,
    );
  }
}

class LocalEmbedder implements Embedder {
  readonly modelId: string;
  readonly dimensions: number;
  readonly batchSizeMax: number;
  /** Scratch space reused across texts; safe because `embedOne` never awaits. */
  readonly #counts = new Map<number, number>();
  readonly #weights = new Map<number, number>();
  readonly #sums: Float64Array;
  readonly #emptyVector: Float32Array;
  #closed = false;

  constructor(options: Required<LocalEmbedderOptions>) {
    this.dimensions = options.dimensions;
    this.batchSizeMax = options.batchSizeMax;
    // The dimension is part of the model: vectors of different lengths must never mix.
    const isDefault = options.dimensions === DEFAULT_LOCAL_EMBEDDER_OPTIONS.dimensions;
    this.modelId = isDefault ? LOCAL_EMBEDDER_MODEL : `${LOCAL_EMBEDDER_MODEL}-${options.dimensions}`;
    this.#sums = new Float64Array(options.dimensions);
    this.#emptyVector = new Float32Array(options.dimensions).fill(1 / Math.sqrt(options.dimensions));
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (this.#closed) throw new Error('local embedder: embed called after close');
    if (texts.length > this.batchSizeMax) {
      throw new RangeError(`local embedder: ${texts.length} texts exceed batchSizeMax ${this.batchSizeMax}`);
    }
    return texts.map((text) => this.#embedOne(text));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #embedOne(text: string): Float32Array {
    this.#countFeatures(tokenize(text));
    const sums = this.#sums;
    sums.fill(0);
    for (const [feature, count] of this.#counts) {
      // Sublinear tf: the tenth repetition of a word adds far less than the first.
      const weight = (1 + Math.log(count)) * (this.#weights.get(feature) as number);
      // The low bit picks the sign, so colliding features cancel on average instead of adding up.
      const index = (feature >>> 1) % this.dimensions;
      sums[index] = (sums[index] as number) + (feature & 1 ? -weight : weight);
    }
    return this.#unitVector(sums);
  }

  /** Fills the scratch maps with each feature's count and base weight. */
  #countFeatures(tokens: readonly string[]): void {
    this.#counts.clear();
    this.#weights.clear();
    let previousHash = 0;
    let previousWeight = 0;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as string;
      const hash = fnv1a32(token);
      const weight = STOP_WORDS.has(token) ? STOP_WORD_WEIGHT : 1;
      this.#addFeature(fmix32(hash), weight);
      if (i > 0) {
        // A pair is as weak as its weaker word: "the cat" says little beyond "cat".
        this.#addFeature(pairHash(previousHash, hash), BIGRAM_WEIGHT * Math.min(weight, previousWeight));
      }
      previousHash = hash;
      previousWeight = weight;
    }
  }

  #addFeature(feature: number, weight: number): void {
    const count = this.#counts.get(feature);
    if (count === undefined) {
      this.#counts.set(feature, 1);
      this.#weights.set(feature, weight);
    } else {
      this.#counts.set(feature, count + 1);
    }
  }

  /** L2-normalises into a fresh vector; a text without features gets a fixed unit vector. */
  #unitVector(sums: Float64Array): Float32Array {
    let squares = 0;
    for (let i = 0; i < sums.length; i++) squares += (sums[i] as number) * (sums[i] as number);
    if (squares === 0) return this.#emptyVector.slice();
    const scale = 1 / Math.sqrt(squares);
    const vector = new Float32Array(sums.length);
    for (let i = 0; i < sums.length; i++) vector[i] = (sums[i] as number) * scale;
    return vector;
  }
}
