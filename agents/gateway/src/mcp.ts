/**
 * @module mcp
 * MCP at `/mcp` (Streamable HTTP, stateless; DESIGN §11). It sits beside the route table, not
 * in it: it is one JSON-RPC endpoint whose operations are the table's own — each tool calls
 * its API route through the client, in process, against this same app, so a tool call goes
 * through the same authentication, scopes, tenant rate limit, dispatch and failover as the
 * HTTP route. The endpoint itself takes a key with the `read` scope (the tools' calls are
 * checked again, each against its route's scope) and counts against the tenant's limit.
 */
import { LIMITS } from '@memmesh/core';
import { bearerKeyOf, missingBearer } from '@memmesh/http';
import { createMcpHttp, inProcessClient } from '@memmesh/mcp';
import type { Logger } from '@memmesh/telemetry';
import type { Context, Hono } from 'hono';

export const MCP_PATH = '/mcp';
/** A JSON-RPC request around the largest tool argument (a memory: one write body). */
export const MCP_BODY_BYTES_MAX = 2 * LIMITS.bodyBytesMax;

export interface McpRouteOptions {
  /** Authenticates the request (401/403/429) and takes one from the tenant's limit. */
  tenantOf: (c: Context, scope: 'read') => Promise<string>;
  log: Logger;
}

export function mountMcp(app: Hono, { tenantOf, log }: McpRouteOptions): void {
  const mcp = createMcpHttp({
    clientFor: (apiKey) => inProcessClient((request) => app.fetch(request), apiKey),
    bodyBytesMax: MCP_BODY_BYTES_MAX,
    onError: (err) => log.warn('mcp request failed', { err }),
  });
  app.all(MCP_PATH, async (c) => {
    await tenantOf(c, 'read');
    const key = bearerKeyOf(c.req.header('authorization'));
    if (key === undefined) throw missingBearer();
    return mcp.fetch(c.req.raw, key);
  });
}
