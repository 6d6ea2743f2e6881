/**
 * @module openai-server
 * A local HTTP server speaking the OpenAI embeddings wire format (`POST /v1/embeddings`),
 * for tests of a region configured with an OpenAI-compatible embedder. OpenAI is a paid
 * external API, the one part the tests may stand in for; the vectors come from the function
 * the test passes (usually the local embedder), so search behaves as it would with it.
 * Listens on 127.0.0.1 on a port the kernel picks.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpenAiServerOptions {
  /** Unit vectors of `dimensions` for the texts, in order. */
  embed: (texts: string[], dimensions: number) => Promise<Float32Array[]>;
  /** Vector length when a request does not ask for one. */
  dimensions: number;
  /** Bearer key the server requires; unset = any. */
  apiKey?: string;
  /**
   * Whether `texts` keeps every text embedded (default true). A flood's stand-in turns it
   * off: it would hold every megabyte the flood ever sent.
   */
  keepTexts?: boolean;
}

export interface OpenAiServer {
  /** Base URL for the SDK, ending in `/v1`. */
  readonly url: string;
  /** Embedding requests answered so far (not counting refused ones). */
  readonly requests: number;
  /**
   * Every text embedded so far, in the order the answered requests came (each input once);
   * empty with `keepTexts: false`.
   */
  readonly texts: readonly string[];
  /** Answers the next `count` requests with `status` (429, 500…) instead of embeddings. */
  failNext(count: number, status: number, headers?: Record<string, string>): void;
  stop(): Promise<void>;
}

/** A request body larger than this is refused: the tests never send one. */
const BODY_BYTES_MAX = 16 * 1024 * 1024;

export async function startOpenAiServer(options: OpenAiServerOptions): Promise<OpenAiServer> {
  let requests = 0;
  const texts: string[] = [];
  let failures: { count: number; status: number; headers: Record<string, string> } | undefined;
  const server = createServer((req, res) => {
    void answer(req, res).catch((err: unknown) => reply(res, 500, { error: { message: String(err) } }));
  });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || !req.url?.endsWith('/embeddings')) {
      return reply(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return reply(res, 401, { error: { message: 'invalid api key', type: 'invalid_request_error' } });
    }
    const body = await readBody(req);
    if (failures && failures.count > 0) {
      failures.count--;
      return reply(res, failures.status, { error: { message: 'injected failure' } }, failures.headers);
    }
    const input = typeof body.input === 'string' ? [body.input] : (body.input as string[]);
    const dimensions = typeof body.dimensions === 'number' ? body.dimensions : options.dimensions;
    const vectors = await options.embed(input, dimensions);
    requests++;
    if (options.keepTexts !== false) texts.push(...input);
    const base64 = body.encoding_format === 'base64';
    reply(res, 200, {
      object: 'list',
      model: body.model,
      data: vectors.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding: base64
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
          : [...vector],
      })),
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return requests;
    },
    get texts() {
      return texts;
    },
    failNext(count, status, headers = {}) {
      failures = { count, status, headers };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > BODY_BYTES_MAX) throw new Error(`request body over ${BODY_BYTES_MAX} bytes`);
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
