/**
 * The AI SDK tools with the real `ai` package (its tool()) against a live gateway and region
 * agent (real, locked-down nats-server): remember stores, recall finds, within the scope.
 */
import { createClient } from '@memmesh/client';
import { type LiveStack, startLiveStack } from '@memmesh/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memmeshTools } from '../src/index.ts';

let stack: LiveStack;
let url = '';

beforeAll(async () => {
  stack = await startLiveStack();
  url = stack.url;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** A tool's answer: these tools answer once (a promise), never a stream of partial results. */
async function answered<T>(result: T | PromiseLike<T> | AsyncIterable<T>): Promise<T> {
  const value = await result;
  if (value && typeof value === 'object' && Symbol.asyncIterator in value) throw new Error('streamed answer');
  return value as T;
}

describe('ai-sdk - tools', () => {
  it('ai-sdk - remember stores under the scope, recall finds it and nothing of another scope', async () => {
    const client = createClient({ url, apiKey: 'acme-dev-key' });
    const tools = memmeshTools({ client, scope: { userId: 'ai-user' } });
    const options = { toolCallId: 'call-1', messages: [], context: {} };
    const stored = await answered(
      tools.remember.execute({ text: 'Ann prefers window seats on night trains' }, options),
    );
    expect(stored.version).toBeGreaterThan(0);
    await memmeshTools({ client, scope: { userId: 'ai-other' } }).remember.execute(
      { text: 'Bob prefers window seats on night trains' },
      options,
    );
    const recalled = await answered(
      tools.recall.execute({ query: 'which seat does Ann like on trains?' }, options),
    );
    expect(recalled.memories.map((m) => m.id)).toEqual([stored.id]);
    expect(recalled.memories[0]?.text).toBe('Ann prefers window seats on night trains');
  });
});
