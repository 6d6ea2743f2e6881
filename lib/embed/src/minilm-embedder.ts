/**
 * @module minilm-embedder
 * A local semantic `Embedder`: sentence-transformers' all-MiniLM-L6-v2 (384 dimensions) as an
 * int8 ONNX graph on ONNX Runtime's CPU provider, with BERT's WordPiece tokenizer, mean pooling
 * over the attention mask and L2 normalisation, the recipe the model was trained with. Unlike
 * the hashing embedder it matches meaning, not shared words. The model files are installed by
 * scripts/models/install-minilm.sh; nothing is downloaded at run time.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MeshError } from '@memmesh/core';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Embedder } from './types.ts';
import { encode, parseVocab, type WordPieceVocab } from './wordpiece.ts';

export interface MiniLmEmbedderOptions {
  /** Directory holding `model.onnx` and `vocab.txt` (MEMMESH_MINILM_DIR in the toolchain). */
  modelDir: string;
  /** Largest number of texts one `embed` call accepts. */
  batchSizeMax?: number;
  /**
   * Texts per ONNX Runtime run. Each run pads its texts to the longest one, so runs are formed
   * from texts of similar length, and smaller runs bound the memory of one run.
   */
  runBatchSizeMax?: number;
  /** Tokens per text, [CLS] and [SEP] included; longer text keeps its head. */
  tokensMax?: number;
  /** ONNX Runtime's intra-op threads: the cores one run may use. */
  threads?: number;
}

export const MINILM_MODEL = 'all-minilm-l6-v2';
export const MINILM_DIMENSIONS = 384;
/** The sequence length all-MiniLM-L6-v2 was trained with (its max_seq_length). */
export const MINILM_TOKENS_MAX = 256;

export const DEFAULT_MINILM_EMBEDDER_OPTIONS = {
  batchSizeMax: 256,
  runBatchSizeMax: 16,
  tokensMax: MINILM_TOKENS_MAX,
  threads: 2,
} as const;

/** One call holds at most this many tokenized texts in memory. */
const BATCH_SIZE_MAX_LIMIT = 4096;
const RUN_BATCH_SIZE_MAX_LIMIT = 256;
/** Below this a text keeps almost nothing of itself. */
const TOKENS_MIN = 8;
const THREADS_MAX = 64;
const MODEL_FILE = 'model.onnx';
const VOCAB_FILE = 'vocab.txt';

type ResolvedOptions = Required<MiniLmEmbedderOptions>;

export async function createMiniLmEmbedder(options: MiniLmEmbedderOptions): Promise<Embedder> {
  const resolved: ResolvedOptions = {
    ...DEFAULT_MINILM_EMBEDDER_OPTIONS,
    ...stripUndefined(options),
  } as ResolvedOptions;
  validateOptions(resolved);
  const modelPath = join(resolved.modelDir, MODEL_FILE);
  const vocabPath = join(resolved.modelDir, VOCAB_FILE);
  for (const path of [modelPath, vocabPath]) {
    const found = await stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!found) {
      throw new MeshError(
        ErrorCode.Config,
        `minilm embedder: ${path} is missing; run scripts/models/install-minilm.sh (npm test and npm start do)`,
      );
    }
  }
  const vocab = parseVocab(await readFile(vocabPath, 'utf8'));
  const session = await InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: resolved.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  try {
    checkSession(session);
  } catch (err) {
    await session.release();
    throw err;
  }
  return new MiniLmEmbedder(resolved, vocab, session);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateOptions(o: ResolvedOptions): void {
  const check = (field: keyof ResolvedOptions, min: number, max: number): void => {
    const value = o[field];
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      throw new MeshError(
        ErrorCode.Config,
        `minilm embedder: ${field} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`,
      );
    }
  };
  if (typeof o.modelDir !== 'string' || o.modelDir === '') {
    throw new MeshError(ErrorCode.Config, 'minilm embedder: modelDir must name the model directory');
  }
  check('batchSizeMax', 1, BATCH_SIZE_MAX_LIMIT);
  check('runBatchSizeMax', 1, RUN_BATCH_SIZE_MAX_LIMIT);
  check('tokensMax', TOKENS_MIN, MINILM_TOKENS_MAX);
  check('threads', 1, THREADS_MAX);
}

/** A different graph under the same file name would silently give different vectors. */
function checkSession(session: InferenceSession): void {
  for (const name of ['input_ids', 'attention_mask']) {
    if (!session.inputNames.includes(name)) {
      throw new MeshError(ErrorCode.Config, `minilm embedder: model.onnx has no input ${name}`);
    }
  }
  if (session.outputNames.length === 0) {
    throw new MeshError(ErrorCode.Config, 'minilm embedder: model.onnx has no output');
  }
}

class MiniLmEmbedder implements Embedder {
  readonly modelId = MINILM_MODEL;
  readonly dimensions = MINILM_DIMENSIONS;
  readonly batchSizeMax: number;
  readonly #options: ResolvedOptions;
  readonly #vocab: WordPieceVocab;
  readonly #session: InferenceSession;
  readonly #withTokenTypes: boolean;
  readonly #outputName: string;
  #closed = false;

  constructor(options: ResolvedOptions, vocab: WordPieceVocab, session: InferenceSession) {
    this.#options = options;
    this.batchSizeMax = options.batchSizeMax;
    this.#vocab = vocab;
    this.#session = session;
    this.#withTokenTypes = session.inputNames.includes('token_type_ids');
    this.#outputName = session.outputNames.includes('last_hidden_state')
      ? 'last_hidden_state'
      : (session.outputNames[0] as string);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (this.#closed) throw new Error('minilm embedder: embed called after close');
    if (texts.length > this.batchSizeMax) {
      throw new RangeError(`minilm embedder: ${texts.length} texts exceed batchSizeMax ${this.batchSizeMax}`);
    }
    const tokenized = texts.map((text) => encode(text, this.#vocab, this.#options.tokensMax));
    // Runs of similar length waste little on padding; the order is stable, so the same batch
    // always forms the same runs and gives bit-identical vectors.
    const order = tokenized
      .map((_, i) => i)
      .sort((a, b) => tokenized[a]!.length - tokenized[b]!.length || a - b);
    const vectors: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < order.length; start += this.#options.runBatchSizeMax) {
      const run = order.slice(start, start + this.#options.runBatchSizeMax);
      const pooled = await this.#run(run.map((i) => tokenized[i] as number[]));
      run.forEach((textIndex, k) => {
        vectors[textIndex] = pooled[k] as Float32Array;
      });
    }
    return vectors;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }

  /** One ONNX Runtime run over texts padded to the longest; returns pooled unit vectors. */
  async #run(batch: readonly number[][]): Promise<Float32Array[]> {
    const rows = batch.length;
    const columns = Math.max(...batch.map((ids) => ids.length));
    const ids = new BigInt64Array(rows * columns).fill(BigInt(this.#vocab.padId));
    const mask = new BigInt64Array(rows * columns);
    batch.forEach((tokens, row) => {
      tokens.forEach((id, column) => {
        ids[row * columns + column] = BigInt(id);
        mask[row * columns + column] = 1n;
      });
    });
    const feeds: Record<string, Tensor> = {
      input_ids: new Tensor('int64', ids, [rows, columns]),
      attention_mask: new Tensor('int64', mask, [rows, columns]),
    };
    if (this.#withTokenTypes)
      feeds.token_type_ids = new Tensor('int64', new BigInt64Array(rows * columns), [rows, columns]);
    const output = (await this.#session.run(feeds))[this.#outputName] as Tensor;
    try {
      const [outRows, outColumns, hidden] = output.dims;
      if (outRows !== rows || outColumns !== columns || hidden !== this.dimensions) {
        throw new MeshError(
          ErrorCode.Internal,
          `minilm embedder: unexpected output shape [${output.dims.join(', ')}]`,
        );
      }
      return batch.map((tokens, row) =>
        meanPoolUnit(output.data as Float32Array, row, columns, tokens.length, hidden),
      );
    } finally {
      output.dispose();
    }
  }
}

/**
 * Mean of the token vectors of one row, padding excluded (the attention mask is 1 exactly for
 * the first `length` positions), then scaled to unit length. Sums run in float64.
 */
function meanPoolUnit(
  hiddenStates: Float32Array,
  row: number,
  columns: number,
  length: number,
  hidden: number,
): Float32Array {
  const sums = new Float64Array(hidden);
  for (let t = 0; t < length; t++) {
    const offset = (row * columns + t) * hidden;
    for (let d = 0; d < hidden; d++) sums[d] = (sums[d] as number) + (hiddenStates[offset + d] as number);
  }
  // Dividing by the length does not change the direction, so the norm alone is enough.
  let squares = 0;
  for (let d = 0; d < hidden; d++) squares += (sums[d] as number) * (sums[d] as number);
  const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
  const vector = new Float32Array(hidden);
  for (let d = 0; d < hidden; d++) vector[d] = (sums[d] as number) * scale;
  return vector;
}
