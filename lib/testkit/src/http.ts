/**
 * @module http
 * HTTP for tests of memmesh's services: serving an app's `fetch` on a loopback port (and
 * closing and re-opening it on that same port, as a region that goes away and comes back),
 * and one JSON request helper that talks to an app in process (`app.request`, as hono tests
 * do) or to a URL over real HTTP, with the same reply either way.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

/** What hono's `app.fetch` is, as far as a server needs it. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface HttpServer {
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Drops open connections (keep-alive ones too) and resolves once the port is released. */
  close(): Promise<void>;
}

/** Serves `fetch` on 127.0.0.1; port 0 (the default) lets the kernel pick one. */
export async function serveHttp(fetch: FetchHandler, port = 0): Promise<HttpServer> {
  const server = serve({ fetch, hostname: '127.0.0.1', port }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    // Re-opening on a port something else took meanwhile fails here, not later.
    server.once('error', reject);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An app in process (anything with hono's `request`), or a base URL reached with `fetch`. */
export type JsonTarget = string | { request(path: string, init: RequestInit): Response | Promise<Response> };

export interface JsonReply {
  status: number;
  /**
   * The parsed JSON body; a body that is not JSON stays text, so a failing test shows it.
   * Untyped on purpose: tests read whatever fields the answer under test has.
   */
  // biome-ignore lint/suspicious/noExplicitAny: a test reads the fields of the reply it checks.
  body: any;
  headers: Headers;
  /** X-Memmesh-Region: which region served the request. */
  region: string | null;
  retryAfter: string | null;
  /** From sending the request to having read the whole body. */
  ms: number;
}

export type SendJson = (
  target: JsonTarget,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<JsonReply>;

/**
 * A `sendJson` with headers every request carries (an API key, say); a request's own headers
 * override them, and an empty value still sends the header empty.
 */
export function jsonSender(defaultHeaders: Record<string, string> = {}): SendJson {
  return (target, method, path, body, headers = {}) =>
    sendJson(target, method, path, body, { ...defaultHeaders, ...headers });
}

/**
 * One request. A body that is a string is sent as it is (for malformed JSON and oversized
 * bodies); anything else is sent as JSON. Content-Type is JSON whenever there is a body.
 */
export async function sendJson(
  target: JsonTarget,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const init: RequestInit = {
    method,
    headers: body === undefined ? { ...headers } : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  };
  const started = performance.now();
  const res =
    typeof target === 'string' ? await fetch(`${target}${path}`, init) : await target.request(path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: kept as text.
  }
  return {
    status: res.status,
    body: parsed,
    headers: res.headers,
    region: res.headers.get('x-memmesh-region'),
    retryAfter: res.headers.get('retry-after'),
    ms: performance.now() - started,
  };
}
