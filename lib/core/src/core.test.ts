import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  backoffDelayMs,
  chunkText,
  DOC_ID_PATTERN,
  decodeVector,
  docKeyOf,
  docSubject,
  ErrorCode,
  encodeVector,
  httpStatusOf,
  isMeshError,
  jumpHash,
  LIMITS,
  MemoryInputSchema,
  MeshError,
  newDocId,
  parseConfig,
  parseDocSubject,
  parsePairs,
  shardIndexOf,
  shardName,
  streamName,
  withRetry,
} from './index.ts';

/** Lamping & Veach's jump consistent hash, written independently from the paper's listing. */
function referenceJump(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  let k = key;
  while (j < BigInt(buckets)) {
    b = j;
    k = (k * 2862933555777941757n + 1n) % 2n ** 64n;
    j = BigInt(Math.floor(Number(b + 1n) * (2 ** 31 / Number((k >> 33n) + 1n))));
  }
  return Number(b);
}

describe('shard', () => {
  it('shard - jumpHash agrees with the reference algorithm', () => {
    for (const key of [0n, 1n, 0xdeadbeefn, 2n ** 63n + 12345n, 2n ** 64n - 1n]) {
      for (const buckets of [1, 2, 10, 64, 1000])
        expect(jumpHash(key, buckets)).toBe(referenceJump(key, buckets));
    }
    expect(jumpHash(0n, 1000)).toBe(0);
  });

  it('shard - growing n to n+1 moves only keys that land on the new shard, about 1/(n+1) of them', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `doc-${i}`);
    for (const n of [3, 7]) {
      let moved = 0;
      for (const id of keys) {
        const before = shardIndexOf('acme', id, n);
        const after = shardIndexOf('acme', id, n + 1);
        if (before !== after) {
          expect(after).toBe(n);
          moved++;
        }
      }
      expect(moved / keys.length).toBeGreaterThan(0.8 / (n + 1));
      expect(moved / keys.length).toBeLessThan(1.2 / (n + 1));
    }
  });

  it('shard - documents spread evenly over shards', () => {
    const counts = new Array(8).fill(0) as number[];
    for (let i = 0; i < 16_000; i++) counts[shardIndexOf('acme', `d${i}`, 8)]! += 1;
    for (const c of counts) expect(Math.abs(c - 2_000)).toBeLessThan(200);
  });

  it('shard - names are fixed-width and bounded', () => {
    expect(shardName(0)).toBe('s00');
    expect(shardName(63)).toBe('s63');
    expect(() => shardName(64)).toThrow(RangeError);
    expect(() => jumpHash(1n, 0)).toThrow(RangeError);
  });
});

describe('ids and subjects', () => {
  it('ids - docKey is 32 hex characters and depends on the tenant', () => {
    expect(docKeyOf('acme', 'a/b.c')).toMatch(/^[0-9a-f]{32}$/);
    expect(docKeyOf('acme', 'x')).not.toBe(docKeyOf('globex', 'x'));
    const ids = new Set(Array.from({ length: 1000 }, () => newDocId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(DOC_ID_PATTERN);
  });

  it('subjects - names and round trips', () => {
    expect(streamName('us-east-1')).toBe('MEM_US_EAST_1');
    const subject = docSubject('eu-central-1', 's03', 'acme', 'ab12');
    expect(parseDocSubject(subject)).toEqual({
      region: 'eu-central-1',
      shard: 's03',
      tenant: 'acme',
      docKey: 'ab12',
    });
    expect(parseDocSubject('q.us-east-1.s00')).toBeUndefined();
  });
});

describe('chunk', () => {
  it('chunk - spans cover the whole text, overlap boundedly and respect the size (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 3_000 }),
        fc.integer({ min: 50, max: 800 }),
        fc.integer({ min: 0, max: 49 }),
        (text, chunkChars, overlapChars) => {
          const spans = chunkText(text, { chunkChars, overlapChars, chunksMax: 64 });
          expect(spans[0]?.start).toBe(0);
          expect(spans.at(-1)?.end).toBe(text.length);
          for (let i = 1; i < spans.length; i++) {
            const [prev, cur] = [spans[i - 1]!, spans[i]!];
            expect(cur.start).toBeLessThanOrEqual(prev.end);
            expect(cur.start).toBeGreaterThan(prev.start);
            expect(prev.end - cur.start).toBeLessThanOrEqual(overlapChars);
          }
          for (const s of spans.slice(0, -1)) expect(s.end - s.start).toBeLessThanOrEqual(chunkChars);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('chunk - boundaries prefer whitespace and the last chunk takes the rest at chunksMax', () => {
    const text = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const spans = chunkText(text, { chunkChars: 100, overlapChars: 10, chunksMax: 64 });
    for (const s of spans.slice(0, -1)) expect(text[s.end]).toBe(' ');
    const capped = chunkText(text, { chunkChars: 100, overlapChars: 10, chunksMax: 3 });
    expect(capped).toHaveLength(3);
    expect(capped.at(-1)?.end).toBe(text.length);
  });
});

describe('vectors', () => {
  it('vectors - encode and decode round-trip bit-exactly and refuse bad input', () => {
    const v = new Float32Array([0.1, -2.5, 3e-8, 1]);
    expect(decodeVector(encodeVector(v), 4)).toEqual(v);
    expect(decodeVector(encodeVector(v), 3)).toBeUndefined();
    expect(decodeVector(encodeVector(new Float32Array([Number.NaN, 0])), 2)).toBeUndefined();
    // A vector that is a view into a larger buffer at an odd offset still encodes its own bytes.
    const inner = new Float32Array(new Float32Array([9, 1, 2, 9]).buffer, 4, 2);
    expect(decodeVector(encodeVector(inner), 2)).toEqual(new Float32Array([1, 2]));
  });
});

describe('schemas', () => {
  it('schemas - text limits count bytes, not characters', () => {
    const fourBytes = '😀'.repeat(LIMITS.textBytesMax / 4);
    expect(MemoryInputSchema.safeParse({ text: fourBytes }).success).toBe(true);
    expect(MemoryInputSchema.safeParse({ text: `${fourBytes}x` }).success).toBe(false);
    expect(MemoryInputSchema.safeParse({ text: 'ok', extra: 1 }).success).toBe(false);
  });
});

describe('config and errors', () => {
  it('config - the error names the field and its environment variable', () => {
    const schema = z.object({ port: z.number().int().max(65_535) });
    expect(() => parseConfig(schema, { port: 70_000 }, { port: 'MEMMESH_PORT' })).toThrow(
      /port \(MEMMESH_PORT\)/,
    );
    expect(parsePairs('a=1, b=2,')).toEqual({ a: '1', b: '2' });
    expect(() => parsePairs('novalue')).toThrow(MeshError);
  });

  it('errors - every code has a status and retryable codes are the operating ones', () => {
    for (const code of Object.values(ErrorCode)) expect(httpStatusOf[code]).toBeGreaterThanOrEqual(400);
    expect(new MeshError(ErrorCode.Unavailable, 'x').retryable).toBe(true);
    expect(new MeshError(ErrorCode.BadRequest, 'x').retryable).toBe(false);
    expect(isMeshError(new MeshError(ErrorCode.NotFound, 'x'), ErrorCode.NotFound)).toBe(true);
  });

  it('retry - backoff is capped and jittered; non-retryable errors are not retried', async () => {
    const policy = { attemptsMax: 4, initialDelayMs: 10, delayMsMax: 40, multiplier: 2 };
    expect(backoffDelayMs(policy, 1, () => 1)).toBe(10);
    expect(backoffDelayMs(policy, 10, () => 1)).toBe(40);
    expect(backoffDelayMs(policy, 10, () => 0)).toBe(20);
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error('transient');
        },
        { policy: { ...policy, initialDelayMs: 1, delayMsMax: 2 }, isRetryable: () => true },
      ),
    ).rejects.toThrow('transient');
    expect(calls).toBe(4);
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error('fatal');
        },
        { policy, isRetryable: () => false },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });
});
