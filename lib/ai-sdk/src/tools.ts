/**
 * @module tools
 * memmesh as Vercel AI SDK tools (`ai`'s `tool()`): `remember` stores a memory and `recall`
 * searches, each through @memmesh/client, so that a model given these tools keeps and finds
 * memory in a few lines. A scope given here is applied to every call (the model cannot write
 * into another user's memory by naming it). Errors surface as the client's MeshError, which
 * the SDK reports to the model as the tool's error.
 */
import type { MemmeshClient, Scope } from '@memmesh/client';
import { tool } from 'ai';
import { z } from 'zod';

export interface MemoryToolsOptions {
  client: MemmeshClient;
  /** Whose memory: every write is stored under it and every search filtered by it. */
  scope?: Scope;
  /** Memories a recall answers, 1 to 50. */
  topK?: number;
}

export const DEFAULT_RECALL_TOP_K = 5;

export function memmeshTools({ client, scope, topK = DEFAULT_RECALL_TOP_K }: MemoryToolsOptions) {
  return {
    remember: tool({
      description:
        'Store something worth remembering for later conversations (a fact, a preference, a decision).',
      inputSchema: z.object({ text: z.string().describe('What to remember, as a self-contained sentence.') }),
      execute: async ({ text }) => {
        const { id, version } = await client.add({ text, ...(scope ? { scope } : {}) });
        return { id, version };
      },
    }),
    recall: tool({
      description: 'Search stored memories by meaning; answers the closest ones with their scores.',
      inputSchema: z.object({ query: z.string().describe('What to look for, in natural language.') }),
      execute: async ({ query }) => {
        const { results } = await client.search({ query, topK, ...(scope ? { filter: { scope } } : {}) });
        return { memories: results.map(({ id, text, score, metadata }) => ({ id, text, score, metadata })) };
      },
    }),
  };
}
