import { LIMITS } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { createLocalEmbedder } from './local-embedder.ts';
import { MINILM_DIMENSIONS } from './minilm-embedder.ts';
import { createOpenAiEmbedder } from './openai-embedder.ts';

const openai = (dimensions: number) =>
  createOpenAiEmbedder({
    apiKey: 'k',
    model: 'text-embedding-3-small',
    dimensions,
    baseURL: 'http://127.0.0.1:9',
  });

describe('embedder limits', () => {
  // lib/core's limits.test.ts checks that events carry up to LIMITS.dimensionsMax and no more.
  it('limits - every embedder refuses more dimensions than an event may carry', () => {
    expect(() => createLocalEmbedder({ dimensions: LIMITS.dimensionsMax })).not.toThrow();
    expect(() => createLocalEmbedder({ dimensions: LIMITS.dimensionsMax + 1 })).toThrow(/dimensions/);
    expect(() => openai(LIMITS.dimensionsMax)).not.toThrow();
    // An OpenAI-compatible model of 8,192 dimensions used to be accepted and make unpublishable events.
    expect(() => openai(8_192)).toThrow(/dimensions/);
    expect(MINILM_DIMENSIONS).toBeLessThanOrEqual(LIMITS.dimensionsMax);
  });
});
