/**
 * @module openai-embedder
 * The production `Embedder`: OpenAI's embeddings API, or any server that speaks its wire format
 * (`POST {baseURL}/embeddings`), through the `openai` SDK. This module owns what the SDK leaves
 * to the caller: the retry policy, splitting a batch into requests that fit the API's limits,
 * checking every response against the configured dimension and count, and turning failures
 * into `MeshError`s whose `retryable` flag tells ingestion whether to answer 503.
 */
import { ErrorCode, LIMITS, MeshError, type RetryPolicy, withRetry } from '@memmesh/core';
import OpenAI from 'openai';
import type { Embedder } from './types.ts';

export interface OpenAiRetryInfo {
  /** The attempt that failed, 1-based. */
  attempt: number;
  /** HTTP status of the failed attempt; undefined for connection errors and timeouts. */
  status?: number;
  delayMs: number;
}

export interface OpenAiRequestInfo {
  attempt: number;
  inputs: number;
  durationMs: number;
  /** HTTP status, when the server answered with an error. */
  status?: number;
  ok: boolean;
}

export interface OpenAiEmbedderOptions {
  /** The API key; required so that the SDK never falls back to reading the environment. */
  apiKey: string;
  /** e.g. `text-embedding-3-small`. */
  model: string;
  /** The vector length the model returns (or is asked for, see `requestDimensions`). */
  dimensions: number;
  /**
   * Send `dimensions` in the request. Only some models accept it (OpenAI's text-embedding-3
   * family, which shortens its vectors); others reject the field, so it defaults to true for
   * `text-embedding-3*` models only.
   */
  requestDimensions?: boolean;
  /** Any OpenAI-compatible server, e.g. `http://127.0.0.1:8080/v1`. */
  baseURL?: string;
  /** Recorded in every event; defaults to `model`. */
  modelId?: string;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Largest number of texts one `embed` call accepts (and one request carries). */
  batchSizeMax?: number;
  /** Cap on the total characters of one request; a larger batch is split into several requests. */
  requestCharsMax?: number;
  /**
   * `base64` (the SDK's default, a third of the bytes of JSON floats) or `float` for servers
   * that only know the original format.
   */
  encodingFormat?: 'base64' | 'float';
  retry?: Partial<RetryPolicy>;
  onRetry?: (info: OpenAiRetryInfo) => void;
  onRequest?: (info: OpenAiRequestInfo) => void;
}

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** The API's own limit on inputs per request. */
export const OPENAI_REQUEST_INPUTS_MAX = 2048;

/**
 * The API allows 300,000 tokens per request. Characters are counted because the SDK has no
 * tokenizer; English runs about four characters per token, and even scripts that take two
 * tokens per character stay under the limit at 150,000 characters.
 */
export const OPENAI_REQUEST_CHARS_MAX = 150_000;

/** Attempts in all, the first included: a ceiling on how long one `embed` call can take. */
export const OPENAI_ATTEMPTS_MAX = 10;

export const DEFAULT_OPENAI_RETRY_POLICY: Readonly<RetryPolicy> = {
  attemptsMax: 4,
  initialDelayMs: 250,
  // Also the cap on a server's Retry-After: a longer wait belongs to the caller, not to one call.
  delayMsMax: 8_000,
  multiplier: 2,
};

export const DEFAULT_OPENAI_EMBEDDER_OPTIONS = {
  baseURL: DEFAULT_OPENAI_BASE_URL,
  timeoutMs: 30_000,
  batchSizeMax: 512,
  requestCharsMax: OPENAI_REQUEST_CHARS_MAX,
  encodingFormat: 'base64',
} as const;

const TIMEOUT_MS_MAX = 600_000;
/**
 * What an event may carry (lib/core limits): an embedder accepted at more dimensions would
 * make events that the schema refuses, so the limit is checked at start-up instead.
 */
const DIMENSIONS_MAX = LIMITS.dimensionsMax;

type ResolvedOptions = Required<Omit<OpenAiEmbedderOptions, 'retry' | 'onRetry' | 'onRequest'>> & {
  retry: RetryPolicy;
  onRetry: OpenAiEmbedderOptions['onRetry'];
  onRequest: OpenAiEmbedderOptions['onRequest'];
};

export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  const resolved = addDefaults(options);
  validateOptions(resolved);
  return new OpenAiEmbedder(resolved);
}

function addDefaults(options: OpenAiEmbedderOptions): ResolvedOptions {
  // Required fields that are missing stay undefined here and are reported by validateOptions.
  return {
    ...DEFAULT_OPENAI_EMBEDDER_OPTIONS,
    modelId: options.model,
    requestDimensions: typeof options.model === 'string' && options.model.startsWith('text-embedding-3'),
    ...stripUndefined(options),
    retry: { ...DEFAULT_OPENAI_RETRY_POLICY, ...stripUndefined(options.retry ?? {}) },
    onRetry: options.onRetry,
    onRequest: options.onRequest,
  } as ResolvedOptions;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateOptions(o: ResolvedOptions): void {
  const fail = (field: string, rule: string, value: unknown): never => {
    throw new MeshError(
      ErrorCode.Config,
      `openai embedder: ${field} must be ${rule}, got ${JSON.stringify(value)}`,
    );
  };
  const isInt = (v: unknown, min: number, max: number): boolean =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
  if (typeof o.apiKey !== 'string' || o.apiKey === '') fail('apiKey', 'a non-empty string', '<missing>');
  if (typeof o.model !== 'string' || o.model === '') fail('model', 'a non-empty string', o.model);
  if (typeof o.modelId !== 'string' || o.modelId === '') fail('modelId', 'a non-empty string', o.modelId);
  if (!isInt(o.dimensions, 1, DIMENSIONS_MAX))
    fail('dimensions', `an integer in [1, ${DIMENSIONS_MAX}]`, o.dimensions);
  if (!URL.canParse(o.baseURL) || !/^https?:$/.test(new URL(o.baseURL).protocol)) {
    fail('baseURL', 'an http(s) URL', o.baseURL);
  }
  if (!isInt(o.timeoutMs, 1, TIMEOUT_MS_MAX))
    fail('timeoutMs', `an integer in [1, ${TIMEOUT_MS_MAX}]`, o.timeoutMs);
  if (!isInt(o.batchSizeMax, 1, OPENAI_REQUEST_INPUTS_MAX)) {
    fail('batchSizeMax', `an integer in [1, ${OPENAI_REQUEST_INPUTS_MAX}]`, o.batchSizeMax);
  }
  if (!isInt(o.requestCharsMax, 1, OPENAI_REQUEST_CHARS_MAX)) {
    fail('requestCharsMax', `an integer in [1, ${OPENAI_REQUEST_CHARS_MAX}]`, o.requestCharsMax);
  }
  if (o.encodingFormat !== 'base64' && o.encodingFormat !== 'float') {
    fail('encodingFormat', "'base64' or 'float'", o.encodingFormat);
  }
  const { attemptsMax, initialDelayMs, delayMsMax, multiplier } = o.retry;
  if (!isInt(attemptsMax, 1, OPENAI_ATTEMPTS_MAX)) {
    fail('retry.attemptsMax', `an integer in [1, ${OPENAI_ATTEMPTS_MAX}]`, attemptsMax);
  }
  if (!isInt(initialDelayMs, 0, TIMEOUT_MS_MAX))
    fail('retry.initialDelayMs', 'a non-negative integer', initialDelayMs);
  if (!isInt(delayMsMax, initialDelayMs, TIMEOUT_MS_MAX)) {
    fail('retry.delayMsMax', `an integer in [initialDelayMs, ${TIMEOUT_MS_MAX}]`, delayMsMax);
  }
  if (!(multiplier >= 1 && multiplier <= 10)) fail('retry.multiplier', 'a number in [1, 10]', multiplier);
}

/** Splits texts into consecutive runs that respect the per-request character cap. */
export function splitRequests(texts: readonly string[], requestCharsMax: number): (readonly string[])[] {
  const requests: string[][] = [];
  let current: string[] = [];
  let chars = 0;
  for (const text of texts) {
    // A single text over the cap still goes alone: only the server can say whether it fits.
    if (current.length > 0 && chars + text.length > requestCharsMax) {
      requests.push(current);
      current = [];
      chars = 0;
    }
    current.push(text);
    chars += text.length;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** An attempt's failure, classified once so that retry decisions and the final error agree. */
class AttemptError extends Error {
  override readonly name = 'AttemptError';
  readonly kind: 'status' | 'connection' | 'timeout';
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: AttemptError['kind'],
    status: number | undefined,
    retryAfterMs: number | undefined,
    options: { cause: unknown },
  ) {
    super(kind === 'status' ? `HTTP ${status}` : kind, options);
    this.kind = kind;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /**
   * 408, 409 and 429 are transient by definition, 5xx are the server's own failures, and a
   * connection error or timeout may succeed on a fresh connection. Any other 4xx says the
   * request itself is wrong, and repeating it unchanged cannot help.
   */
  get retryable(): boolean {
    if (this.kind !== 'status') return true;
    const status = this.status as number;
    return status === 408 || status === 409 || status === 429 || status >= 500;
  }
}

class OpenAiEmbedder implements Embedder {
  readonly modelId: string;
  readonly dimensions: number;
  readonly batchSizeMax: number;
  readonly #options: ResolvedOptions;
  readonly #client: OpenAI;
  #closed = false;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.modelId = options.modelId;
    this.dimensions = options.dimensions;
    this.batchSizeMax = options.batchSizeMax;
    // Every setting the SDK would otherwise read from process.env is given explicitly, and its
    // own retries are off: the policy here is the only one, so attempts and waits are bounded.
    this.#client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      organization: null,
      project: null,
      webhookSecret: null,
      adminAPIKey: null,
      maxRetries: 0,
      timeout: options.timeoutMs,
      logLevel: 'off',
    });
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (this.#closed) throw new Error('openai embedder: embed called after close');
    if (texts.length > this.batchSizeMax) {
      throw new RangeError(`openai embedder: ${texts.length} texts exceed batchSizeMax ${this.batchSizeMax}`);
    }
    const vectors: Float32Array[] = [];
    // Requests go one after another: a batch is at most a few requests, and running them in
    // parallel would multiply the rate-limit pressure that the retry policy tries to relieve.
    for (const request of splitRequests(texts, this.#options.requestCharsMax)) {
      vectors.push(...(await this.#embedRequest(request)));
    }
    return vectors;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async #embedRequest(texts: readonly string[]): Promise<Float32Array[]> {
    let attempts = 0;
    let body: unknown;
    try {
      body = await withRetry(
        (attempt) => {
          attempts = attempt;
          return this.#attempt(texts, attempt);
        },
        {
          policy: this.#options.retry,
          isRetryable: (err) => err instanceof AttemptError && err.retryable,
          retryAfterMs: (err) => (err instanceof AttemptError ? err.retryAfterMs : undefined),
          onRetry: (err, attempt, delayMs) => {
            const status = err instanceof AttemptError ? err.status : undefined;
            this.#options.onRetry?.(
              status === undefined ? { attempt, delayMs } : { attempt, status, delayMs },
            );
          },
        },
      );
    } catch (err) {
      throw this.#finalError(err, attempts);
    }
    return this.#parseBody(body, texts.length);
  }

  async #attempt(texts: readonly string[], attempt: number): Promise<unknown> {
    const { model, dimensions, requestDimensions, encodingFormat } = this.#options;
    const started = performance.now();
    const report = (ok: boolean, status?: number): void => {
      const durationMs = performance.now() - started;
      const info = { attempt, inputs: texts.length, durationMs, ok };
      this.#options.onRequest?.(status === undefined ? info : { ...info, status });
    };
    try {
      // The SDK asks for base64 and decodes it when no format is given; `float` is explicit.
      const body = await this.#client.embeddings.create({
        model,
        input: texts as string[],
        ...(requestDimensions ? { dimensions } : {}),
        ...(encodingFormat === 'float' ? { encoding_format: 'float' as const } : {}),
      });
      report(true);
      return body;
    } catch (err) {
      const classified = classify(err);
      report(false, classified?.status);
      // Anything that is not an HTTP or transport failure (a body that is not JSON, base64 that
      // is not float32) is a malformed response: not retried, reported as such.
      throw classified ?? new MalformedBodyError(err);
    }
  }

  #parseBody(body: unknown, expected: number): Float32Array[] {
    const data = (body as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) {
      throw this.#error(ErrorCode.Upstream, 'response has no data array', { cause: body });
    }
    if (data.length !== expected) {
      throw this.#error(ErrorCode.Upstream, `response has ${data.length} embeddings for ${expected} inputs`);
    }
    const vectors: (Float32Array | undefined)[] = new Array(expected);
    for (const item of data as unknown[]) {
      const { index, embedding } = (item ?? {}) as { index?: unknown; embedding?: unknown };
      if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= expected) {
        throw this.#error(ErrorCode.Upstream, `response item has index ${JSON.stringify(index)}`);
      }
      if (vectors[index as number] !== undefined) {
        throw this.#error(ErrorCode.Upstream, `response repeats index ${index}`);
      }
      vectors[index as number] = this.#unitVector(embedding, index as number);
    }
    return vectors as Float32Array[];
  }

  #unitVector(embedding: unknown, index: number): Float32Array {
    if (!Array.isArray(embedding) && !(embedding instanceof Float32Array)) {
      throw this.#error(ErrorCode.Upstream, `embedding ${index} is not an array of numbers`);
    }
    if (embedding.length !== this.dimensions) {
      // A model that ignores `dimensions`, or a configuration that names the wrong model.
      throw this.#error(
        ErrorCode.Upstream,
        `embedding ${index} has ${embedding.length} dimensions, configured ${this.dimensions}`,
      );
    }
    const vector = Float32Array.from(embedding as ArrayLike<number>);
    let squares = 0;
    for (const x of vector) squares += x * x;
    if (!Number.isFinite(squares) || squares === 0) {
      throw this.#error(ErrorCode.Upstream, `embedding ${index} is zero or not finite`);
    }
    const scale = 1 / Math.sqrt(squares);
    for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) * scale;
    return vector;
  }

  #finalError(err: unknown, attempts: number): MeshError {
    if (err instanceof MalformedBodyError) {
      return this.#error(ErrorCode.Upstream, 'response body is malformed', { cause: err.cause });
    }
    if (!(err instanceof AttemptError))
      return this.#error(ErrorCode.Internal, 'unexpected failure', { cause: err });
    const details = { status: err.status, attempts };
    const retryAfter = err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs };
    if (err.kind === 'timeout') {
      return this.#error(ErrorCode.Timeout, `timed out after ${attempts} attempt(s)`, {
        cause: err,
        details,
      });
    }
    if (err.retryable) {
      // 429 and 5xx end as 503 for our own callers: the provider, not their request, is at fault.
      const what = err.kind === 'connection' ? 'connection failed' : `server answered ${err.status}`;
      const message = `${what}; gave up after ${attempts} attempt(s)`;
      return this.#error(ErrorCode.Unavailable, message, { cause: err, details, ...retryAfter });
    }
    const status = err.status as number;
    // 400, 413 and 422 reject the input (too long, empty); 401, 403 and 404 mean our key or model
    // is wrong, a deployment error that the client cannot fix: a 502 for the caller.
    const code =
      status === 400 || status === 413 || status === 422 ? ErrorCode.BadRequest : ErrorCode.Upstream;
    return this.#error(code, `server rejected the request with ${status}`, { cause: err, details });
  }

  #error(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: unknown; retryAfterMs?: number } = {},
  ) {
    return new MeshError(code, `openai embedder (${this.#options.model}): ${message}`, options);
  }
}

class MalformedBodyError extends Error {
  override readonly name = 'MalformedBodyError';
  constructor(cause: unknown) {
    super('malformed body', { cause });
  }
}

function classify(err: unknown): AttemptError | undefined {
  if (err instanceof OpenAI.APIConnectionTimeoutError)
    return new AttemptError('timeout', undefined, undefined, { cause: err });
  if (err instanceof OpenAI.APIConnectionError)
    return new AttemptError('connection', undefined, undefined, { cause: err });
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    return new AttemptError('status', err.status, retryAfterMsOf(err.headers), { cause: err });
  }
  return undefined;
}

/** Retry-After hints in milliseconds are capped here; the retry policy caps them again. */
const RETRY_AFTER_MS_MAX = 600_000;

/**
 * The server's wait hint: `retry-after-ms` (OpenAI's own, in milliseconds), else `Retry-After`
 * in seconds or as an HTTP date. Unparseable or negative values are ignored.
 */
export function retryAfterMsOf(headers: Headers | undefined, nowMs: number = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.min(RETRY_AFTER_MS_MAX, Math.ceil(ms));
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.min(RETRY_AFTER_MS_MAX, Math.ceil(Number(value) * 1000));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.min(RETRY_AFTER_MS_MAX, Math.max(0, date - nowMs));
}
