/**
 * @module mount
 * MCP at `/mcp` (Streamable HTTP, stateless; DESIGN §11) on a service's Hono app: the
 * gateway's and, the same way, a region agent's. It sits beside the route table, not in it:
 * it is one JSON-RPC endpoint whose operations are the table's own — each tool calls its API
 * route through the client, in process, against the same app it is mounted on, so a tool
 * call goes through that service's authentication, scopes, tenant rate limit (and on the
 * gateway, its dispatch and failover) exactly as the HTTP route does. The endpoint itself
 * takes a key with the `read` scope (each tool's call is checked again against its route's
 * scope), authenticated by the service, and counts against the tenant's limit.
 */
import { LIMITS } from '@memmesh/core';
import { bearerKeyOf, missingBearer } from '@memmesh/http';
import type { Context, Env, Hono } from 'hono';
import { createMcpHttp, inProcessClient } from './http.ts';

export const MCP_PATH = '/mcp';
/** A JSON-RPC request around the largest tool argument (a memory: one write body). */
export const MCP_BODY_BYTES_MAX = 2 * LIMITS.bodyBytesMax;

export interface McpMountOptions<E extends Env> {
  /**
   * Checks the request's key for the `read` scope and takes one from the tenant's limit
   * (401/403/429 by throwing the service's errors); the service's own key check.
   */
  authenticate: (c: Context<E>) => Promise<unknown>;
  onError: (err: Error) => void;
}

export function mountMcp<E extends Env>(app: Hono<E>, options: McpMountOptions<E>): void {
  const mcp = createMcpHttp({
    clientFor: (apiKey) => inProcessClient((request) => app.fetch(request), apiKey),
    bodyBytesMax: MCP_BODY_BYTES_MAX,
    onError: options.onError,
  });
  app.all(MCP_PATH, async (c) => {
    await options.authenticate(c);
    const key = bearerKeyOf(c.req.header('authorization'));
    if (key === undefined) throw missingBearer();
    return mcp.fetch(c.req.raw, key);
  });
}
