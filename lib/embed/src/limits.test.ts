import { LIMITS, UpsertEventSchema } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { createLocalEmbedder } from './local-embedder.ts';
import { MINILM_DIMENSIONS } from './minilm-embedder.ts';
import { createOpenAiEmbedder } from './openai-embedder.ts';

/** The largest dimension the event schema accepts, read from the schema itself. */
function schemaDimensionsMax(): number {
  const event = (dim: number) => ({
    v: 1,
    type: 'upsert',
    tenant: 'acme',
    id: 'doc',
    text: 'x',
    chunks: [{ start: 0, end: 1, vector: 'AAAA' }],
    metadata: {},
    scope: {},
    model: { id: 'm', dim },
    ts: 0,
    source: { region: 'us-east-1', agent: 'a' },
  });
  let dim = 1;
  while (UpsertEventSchema.safeParse(event(dim * 2)).success) dim *= 2;
  return dim;
}

const openai = (dimensions: number) =>
  createOpenAiEmbedder({
    apiKey: 'k',
    model: 'text-embedding-3-small',
    dimensions,
    baseURL: 'http://127.0.0.1:9',
  });

describe('embedder limits', () => {
  it('limits - every embedder refuses more dimensions than an event may carry', () => {
    expect(schemaDimensionsMax()).toBe(LIMITS.dimensionsMax);
    expect(() => createLocalEmbedder({ dimensions: LIMITS.dimensionsMax })).not.toThrow();
    expect(() => createLocalEmbedder({ dimensions: LIMITS.dimensionsMax + 1 })).toThrow(/dimensions/);
    expect(() => openai(LIMITS.dimensionsMax)).not.toThrow();
    // An OpenAI-compatible model of 8,192 dimensions used to be accepted and make unpublishable events.
    expect(() => openai(8_192)).toThrow(/dimensions/);
    expect(MINILM_DIMENSIONS).toBeLessThanOrEqual(LIMITS.dimensionsMax);
  });
});
