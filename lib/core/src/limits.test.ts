import { describe, expect, it } from 'vitest';
import { chunkText } from './chunk.ts';
import { LIMITS } from './limits.ts';
import { type SearchHit, SearchHitSchema, UpsertEventSchema } from './schemas.ts';

/** Bytes NATS headers of a reply may take (trace context, status); generous on purpose. */
const HEADER_BYTES_ALLOWANCE = 16 * 1024;

/** The largest hit the API can produce: every field at its limit, in plain ASCII. */
function worstHit(rank: number): SearchHit {
  const metadata: Record<string, string> = {};
  // Keys and values at their limits until the metadata byte limit is reached.
  for (let k = 0; k < LIMITS.metadataKeysMax; k++) {
    const candidate = { ...metadata, [`k${k}`.padEnd(LIMITS.labelLengthMax, 'k')]: 'v'.repeat(16) };
    if (Buffer.byteLength(JSON.stringify(candidate)) > LIMITS.metadataBytesMax) break;
    Object.assign(metadata, candidate);
  }
  const label = 'l'.repeat(LIMITS.labelLengthMax);
  return {
    id: `d${rank}`.padEnd(LIMITS.idLengthMax, 'x'),
    score: -0.123456789012345,
    text: 't'.repeat(LIMITS.textBytesMax),
    metadata,
    scope: { agentId: label, userId: label, sessionId: label },
    version: Number.MAX_SAFE_INTEGER,
  };
}

describe('limits', () => {
  it('limits - the worst shard reply (topKMax hits at every limit) fits the shard reply maximum', () => {
    const hits = Array.from({ length: LIMITS.topKMax }, (_, i) => worstHit(i));
    for (const hit of hits) expect(SearchHitSchema.safeParse(hit).success).toBe(true);
    const reply = JSON.stringify({ hits, appliedSeq: Number.MAX_SAFE_INTEGER, truncated: false });
    expect(Buffer.byteLength(reply)).toBeLessThanOrEqual(LIMITS.shardReplyBytesMax);
  });

  it('limits - a shard reply at its maximum, with headers, fits the NATS payload', () => {
    expect(LIMITS.shardReplyBytesMax + HEADER_BYTES_ALLOWANCE).toBeLessThanOrEqual(
      LIMITS.natsPayloadBytesMax,
    );
  });

  it('limits - chunks per document times the smallest chunk step covers the longest text', () => {
    // A UTF-16 string of textBytesMax UTF-8 bytes has at most textBytesMax code units.
    expect(LIMITS.chunksPerDocMax * LIMITS.chunkStrideCharsMin).toBeGreaterThanOrEqual(LIMITS.textBytesMax);
    // And the chunker keeps every chunk at its size at that step: no oversized remainder.
    const text = 'a'.repeat(LIMITS.textBytesMax);
    const spans = chunkText(text, {
      chunkChars: LIMITS.chunkStrideCharsMin,
      overlapChars: 0,
      chunksMax: LIMITS.chunksPerDocMax,
    });
    expect(spans.length).toBeLessThanOrEqual(LIMITS.chunksPerDocMax);
    for (const span of spans) expect(span.end - span.start).toBeLessThanOrEqual(LIMITS.chunkStrideCharsMin);
  });

  it('limits - events accept vectors up to dimensionsMax and no longer', () => {
    const event = (dim: number) => ({
      v: 1,
      type: 'upsert',
      tenant: 'acme',
      id: 'doc',
      text: 'hello',
      chunks: [{ start: 0, end: 5, vector: 'AAAA' }],
      metadata: {},
      scope: {},
      model: { id: 'm', dim },
      ts: 0,
      source: { region: 'us-east-1', agent: 'a' },
    });
    expect(UpsertEventSchema.safeParse(event(LIMITS.dimensionsMax)).success).toBe(true);
    expect(UpsertEventSchema.safeParse(event(LIMITS.dimensionsMax + 1)).success).toBe(false);
  });
});
