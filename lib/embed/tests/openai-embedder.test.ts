/**
 * Contract tests of the OpenAI embedder against a local `node:http` server that speaks the
 * embeddings wire format (POST /v1/embeddings). The paid API is the one thing memmesh fakes:
 * the server answers with deterministic vectors derived from each text's sha256.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, isMeshError, MeshError } from '@memmesh/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeEmbedderConformance } from '../src/conformance.ts';
import {
  createOpenAiEmbedder,
  type OpenAiEmbedderOptions,
  type OpenAiRequestInfo,
  type OpenAiRetryInfo,
  retryAfterMsOf,
} from '../src/index.ts';

const DIMENSIONS = 64;
const MODEL = 'text-embedding-3-small';
const API_KEY = 'sk-test-local';
/** Request bodies above this are refused by the fake server, as a real one would. */
const BODY_BYTES_MAX = 8 * 1024 * 1024;

interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: { model: string; input: string[]; dimensions?: number; encoding_format?: string };
}

/** Writes the answer to one request; returning false means "answer normally". */
type Override = (req: RecordedRequest, res: ServerResponse) => boolean | undefined;

/** Raw, unnormalised vector for a text: the embedder must normalise it. */
function fakeVector(text: string, dimensions: number): Float32Array {
  let seed = createHash('sha256').update(text).digest().readUInt32LE(0);
  const vector = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) {
    // mulberry32: a tiny deterministic generator, good enough for distinct test vectors.
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    vector[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5) * 3;
  }
  return vector;
}

function unit(vector: Float32Array): Float32Array {
  let squares = 0;
  for (const x of vector) squares += x * x;
  return vector.map((x) => x / Math.sqrt(squares));
}

class FakeOpenAi {
  readonly requests: RecordedRequest[] = [];
  /** One override per request, consumed in order; `always` answers when the queue is empty. */
  readonly queue: Override[] = [];
  always: Override | undefined;
  #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => {
        res.writeHead(500).end(String(err));
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
  }

  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.always = undefined;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of req) {
      bytes += (chunk as Buffer).length;
      if (bytes > BODY_BYTES_MAX) return void res.writeHead(413).end();
      chunks.push(chunk as Buffer);
    }
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
    };
    this.requests.push(recorded);
    const override = this.queue.shift() ?? this.always;
    if (override?.(recorded, res)) return;
    if (recorded.method !== 'POST' || recorded.url !== '/v1/embeddings') return void res.writeHead(404).end();
    json(res, 200, embeddingsBody(recorded.body));
  }
}

function embeddingsBody(body: RecordedRequest['body'], dimensions = body.dimensions ?? DIMENSIONS) {
  const data = body.input.map((text, index) => {
    const vector = fakeVector(text, dimensions);
    const embedding =
      body.encoding_format === 'base64' ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector);
    return { object: 'embedding', index, embedding };
  });
  // Reversed on purpose: the client must order by `index`, not by position.
  data.reverse();
  return { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): true {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  return true;
}

function errorBody(status: number, headers: Record<string, string> = {}): Override {
  return (_req, res) => json(res, status, { error: { message: `status ${status}`, type: 'test' } }, headers);
}

const fake = new FakeOpenAi();

beforeAll(async () => {
  await fake.start();
});
afterEach(() => {
  fake.reset();
});
afterAll(async () => {
  await fake.stop();
});

function open(options: Partial<OpenAiEmbedderOptions> = {}) {
  return createOpenAiEmbedder({
    apiKey: API_KEY,
    model: MODEL,
    dimensions: DIMENSIONS,
    baseURL: fake.url,
    timeoutMs: 5_000,
    retry: { attemptsMax: 3, initialDelayMs: 10, delayMsMax: 2_000, multiplier: 2 },
    ...options,
  });
}

async function rejection(promise: Promise<unknown>): Promise<MeshError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MeshError);
  return err as MeshError;
}

describeEmbedderConformance('openai (local wire-format server)', async () => open({ batchSizeMax: 64 }));

describe('openai embedder', () => {
  it('openai embedder - sends model, dimensions and base64 by default and returns unit vectors in order', async () => {
    const requests: OpenAiRequestInfo[] = [];
    const embedder = open({ onRequest: (info) => requests.push(info) });
    const texts = ['alpha', 'beta', 'gamma'];
    const vectors = await embedder.embed(texts);
    expect(vectors).toEqual(texts.map((text) => unit(fakeVector(text, DIMENSIONS))));
    expect(embedder.modelId).toBe(MODEL);
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request?.body).toEqual({
      model: MODEL,
      input: texts,
      dimensions: DIMENSIONS,
      encoding_format: 'base64',
    });
    expect(requests).toEqual([{ attempt: 1, inputs: 3, durationMs: expect.any(Number), ok: true }]);
  });

  it('openai embedder - speaks float encoding and leaves out dimensions when told to', async () => {
    const embedder = open({ model: 'other-model', encodingFormat: 'float', requestDimensions: false });
    const vectors = await embedder.embed(['alpha', 'beta']);
    expect(vectors).toEqual(['alpha', 'beta'].map((text) => unit(fakeVector(text, DIMENSIONS))));
    expect(fake.requests[0]?.body).toEqual({
      model: 'other-model',
      input: ['alpha', 'beta'],
      encoding_format: 'float',
    });
  });

  it('openai embedder - splits a large batch into requests under the character cap', async () => {
    const embedder = open({ requestCharsMax: 1_000, batchSizeMax: 2048 });
    const texts = Array.from({ length: 2048 }, (_, i) => `document ${i} `.padEnd(100, 'x'));
    const vectors = await embedder.embed(texts);
    expect(fake.requests).toHaveLength(Math.ceil((2048 * 100) / 1_000));
    for (const request of fake.requests)
      expect(request.body.input.join('').length).toBeLessThanOrEqual(1_000);
    expect(fake.requests.flatMap((r) => r.body.input)).toEqual(texts);
    expect(vectors).toEqual(texts.map((text) => unit(fakeVector(text, DIMENSIONS))));
  });

  it('openai embedder - retries a 429 after the Retry-After seconds, then succeeds', async () => {
    const retries: OpenAiRetryInfo[] = [];
    fake.queue.push(errorBody(429, { 'retry-after': '1' }));
    const embedder = open({ onRetry: (info) => retries.push(info) });
    const started = performance.now();
    const vectors = await embedder.embed(['alpha']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(vectors).toHaveLength(1);
    expect(retries).toEqual([{ attempt: 1, status: 429, delayMs: 1_000 }]);
    expect(fake.requests).toHaveLength(2);
  });

  it('openai embedder - prefers retry-after-ms and retries connection resets', async () => {
    const retries: OpenAiRetryInfo[] = [];
    fake.queue.push(errorBody(503, { 'retry-after-ms': '30', 'retry-after': '5' }));
    fake.queue.push((_req, res) => {
      res.socket?.destroy();
      return true;
    });
    const embedder = open({ onRetry: (info) => retries.push(info) });
    await expect(embedder.embed(['alpha'])).resolves.toHaveLength(1);
    expect(retries[0]).toEqual({ attempt: 1, status: 503, delayMs: 30 });
    expect(retries[1]).toEqual({ attempt: 2, delayMs: expect.any(Number) });
  });

  it('openai embedder - reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const headers = (init: Record<string, string>) => new Headers(init);
    expect(retryAfterMsOf(headers({ 'retry-after': '2' }), now)).toBe(2_000);
    expect(retryAfterMsOf(headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:03 GMT' }), now)).toBe(3_000);
    expect(retryAfterMsOf(headers({ 'retry-after': 'Mon, 31 Dec 2029 23:59:00 GMT' }), now)).toBe(0);
    expect(retryAfterMsOf(headers({ 'retry-after-ms': '12.5' }), now)).toBe(13);
    expect(retryAfterMsOf(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMsOf(headers({}), now)).toBeUndefined();
  });

  it('openai embedder - gives up on a 500 storm after attemptsMax, retryable, in bounded time', async () => {
    const retries: OpenAiRetryInfo[] = [];
    fake.always = errorBody(500);
    const embedder = open({
      retry: { attemptsMax: 4, initialDelayMs: 20, delayMsMax: 80, multiplier: 2 },
      onRetry: (info) => retries.push(info),
    });
    const started = performance.now();
    const err = await rejection(embedder.embed(['alpha']));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(err.code).toBe(ErrorCode.Unavailable);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/500.*4 attempt/);
    expect(fake.requests).toHaveLength(4);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    // Equal jitter: each wait lies in [ceiling/2, ceiling] of a doubling ceiling capped at 80 ms.
    retries.forEach((r, i) => {
      const ceiling = Math.min(80, 20 * 2 ** i);
      expect(r.delayMs).toBeGreaterThanOrEqual(ceiling / 2);
      expect(r.delayMs).toBeLessThanOrEqual(ceiling);
    });
  });

  it('openai embedder - does not retry 401 or 400, and says they are not retryable', async () => {
    fake.always = errorBody(401);
    const unauthorized = await rejection(open().embed(['alpha']));
    expect(unauthorized.code).toBe(ErrorCode.Upstream);
    expect(unauthorized.retryable).toBe(false);
    expect(fake.requests).toHaveLength(1);
    fake.always = errorBody(400);
    const bad = await rejection(open().embed(['alpha']));
    expect(bad.code).toBe(ErrorCode.BadRequest);
    expect(bad.retryable).toBe(false);
    expect(fake.requests).toHaveLength(2);
  });

  it('openai embedder - reports a malformed body clearly and does not retry it', async () => {
    const malformed: Override[] = [
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"data": [tru');
        return true;
      },
      (_req, res) => json(res, 200, { object: 'list' }),
      (_req, res) => json(res, 200, { data: [{ index: 0, embedding: 'not base64 floats!' }] }),
      (_req, res) =>
        json(res, 200, { data: [{ index: 7, embedding: Array.from(fakeVector('a', DIMENSIONS)) }] }),
    ];
    for (const override of malformed) {
      fake.reset();
      fake.always = override;
      const err = await rejection(open({ encodingFormat: 'base64' }).embed(['alpha']));
      expect(err.code).toBe(ErrorCode.Upstream);
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(/openai embedder/);
      expect(fake.requests).toHaveLength(1);
    }
  });

  it('openai embedder - rejects a response of the wrong dimension', async () => {
    fake.always = (req, res) => json(res, 200, embeddingsBody(req.body, DIMENSIONS + 1));
    const err = await rejection(open().embed(['alpha', 'beta']));
    expect(isMeshError(err, ErrorCode.Upstream)).toBe(true);
    expect(err.message).toMatch(`${DIMENSIONS + 1} dimensions, configured ${DIMENSIONS}`);
  });

  it('openai embedder - rejects a response with the wrong number of embeddings', async () => {
    fake.always = (req, res) =>
      json(res, 200, embeddingsBody({ ...req.body, input: req.body.input.slice(1) }));
    const err = await rejection(open().embed(['alpha', 'beta', 'gamma']));
    expect(isMeshError(err, ErrorCode.Upstream)).toBe(true);
    expect(err.message).toMatch('2 embeddings for 3 inputs');
  });

  it('openai embedder - times out a server that does not answer, retries, then fails as a timeout', async () => {
    // The server keeps the request open; the client's timeout aborts it and closes the socket.
    fake.always = () => true;
    const requests: OpenAiRequestInfo[] = [];
    const embedder = open({
      timeoutMs: 200,
      retry: { attemptsMax: 2, initialDelayMs: 10, delayMsMax: 10, multiplier: 1 },
      onRequest: (info) => requests.push(info),
    });
    const started = performance.now();
    const err = await rejection(embedder.embed(['alpha']));
    const elapsedMs = performance.now() - started;
    expect(elapsedMs).toBeGreaterThanOrEqual(400);
    expect(elapsedMs).toBeLessThan(2_000);
    expect(err.code).toBe(ErrorCode.Timeout);
    expect(err.retryable).toBe(true);
    expect(requests.map((r) => [r.attempt, r.ok])).toEqual([
      [1, false],
      [2, false],
    ]);
  });

  it('openai embedder - rejects invalid options with a config error naming the field', () => {
    const cases: [Partial<OpenAiEmbedderOptions>, string][] = [
      [{ apiKey: '' }, 'apiKey'],
      [{ dimensions: 0 }, 'dimensions'],
      [{ batchSizeMax: 2049 }, 'batchSizeMax'],
      [{ requestCharsMax: 0 }, 'requestCharsMax'],
      [{ baseURL: 'ftp://127.0.0.1/v1' }, 'baseURL'],
      [{ retry: { attemptsMax: 11, initialDelayMs: 1, delayMsMax: 1, multiplier: 1 } }, 'retry.attemptsMax'],
    ];
    for (const [options, field] of cases) {
      expect(() => open(options)).toThrow(expect.objectContaining({ code: ErrorCode.Config }));
      expect(() => open(options)).toThrow(field);
    }
  });
});
