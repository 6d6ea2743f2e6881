/**
 * The LangChain.js retriever with the real @langchain/core against a live gateway and region
 * agent (real, locked-down nats-server): a stored memory comes back for a matching query.
 */
import { createClient } from '@memmesh/client';
import { type LiveStack, startLiveStack } from '@memmesh/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemmeshRetriever } from '../src/index.ts';

let stack: LiveStack;
let url = '';

beforeAll(async () => {
  stack = await startLiveStack();
  url = stack.url;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('langchain - retriever', () => {
  it('langchain - invoke answers the stored memory as a Document, within its scope', async () => {
    const client = createClient({ url, apiKey: 'acme-dev-key' });
    await client.add({
      id: 'lc-1',
      text: 'Invoices are approved by the finance lead on Fridays',
      scope: { userId: 'lc' },
    });
    await client.add({ id: 'lc-2', text: 'Invoices of another user', scope: { userId: 'someone-else' } });
    const retriever = new MemmeshRetriever({ client, topK: 2, filter: { scope: { userId: 'lc' } } });
    const docs = await retriever.invoke('who approves invoices?');
    expect(docs.map((d) => d.metadata.id)).toEqual(['lc-1']);
    expect(docs[0]?.pageContent).toBe('Invoices are approved by the finance lead on Fridays');
    expect(docs[0]?.metadata.scope).toEqual({ userId: 'lc' });
  });
});
