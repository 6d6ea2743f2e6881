import { isMeshError, type MeshError } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { createCostLimiter, createRateLimiter, takeAll } from './rate-limit.ts';

/** A clock the test moves by hand. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function thrown(call: () => void): MeshError {
  try {
    call();
  } catch (err) {
    if (isMeshError(err)) return err;
    throw err;
  }
  throw new Error('expected a MeshError');
}

describe('rate-limit', () => {
  it('rate-limit - requests: the burst at once, then the wait until the next token', () => {
    const c = clock();
    const limiter = createRateLimiter(2, 3, c.now);
    for (let i = 0; i < 3; i++) limiter.take('a');
    const err = thrown(() => limiter.take('a'));
    expect([err.code, err.retryAfterMs]).toEqual(['rate_limited', 500]);
    expect(err.message).toContain('2 requests per second');
    limiter.take('b');
    c.advance(500);
    limiter.take('a');
  });

  it('rate-limit - cost: Retry-After is when the bucket holds the whole cost, not the next unit', () => {
    const c = clock();
    const chars = createCostLimiter({
      perSecond: 1_000,
      burst: 10_000,
      unit: 'embedding characters',
      now: c.now,
    });
    chars.take('a', 9_000);
    // 1 000 left; 4 000 more are needed, at 1 000 per second.
    const err = thrown(() => chars.take('a', 5_000));
    expect([err.code, err.retryAfterMs]).toEqual(['rate_limited', 4_000]);
    c.advance(3_999);
    expect(chars.waitMs('a', 5_000)).toBe(1);
    c.advance(1);
    chars.take('a', 5_000);
  });

  it('rate-limit - cost: a request above the burst is refused as too large, never told to wait', () => {
    const chars = createCostLimiter({ perSecond: 1_000, burst: 10_000, unit: 'embedding characters' });
    const err = thrown(() => chars.take('a', 10_001));
    expect(err.code).toBe('payload_too_large');
    expect(err.message).toMatch(/costs 10001 embedding characters, more than the 10000/);
    // Nothing was spent.
    chars.take('a', 10_000);
  });

  it('rate-limit - takeAll spends every budget or none, and waits for the slowest', () => {
    const c = clock();
    const chars = createCostLimiter({ perSecond: 100, burst: 1_000, unit: 'characters', now: c.now });
    const chunks = createCostLimiter({ perSecond: 1, burst: 10, unit: 'chunks', now: c.now });
    takeAll('a', [
      { limiter: chars, cost: 100 },
      { limiter: chunks, cost: 10 },
    ]);
    const err = thrown(() =>
      takeAll('a', [
        { limiter: chars, cost: 200 },
        { limiter: chunks, cost: 3 },
      ]),
    );
    expect([err.code, err.retryAfterMs]).toEqual(['rate_limited', 3_000]);
    expect(err.message).toContain('chunks per second');
    // The refused request took no characters: 900 are left.
    expect(chars.waitMs('a', 900)).toBe(0);
    expect(chars.waitMs('a', 901)).toBe(10);
  });

  it('rate-limit - options out of range are a programmer error', () => {
    expect(() => createCostLimiter({ perSecond: 0, burst: 1, unit: 'x' })).toThrow(RangeError);
    expect(() => createCostLimiter({ perSecond: 1, burst: 0, unit: 'x' })).toThrow(RangeError);
  });
});
