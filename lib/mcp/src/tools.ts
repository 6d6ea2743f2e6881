/**
 * @module tools
 * The memmesh MCP server: the API's tenant operations as MCP tools, each calling the same
 * operation through `@memmesh/client` — over HTTP for `memmesh mcp` (stdio), and through the
 * gateway's own app for its `/mcp` — so there is no second implementation of any of them.
 * Output schemas are the API's answer schemas (lib/core). Input schemas give the shape and
 * types; the limits and refinements (empty text, sizes, id syntax, topK bounds) are left to
 * the API, the one place that checks them, so that a bad argument comes back as a tool error
 * with the API's stable code (`bad_request`) and message. An API error is always a tool error
 * (`isError`), never a protocol error or a crash. Erasure by scope: forget.ts.
 */
import { isMeshError, type MemmeshClient } from '@memmesh/client';
import {
  MemoryHistorySchema,
  MemoryListSchema,
  MemorySchema,
  SearchResponseSchema,
  WriteResultSchema,
} from '@memmesh/core';
import { type CallToolResult, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { registerForgetTools } from './forget.ts';

export const MCP_SERVER_INFO = { name: 'memmesh', version: '0.1.0' } as const;

/** The tools, by name. */
export const TOOL_NAMES = [
  'add_memory',
  'search_memories',
  'get_memory',
  'update_memory',
  'delete_memory',
  'list_memories',
  'memory_history',
  'forget_memories',
  'get_erasure',
] as const;

const id = z.string().describe('The memory id (letters, digits and ._:@/+=-, at most 256 characters).');
const metadata = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
  .describe('Scalar values, filtered by equality.');
const scope = z
  .object({ agentId: z.string().optional(), userId: z.string().optional(), sessionId: z.string().optional() })
  .describe('Whose memory it is: an agent, a user, a session.');
const wait = z.boolean().optional().describe('Answer once the home index applied the write.');

const AddInput = z.object({
  text: z.string().describe('What to remember (at most 16 KiB).'),
  id: id.optional().describe('An id of your own; one is generated when absent.'),
  metadata: metadata.optional(),
  scope: scope.optional(),
  ttlSeconds: z.number().int().optional().describe('Forget it this many seconds after the write.'),
  wait,
});
const UpdateInput = AddInput.extend({
  id,
  ifVersion: z
    .number()
    .int()
    .optional()
    .describe('Update only if this is the current version (0: must not exist).'),
});
const SearchInput = z.object({
  query: z.string().describe('What to look for, in natural language.'),
  topK: z.number().int().optional().describe('Results, 1 to 50 (10 when absent).'),
  filters: z.object({ metadata: metadata.optional(), scope: scope.optional() }).optional(),
  minVersion: z.number().int().optional().describe('Answer only from state that includes this version.'),
});
const IdInput = z.object({ id });
const DeleteInput = z.object({ id, ifVersion: z.number().int().optional(), wait });
const ListInput = z.object({
  userId: z.string().optional(),
  agentId: z.string().optional(),
  sessionId: z.string().optional(),
  metadata: metadata.optional(),
  cursor: z.string().optional().describe('The previous page’s nextCursor.'),
  limit: z.number().int().optional().describe('Memories per page, 1 to 100 (20 when absent).'),
});

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false };
/** An update replaces the memory's text; a delete removes it: both destroy what was there. */
const DESTRUCTIVE = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: true,
  openWorldHint: false,
};

/** A tool's answer: the API's JSON as structured content, and as text for clients that read only text. */
async function answer(call: () => Promise<object>): Promise<CallToolResult> {
  try {
    const value = (await call()) as Record<string, unknown>;
    return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
  } catch (err) {
    if (!isMeshError(err)) throw err;
    const error = { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
    return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error }) }] };
  }
}

const writeOptions = (wait: boolean | undefined) => (wait ? { wait } : {});

/** A new MCP server whose tools call `client`; one per HTTP request or stdio connection. */
export function createMcpServer(client: MemmeshClient): McpServer {
  const server = new McpServer(MCP_SERVER_INFO, { capabilities: { tools: {} } });
  registerWriteTools(server, client);
  registerReadTools(server, client);
  registerForgetTools(server, client, answer);
  return server;
}

function registerWriteTools(server: McpServer, client: MemmeshClient): void {
  server.registerTool(
    'add_memory',
    {
      title: 'Add a memory',
      description: 'Store a memory for later recall; answers its id and version.',
      inputSchema: AddInput,
      outputSchema: WriteResultSchema,
      annotations: { title: 'Add a memory', ...WRITE },
    },
    ({ wait, ...input }) => answer(() => client.add(input, writeOptions(wait))),
  );
  server.registerTool(
    'update_memory',
    {
      title: 'Update a memory',
      description:
        'Replace the text (and metadata, scope) of the memory with this id; ifVersion guards against lost updates.',
      inputSchema: UpdateInput,
      outputSchema: WriteResultSchema,
      annotations: { title: 'Update a memory', ...DESTRUCTIVE },
    },
    ({ wait, ...input }) => answer(() => client.add(input, writeOptions(wait))),
  );
  server.registerTool(
    'delete_memory',
    {
      title: 'Delete a memory',
      description: 'Delete the memory with this id (ifVersion: only if it is still that version).',
      inputSchema: DeleteInput,
      outputSchema: WriteResultSchema,
      annotations: { title: 'Delete a memory', ...DESTRUCTIVE },
    },
    ({ id, ifVersion, wait }) =>
      answer(() =>
        client.delete(id, { ...writeOptions(wait), ...(ifVersion === undefined ? {} : { ifVersion }) }),
      ),
  );
}

function registerReadTools(server: McpServer, client: MemmeshClient): void {
  server.registerTool(
    'search_memories',
    {
      title: 'Search memories',
      description:
        'Find the memories closest in meaning to a query, with optional metadata and scope filters.',
      inputSchema: SearchInput,
      outputSchema: SearchResponseSchema,
      annotations: { title: 'Search memories', ...READ },
    },
    ({ filters, ...input }) =>
      answer(() => client.search({ ...input, ...(filters ? { filter: filters } : {}) })),
  );
  server.registerTool(
    'get_memory',
    {
      title: 'Get a memory',
      description: 'Read the memory with this id: its newest version.',
      inputSchema: IdInput,
      outputSchema: MemorySchema,
      annotations: { title: 'Get a memory', ...READ },
    },
    ({ id }) => answer(() => client.get(id)),
  );
  server.registerTool(
    'list_memories',
    {
      title: 'List memories',
      description:
        'A page of memories, newest first, by scope and metadata; pass nextCursor for the next page.',
      inputSchema: ListInput,
      outputSchema: MemoryListSchema,
      annotations: { title: 'List memories', ...READ },
    },
    (params) => answer(() => client.list(params)),
  );
  server.registerTool(
    'memory_history',
    {
      title: 'Memory history',
      description: 'The versions of a memory that the log still holds, newest first.',
      inputSchema: IdInput,
      outputSchema: MemoryHistorySchema,
      annotations: { title: 'Memory history', ...READ },
    },
    ({ id }) => answer(() => client.history(id)),
  );
}
