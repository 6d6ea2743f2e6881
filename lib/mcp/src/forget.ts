/**
 * @module forget
 * `forget_memories` and `get_erasure`: erasure by scope (DESIGN §10) as MCP tools.
 *
 * An agent that erases the wrong scope cannot take it back, so the tool counts first: with
 * `dryRun` (the default) it answers how many memories the scope matches and a few of their
 * ids, and erases nothing; only `dryRun: false` sends the erase request (`DELETE
 * /v1/memories?…`, the route table's `eraseMemories`, through the client). The receipt of
 * the erasure is `get_erasure` (`GET /v1/erasures/{id}`).
 *
 * The count walks the list operation (`GET /v1/memories` with the same scope filter; the
 * list's scope filter and the erasure's match the same way: every id given must be equal)
 * rather than a dry-run mode of the erase route. That keeps the API as it is (no second
 * meaning for a DELETE, no walk of the tenant's whole log per question) and counts what the
 * tenant can see, which is what it is about to lose. It is bounded: at most
 * FORGET_COUNT_DOCS_MAX memories (a page of LIMITS.listLimitMax each, every page one request
 * against the tenant's rate limit); past that the answer says "at least". Expired memories
 * that the sweeper has not purged yet are not counted; the erasure takes them too.
 */
import type { MemmeshClient, Scope } from '@memmesh/client';
import { EraseScopeSchema, ErasureAcceptedSchema, ErasureReceiptSchema, LIMITS } from '@memmesh/core';
import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** Memories a dry run counts before it answers "at least": ten pages of the list. */
export const FORGET_COUNT_DOCS_MAX = 10 * LIMITS.listLimitMax;
/** Ids of matching memories a dry run shows, so that the agent (or its user) can check the scope. */
export const FORGET_SAMPLE_IDS_MAX = 10;

const scopeId = (what: string) => z.string().optional().describe(`Only memories of this ${what}.`);
const ForgetInput = z.object({
  userId: scopeId('user'),
  agentId: scopeId('agent'),
  sessionId: scopeId('session'),
  dryRun: z
    .boolean()
    .default(true)
    .describe('true (the default): only count what would be erased. false: erase it, for good.'),
});
const ForgetOutput = z.object({
  dryRun: z.boolean(),
  scope: z.object({
    userId: z.string().optional(),
    agentId: z.string().optional(),
    sessionId: z.string().optional(),
  }),
  /** Dry run: memories in scope (or at least this many, with matchedAtLeast). */
  matched: z.number().int().min(0).optional(),
  matchedAtLeast: z.boolean().optional(),
  sampleIds: z.array(z.string()).optional(),
  /** Not a dry run: the erasure, whose receipt get_erasure reads. */
  erasure: ErasureAcceptedSchema.optional(),
});
export type ForgetOutput = z.infer<typeof ForgetOutput>;

/** The memories `scope` matches, up to FORGET_COUNT_DOCS_MAX, through the list operation. */
export async function countInScope(client: MemmeshClient, scope: Scope): Promise<ForgetOutput> {
  let matched = 0;
  const sampleIds: string[] = [];
  for await (const page of client.pages({ ...scope, limit: LIMITS.listLimitMax })) {
    for (const memory of page.memories) {
      if (sampleIds.length < FORGET_SAMPLE_IDS_MAX) sampleIds.push(memory.id);
    }
    matched += page.memories.length;
    if (matched >= FORGET_COUNT_DOCS_MAX && page.nextCursor !== undefined) {
      return { dryRun: true, scope, matched, matchedAtLeast: true, sampleIds };
    }
  }
  return { dryRun: true, scope, matched, matchedAtLeast: false, sampleIds };
}

type Answer = (call: () => Promise<object>) => Promise<CallToolResult>;

/** The tool error of a scope without any id: the API's own rule (EraseScopeSchema) and code. */
function badScope(message: string): CallToolResult {
  const error = { code: 'bad_request', message };
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error }) }] };
}

export function registerForgetTools(server: McpServer, client: MemmeshClient, answer: Answer): void {
  server.registerTool(
    'forget_memories',
    {
      title: 'Forget memories',
      description:
        'Erase every memory of a user, agent or session (at least one id; all given must match), history included, from every region. By default a dry run: answers how many memories match and erases nothing; call again with dryRun false to erase. Erasing answers an erasure id; get_erasure reads its receipt.',
      inputSchema: ForgetInput,
      outputSchema: ForgetOutput,
      // Destructive, for good; the same scope again answers the same erasure.
      annotations: {
        title: 'Forget memories',
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async ({ dryRun, ...ids }) => {
      const parsed = EraseScopeSchema.safeParse(ids);
      if (!parsed.success || parsed.data.all) {
        return badScope(parsed.error?.issues[0]?.message ?? 'give userId, agentId or sessionId');
      }
      const scope: Scope = ids;
      if (dryRun) return answer(() => countInScope(client, scope));
      return answer(async () => ({ dryRun: false, scope, erasure: await client.erase(scope) }));
    },
  );
  server.registerTool(
    'get_erasure',
    {
      title: 'Get an erasure receipt',
      description:
        'The receipt of an erasure (forget_memories): its state, the documents erased, what each region and store removed and the service’s own verification. Counts and ids only.',
      inputSchema: z.object({ id: z.string().describe('The erasure id forget_memories answered.') }),
      outputSchema: ErasureReceiptSchema,
      annotations: {
        title: 'Get an erasure receipt',
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    ({ id }) => answer(() => client.erasure(id)),
  );
}
