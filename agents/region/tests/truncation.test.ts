/**
 * A shard reply that would pass the NATS payload limit drops its lowest-ranked hits, and the
 * search response says so (`truncated: true`) instead of silently answering fewer hits: one
 * shard holding topKMax memories at the text limit, written in characters that JSON escaping
 * doubles, is the worst case the limits allow.
 */
import { LIMITS } from '@memmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  // One shard, so that every hit comes back in one reply.
  h = await startHarness({ shardCount: 1 });
});

afterAll(async () => {
  await h?.stop();
});

/** Memories at the text limit whose `"` characters take two bytes each in JSON. */
const heavyText = (i: number) => {
  const head = `heavy memory ${i} `;
  return head + '"'.repeat(LIMITS.textBytesMax - head.length);
};

describe('truncation', () => {
  it('truncation - a shard reply over the byte limit keeps its best hits and the response says truncated', async () => {
    const count = LIMITS.topKMax;
    // Batches small enough for the batch body limit, escaping included.
    const perBatch = Math.floor(LIMITS.batchBodyBytesMax / (2 * LIMITS.textBytesMax + 256));
    for (let at = 0; at < count; at += perBatch) {
      const memories = Array.from({ length: Math.min(perBatch, count - at) }, (_, k) => ({
        id: `heavy-${at + k}`,
        text: heavyText(at + k),
      }));
      const w = await h.call('POST', '/v1/memories/batch?wait=true', { memories });
      expect(w.status, JSON.stringify(w.body).slice(0, 300)).toBe(202);
    }
    const full = await h.call('POST', '/v1/search', { query: 'heavy memory', topK: count });
    expect(full.status).toBe(200);
    expect(full.body.truncated).toBe(true);
    expect(full.body.results.length).toBeGreaterThan(0);
    expect(full.body.results.length).toBeLessThan(count);
    // A small topK fits, and is not marked.
    const few = await h.call('POST', '/v1/search', { query: 'heavy memory', topK: 3 });
    expect(few.status).toBe(200);
    expect(few.body.results).toHaveLength(3);
    expect(few.body.truncated).toBeUndefined();
  });
});
