/**
 * @module http
 * MCP over Streamable HTTP, stateless: every request gets a fresh server from the same
 * factory and nothing is kept between requests (no session ids), so any gateway instance can
 * answer any request and a failover needs no sticky sessions. The SDK's `createMcpHandler`
 * serves the current protocol revision and, for clients of the 2025 revisions, its stateless
 * fallback (an `initialize` per request; GET and DELETE, the 2025 session operations, are 405).
 * The caller authenticates: this gets the already checked API key and builds a client with it.
 */
import { createClient, type MemmeshClient } from '@memmesh/client';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { createMcpServer } from './tools.ts';

export interface McpHttpOptions {
  /** Makes the client for one request's API key (the gateway's: in process, through its own app). */
  clientFor: (apiKey: string) => MemmeshClient;
  /** The largest JSON-RPC body read (413 above it). */
  bodyBytesMax: number;
  onError?: (err: Error) => void;
}

export interface McpHttp {
  /** Serves one MCP request whose API key has been checked. */
  fetch(request: Request, apiKey: string): Promise<Response>;
  close(): Promise<void>;
}

export function createMcpHttp(options: McpHttpOptions): McpHttp {
  const handler = createMcpHandler(
    (ctx) => {
      const apiKey = ctx.authInfo?.token;
      // The entry point passes the key with every request; a factory call without one is a bug.
      if (!apiKey) throw new Error('MCP request without an API key reached the server factory');
      return createMcpServer(options.clientFor(apiKey));
    },
    {
      legacy: 'stateless',
      responseMode: 'json',
      maxRequestBodySize: options.bodyBytesMax,
      ...(options.onError ? { onerror: options.onError } : {}),
    },
  );
  return {
    fetch: (request, apiKey) =>
      handler.fetch(request, { authInfo: { token: apiKey, clientId: 'memmesh', scopes: [] } }),
    close: () => handler.close(),
  };
}

/** A client that sends its requests to `dispatch` (an app's fetch) instead of the network. */
export function inProcessClient(
  dispatch: (request: Request) => Response | Promise<Response>,
  apiKey: string,
) {
  return createClient({
    url: 'http://memmesh.internal',
    apiKey,
    fetch: async (input, init) => dispatch(new Request(input, init)),
    // The MCP caller retries; the gateway has already failed over between regions.
    retry: { attemptsMax: 1 },
  });
}
