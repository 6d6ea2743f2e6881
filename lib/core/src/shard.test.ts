import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jumpHash, SHARD_COUNT_MAX, shardIndexOf, shardName, shardNames, shardOf } from './shard.ts';

const MASK_64 = (1n << 64n) - 1n;
const LCG_MULTIPLIER = 2862933555777941757n;

/**
 * Lamping & Veach's jump consistent hash, written from the paper's description and independent of
 * shard.ts: all integer arithmetic, j = floor((b + 1) * 2^31 / ((k >> 33) + 1)), no floating point.
 */
function referenceJump(key: bigint, buckets: number): number {
  const n = BigInt(buckets);
  let k = key & MASK_64;
  let b = -1n;
  let j = 0n;
  while (j < n) {
    b = j;
    k = (k * LCG_MULTIPLIER + 1n) & MASK_64;
    j = ((b + 1n) << 31n) / ((k >> 33n) + 1n);
  }
  return Number(b);
}

/** The paper's C++ listing, double rounding included: `(b + 1) * (double(1LL << 31) / double((k >> 33) + 1))`. */
function paperListingJump(key: bigint, buckets: number): number {
  let k = key & MASK_64;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * LCG_MULTIPLIER + 1n) & MASK_64;
    j = Math.floor((b + 1) * (2 ** 31 / Number((k >> 33n) + 1n)));
  }
  return b;
}

/** Deterministic, well-spread 64-bit keys: the first 8 bytes of sha256("key-i"). */
function testKeys(count: number): bigint[] {
  return Array.from({ length: count }, (_, i) =>
    createHash('sha256').update(`key-${i}`).digest().readBigUInt64BE(0),
  );
}

/** Pearson's chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

describe('jumpHash', () => {
  it('jumpHash - matches the published test vectors of the jump hash implementations', () => {
    // The vectors that the C++, Go, Rust, Python and Elixir ports of the paper share.
    const vectors: [key: bigint, buckets: number, bucket: number][] = [
      [0n, 1, 0],
      [1n, 1, 0],
      [3n, 1, 0],
      [0n, 2, 0],
      [4n, 2, 1],
      [7n, 2, 0],
      [42n, 57, 43],
      [1n, 128, 55],
      [129n, 128, 120],
      [256n, 1024, 520],
      [0xdead10ccn, 1, 0],
      [0xdead10ccn, 666, 361],
      [MASK_64, 128, 92],
      [128n, 100_000_000, 38_172_097],
      [128n, 2 ** 31, 1_644_467_860],
    ];
    for (const [key, buckets, bucket] of vectors)
      expect(jumpHash(key, buckets), `${key}/${buckets}`).toBe(bucket);
  });

  it('jumpHash - agrees with an independent integer reference on chosen and hashed keys', () => {
    const chosen = [0n, 1n, 0xdeadbeefn, 2n ** 63n, 2n ** 63n + 12_345n, MASK_64];
    for (const key of [...chosen, ...testKeys(1_000)]) {
      for (const buckets of [1, 2, 3, 10, 64, 1000, 65_536]) {
        expect(jumpHash(key, buckets), `${key}/${buckets}`).toBe(referenceJump(key, buckets));
      }
    }
  });

  it('jumpHash - key 0 always lands on bucket 0', () => {
    // The first step gives k = 1, so j = 2^31 / 1: bucket 0 for every count up to 2^31.
    for (const buckets of [1, 2, 10, 64, 1000, 1_000_000, 2 ** 31]) expect(jumpHash(0n, buckets)).toBe(0);
  });

  it('jumpHash - keys are taken modulo 2^64, so negative keys wrap like unsigned ones', () => {
    expect(jumpHash(-1n, 128)).toBe(jumpHash(MASK_64, 128));
    expect(jumpHash(-42n, 57)).toBe(8); // The Python port's vector for a negative key.
    expect(jumpHash(2n ** 64n + 42n, 57)).toBe(43);
    // A 160-bit key (sha1("abc")) reduced to its low 64 bits, another published vector.
    expect(jumpHash(0xa9993e364706816aba3e25717850c26c9cd0d89dn, 5)).toBe(2);
  });

  it('jumpHash - divides exactly where the paper listing rounds down (placement pinned)', () => {
    // This key was found by running the generator backwards: after its first step b = 48, and its
    // second state gives (k >> 33) + 1 = 49/64 * 2^31 exactly, so j = 49 * 2^31 / x = 64 exactly.
    // The paper's double arithmetic computes 63.99… and keeps jumping; shard.ts (like Guava)
    // stops. Such keys are about one in 2^31 per step; they are pinned so that a "fix" never
    // silently moves stored documents to another shard.
    const key = 0x82158196bce5b675n;
    const k1 = (key * LCG_MULTIPLIER + 1n) & MASK_64;
    const k2 = (k1 * LCG_MULTIPLIER + 1n) & MASK_64;
    expect((1n << 31n) / ((k1 >> 33n) + 1n)).toBe(48n);
    expect((k2 >> 33n) + 1n).toBe((49n << 31n) / 64n);
    expect(jumpHash(key, 64)).toBe(48);
    expect(referenceJump(key, 64)).toBe(48);
    expect(paperListingJump(key, 64)).toBe(63);
    // Both remain consistent hashes: growing to 65 moves the key to the new bucket 64.
    expect(jumpHash(key, 65)).toBe(64);
  });

  it('jumpHash - always returns an integer in [0, buckets) (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MASK_64 }), fc.integer({ min: 1, max: 1_000_000 }), (key, n) => {
        const bucket = jumpHash(key, n);
        expect(Number.isInteger(bucket)).toBe(true);
        expect(bucket).toBeGreaterThanOrEqual(0);
        expect(bucket).toBeLessThan(n);
        expect(bucket).toBe(referenceJump(key, n));
      }),
      { numRuns: 500 },
    );
  });

  it('jumpHash - growing n to n+1 moves only keys onto bucket n, about 1/(n+1) of them', () => {
    const keys = testKeys(20_000);
    for (const n of [1, 3, 10, 63]) {
      let moved = 0;
      for (const key of keys) {
        const before = jumpHash(key, n);
        const after = jumpHash(key, n + 1);
        if (before !== after) {
          expect(after).toBe(n);
          moved++;
        }
      }
      // Moves are Binomial(20 000, 1/(n+1)); five standard deviations never fail by chance.
      const p = 1 / (n + 1);
      const mean = keys.length * p;
      const sd = Math.sqrt(keys.length * p * (1 - p));
      expect(Math.abs(moved - mean), `n=${n} moved=${moved}`).toBeLessThan(5 * sd);
    }
  });

  it('jumpHash - a key only ever moves to the newest bucket as buckets grow from 1 to 64', () => {
    for (const key of testKeys(1_000)) {
      let previous = jumpHash(key, 1);
      for (let n = 2; n <= SHARD_COUNT_MAX; n++) {
        const current = jumpHash(key, n);
        if (current !== previous) expect(current).toBe(n - 1);
        previous = current;
      }
    }
  });

  it('jumpHash - buckets below 1 or not integers throw a RangeError', () => {
    for (const buckets of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => jumpHash(1n, buckets)).toThrow(RangeError);
    }
  });
});

describe('shardOf', () => {
  it('shardOf - hashes sha256(tenant/docId) with jump hashing, deterministically', () => {
    for (const [tenant, docId] of [
      ['acme', 'doc-1'],
      ['globex', 'notes/2024-05-01.md'],
    ] as const) {
      const key = createHash('sha256').update(`${tenant}/${docId}`).digest().readBigUInt64BE(0);
      for (const count of [1, 4, 16, SHARD_COUNT_MAX]) {
        const index = shardIndexOf(tenant, docId, count);
        expect(index).toBe(referenceJump(key, count));
        expect(shardIndexOf(tenant, docId, count)).toBe(index);
        expect(shardOf(tenant, docId, count)).toBe(shardName(index));
      }
    }
  });

  it('shardOf - the same id of two tenants is placed independently', () => {
    let differ = 0;
    for (let i = 0; i < 1_000; i++)
      if (shardIndexOf('acme', `d${i}`, 8) !== shardIndexOf('globex', `d${i}`, 8)) differ++;
    // Independent placements agree 1/8 of the time.
    expect(differ).toBeGreaterThan(800);
    expect(differ).toBeLessThan(950);
  });

  it('shardOf - documents spread evenly over the shards (chi-square)', () => {
    // Critical values of chi-square at p = 0.001: 24.32 for 7 degrees of freedom, 103.4 for 63.
    for (const [count, critical] of [
      [8, 24.32],
      [SHARD_COUNT_MAX, 103.4],
    ] as const) {
      const counts = new Array<number>(count).fill(0);
      for (let i = 0; i < 32_000; i++) counts[shardIndexOf('acme', `doc-${i}`, count)]! += 1;
      expect(counts.every((c) => c > 0)).toBe(true);
      expect(chiSquare(counts), `${count} shards: ${counts.join(',')}`).toBeLessThan(critical);
    }
  });
});

describe('shardName', () => {
  it('shardName - pads to two digits from s00 to s63', () => {
    expect(shardName(0)).toBe('s00');
    expect(shardName(7)).toBe('s07');
    expect(shardName(10)).toBe('s10');
    expect(shardName(SHARD_COUNT_MAX - 1)).toBe('s63');
  });

  it('shardName - indexes outside [0, SHARD_COUNT_MAX) or not integers throw a RangeError', () => {
    for (const index of [-1, SHARD_COUNT_MAX, 100, 1.5, Number.NaN]) {
      expect(() => shardName(index)).toThrow(RangeError);
    }
  });

  it('shardNames - lists every shard of a region in order, and no more than the maximum', () => {
    expect(shardNames(1)).toEqual(['s00']);
    expect(shardNames(4)).toEqual(['s00', 's01', 's02', 's03']);
    const all = shardNames(SHARD_COUNT_MAX);
    expect(all).toHaveLength(SHARD_COUNT_MAX);
    expect(new Set(all).size).toBe(SHARD_COUNT_MAX);
    expect(all.every((name) => /^s\d{2}$/.test(name))).toBe(true);
    expect(() => shardNames(SHARD_COUNT_MAX + 1)).toThrow(RangeError);
  });
});
