/**
 * @module @memmesh/mcp
 * The memmesh MCP server: tools that call the API through @memmesh/client, served over
 * stateless Streamable HTTP (the gateway's /mcp) or stdio (`memmesh mcp`).
 */
export { createMcpHttp, inProcessClient, type McpHttp, type McpHttpOptions } from './http.ts';
export { createMcpServer, MCP_SERVER_INFO, TOOL_NAMES } from './tools.ts';
