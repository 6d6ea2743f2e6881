/**
 * @module @memmesh/mcp
 * The memmesh MCP server: tools that call the API through @memmesh/client, served over
 * stateless Streamable HTTP (`/mcp` on the gateway and on region agents) or stdio (`memmesh mcp`).
 */
export { FORGET_COUNT_DOCS_MAX, FORGET_SAMPLE_IDS_MAX } from './forget.ts';
export { createMcpHttp, inProcessClient, type McpHttp, type McpHttpOptions } from './http.ts';
export { MCP_BODY_BYTES_MAX, MCP_PATH, type McpMountOptions, mountMcp } from './mount.ts';
export { createMcpServer, MCP_SERVER_INFO, TOOL_NAMES } from './tools.ts';
